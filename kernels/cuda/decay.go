package cuda

import (
	"fmt"

	"lab/kernels"
)

// The per-dimension decay scores of GLA and RWKV (kernels.DecayScores) and
// their gradients, lowered to the kernels of kernels/decay.cu.
func init() {
	opLowerers["decay_scores"] = lowerDecayScores
	opLowerers["decay_scores_grad_q"] = lowerDecayScoresGrad
	opLowerers["decay_scores_grad_k"] = lowerDecayScoresGrad
}

// decayTile is the tile edge of the decay kernels (DS_TILE in decay.cu);
// their blocks have decayThreads threads.
const (
	decayTile    = 32
	decayThreads = 256
)

// decayMaxGridZ is the largest grid z the driver takes: the tiled decay
// kernels put the N matrices there, so larger N is launched in groups.
const decayMaxGridZ = 65535

// decayShape reads [N, c, dk] from a decay op's q or k operand.
func decayShape(n *kernels.Node, operand int) (nb, c, dk int, err error) {
	s := n.In[operand].Shape
	if len(s) != 3 {
		return 0, 0, 0, fmt.Errorf("%s: operand of shape %v, want [N, c, dk]", n.Op.Name(), s)
	}
	return s[0], s[1], s[2], nil
}

func decayTiles(n int) int { return (n + decayTile - 1) / decayTile }

// decayGroups launches a tiled decay kernel over nb matrices in groups of
// at most decayMaxGridZ (the grid's z), each launch on slices of the
// buffers: bufs[i] holds per[i] floats per matrix; tail follows them.
func decayGroups(p *Program, name string, nb int, grid func(z int) Dim3, bufs []Buffer, per []int, tail ...any) (func() error, error) {
	var c chain
	for lo := 0; lo < nb; lo += decayMaxGridZ {
		hi := min(nb, lo+decayMaxGridZ)
		args := make([]any, 0, len(bufs)+len(tail))
		for i, b := range bufs {
			if int64(hi*per[i])*4 > b.Bytes {
				return nil, fmt.Errorf("%s: buffer of %d floats, want %d", name, b.Floats(), hi*per[i])
			}
			args = append(args, b.Slice(lo*per[i], hi*per[i]))
		}
		c.add(p.launcher(name, grid(hi-lo), Dim3{X: decayThreads}, append(args, tail...)...))
	}
	return c.done()
}

// lowerDecayScores: A [N, c, c] from q, k, bq, bk [N, c, dk], one block per
// 32 x 32 tile of each matrix (masked tiles only write their zeros).
func lowerDecayScores(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	nb, c, dk, err := decayShape(n, 0)
	if err != nil {
		return nil, err
	}
	strict := flag(kernels.Describe(n.Op).Bools["strict"])
	grid := func(z int) Dim3 { return Dim3{X: decayTiles(c), Y: decayTiles(c), Z: z} }
	return decayGroups(p, "decay_scores_fwd", nb, grid, []Buffer{in[0], in[1], in[2], in[3], y},
		[]int{c * dk, c * dk, c * dk, c * dk, c * c}, int32(c), int32(dk), strict)
}

// lowerDecayScoresGrad: dq or dk [N, c, dk] from dA [N, c, c] and k or q,
// bq, bk, one block per 32 rows and 32 key dims of each matrix; with one
// key dim, a warp per row (dq) or a thread per row (dk).
func lowerDecayScoresGrad(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	nb, c, dk, err := decayShape(n, 1)
	if err != nil {
		return nil, err
	}
	strict := flag(kernels.Describe(n.Op).Bools["strict"])
	if dk == 1 { // one key dim: rows of all matrices, not 32-dim tiles
		rows := int64(nb) * int64(c)
		if n.Op.Name() == "decay_scores_grad_q" { // a warp per row
			const warps = decayThreads / 32
			return p.launcher("decay_scores_grad1_q", Dim3{X: int((rows + warps - 1) / warps)}, Dim3{X: decayThreads},
				in[0], in[1], in[2], in[3], y, rows, int32(c), strict)
		}
		return p.ew("decay_scores_grad1_k", int(rows), in[0], in[1], in[2], in[3], y, rows, int32(c), strict)
	}
	grid := func(z int) Dim3 { return Dim3{X: decayTiles(dk), Y: decayTiles(c), Z: z} }
	return decayGroups(p, n.Op.Name(), nb, grid, []Buffer{in[0], in[1], in[2], in[3], y},
		[]int{c * c, c * dk, c * dk, c * dk, c * dk}, int32(c), int32(dk), strict)
}

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

// decayMaxGridZ is the largest grid z the driver takes: the decay kernels put
// the N matrices there.
const decayMaxGridZ = 65535

// decayShape reads [N, c, dk] from a decay op's q or k operand.
func decayShape(n *kernels.Node, operand int) (nb, c, dk int, err error) {
	s := n.In[operand].Shape
	if len(s) != 3 {
		return 0, 0, 0, fmt.Errorf("%s: operand of shape %v, want [N, c, dk]", n.Op.Name(), s)
	}
	if s[0] > decayMaxGridZ {
		return 0, 0, 0, fmt.Errorf("%s: %d matrices, the kernels take at most %d", n.Op.Name(), s[0], decayMaxGridZ)
	}
	return s[0], s[1], s[2], nil
}

func decayTiles(n int) int { return (n + decayTile - 1) / decayTile }

// lowerDecayScores: A [N, c, c] from q, k, bq, bk [N, c, dk], one block per
// 32 x 32 tile of each matrix (masked tiles only write their zeros).
func lowerDecayScores(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	nb, c, dk, err := decayShape(n, 0)
	if err != nil {
		return nil, err
	}
	strict := flag(kernels.Describe(n.Op).Bools["strict"])
	return p.launcher("decay_scores_fwd", Dim3{X: decayTiles(c), Y: decayTiles(c), Z: nb}, Dim3{X: decayThreads},
		in[0], in[1], in[2], in[3], y, int32(c), int32(dk), strict)
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
	return p.launcher(n.Op.Name(), Dim3{X: decayTiles(dk), Y: decayTiles(c), Z: nb}, Dim3{X: decayThreads},
		in[0], in[1], in[2], in[3], y, int32(c), int32(dk), strict)
}

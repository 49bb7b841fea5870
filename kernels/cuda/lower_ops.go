package cuda

import (
	"fmt"

	"lab/kernels"
)

// lowerMatMul maps matmul to one cuBLAS GEMM, strided-batched over the
// leading dims when the operands have rank > 2.
func (p *Program) lowerMatMul(n *kernels.Node, a kernels.Attrs, y Buffer, in []Buffer) (func() error, error) {
	A, B := n.In[0].Shape, n.In[1].Shape
	rk := len(A)
	if len(B) != rk || rk < 2 {
		return nil, fmt.Errorf("matmul of ranks %d and %d", rk, len(B))
	}
	tA, tB := a.Bools["trans_a"], a.Bools["trans_b"]
	batch := numel(A[:rk-2])
	m, nn := n.Shape[rk-2], n.Shape[rk-1]
	k := A[rk-1]
	if tA {
		k = A[rk-2]
	}
	lda, ldb := A[rk-1], B[rk-1]
	sa, sb, sc := int64(A[rk-2]*A[rk-1]), int64(B[rk-2]*B[rk-1]), int64(m*nn)
	return p.gemm(gemmArgs{tA: tA, tB: tB, m: m, n: nn, k: k, alpha: 1, a: in[0], lda: lda, sa: sa,
		b: in[1], ldb: ldb, sb: sb, c: y, ldc: nn, sc: sc, batch: batch})
}

// bstrides gives, per dim of out, the stride of a tensor of shape in (0
// where in is broadcast).
func bstrides(in, out []int) []int64 {
	s := make([]int64, len(in))
	acc := int64(1)
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 || out[i] == 1 {
			s[i] = acc
		}
		acc *= int64(in[i])
	}
	return s
}

// lowerBroadcast maps badd, bsub and bmul to one kernel.
func (p *Program) lowerBroadcast(n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	op := map[string]int32{"badd": 0, "bsub": 1, "bmul": 2}[n.Op.Name()]
	v := int64s(n.Shape)
	v = append(v, bstrides(n.In[0].Shape, n.Shape)...)
	v = append(v, bstrides(n.In[1].Shape, n.Shape)...)
	meta := p.addMeta(v...)
	f, err := p.k.Function("bcast_binary")
	if err != nil {
		return nil, err
	}
	size, rank, grid := n.Len(), int32(len(n.Shape)), p.k.ewGrid(int64(n.Len()))
	return func() error {
		return f.Launch(p.s, grid, Dim3{X: ewBlock}, 0, in[0], in[1], y, int64(size), rank, meta(), op)
	}, nil
}

// dimRun is a run of adjacent input dims of a sum_to that are all reduced
// or all kept, merged into one (dims of size 1 are dropped).
type dimRun struct {
	size    int
	reduced bool
}

// sumToRuns collapses sum_to's input shape in to runs against out.
func sumToRuns(in, out []int) []dimRun {
	var r []dimRun
	for d, s := range in {
		if s == 1 {
			continue
		}
		red := out[d] == 1
		if k := len(r) - 1; k >= 0 && r[k].reduced == red {
			r[k].size *= s
			continue
		}
		r = append(r, dimRun{s, red})
	}
	return r
}

// sumTailThread is the row length below which sumLast gives each row one
// thread instead of a warp.
const sumTailThread = 32

// sumLast sums the rows of x [rows, cols] into y [rows]: a thread per row
// when rows are short, else sum_last's warp or block per row.
func (p *Program) sumLast(y, x Buffer, rows, cols int) (func() error, error) {
	if cols < sumTailThread {
		return p.ew("sum_last_thread", rows, x, y, int64(rows), int32(cols))
	}
	return p.rows("sum_last", rows, cols, x, y, int64(rows), int32(cols))
}

// lowerSumTo maps sum_to (the gradient of broadcasting) to kernels. The
// reduced and kept dims are merged into runs first; the common layouts go
// to the row and column sums:
//
//   - [R, K] → [K] (a bias over every token): column sums;
//   - [K, R] → [K]: row sums;
//   - [R1, K, R2] → [K] (a per-channel parameter broadcast over batch and
//     time): row sums into a scratch [R1, K], then its column sums;
//   - [R] → [] (everything into one value): as [R/C, C] with C the last
//     dim, column sums then one row sum;
//
// and any other layout to one generic kernel walking each output's
// reduced indices in the CPU's order.
func (p *Program) lowerSumTo(n *kernels.Node, y, x Buffer) (func() error, error) {
	in, out := n.In[0].Shape, n.Shape
	runs := sumToRuns(in, out)
	var pat string
	for _, r := range runs {
		pat += map[bool]string{true: "R", false: "K"}[r.reduced]
	}
	switch pat {
	case "RK":
		return p.colSums(y, x, Buffer{}, runs[0].size, runs[1].size)
	case "KR":
		return p.sumLast(y, x, runs[0].size, runs[1].size)
	case "RKR":
		r1, k, r2 := runs[0].size, runs[1].size, runs[2].size
		tmp, err := p.alloc(r1 * k)
		if err != nil {
			return nil, err
		}
		var c chain
		c.add(p.sumLast(tmp, x, r1*k, r2))
		c.add(p.colSums(y, tmp, Buffer{}, r1, k))
		return c.done()
	case "R":
		if c := lastDim(in); c >= sumTailThread && c < runs[0].size {
			tmp, err := p.alloc(c)
			if err != nil {
				return nil, err
			}
			var ch chain
			ch.add(p.colSums(tmp, x, Buffer{}, runs[0].size/c, c))
			ch.add(p.sumLast(y, tmp, 1, c))
			return ch.done()
		}
	}
	return p.lowerSumToWalk(n, y, x)
}

// lowerSumToWalk is sum_to's generic kernel: one thread per output (or per
// chunk of a long sum) walking the reduced indices.
func (p *Program) lowerSumToWalk(n *kernels.Node, y, x Buffer) (func() error, error) {
	in, out := n.In[0].Shape, n.Shape
	sx := make([]int64, len(in))
	acc := int64(1)
	for i := len(in) - 1; i >= 0; i-- {
		sx[i] = acc
		acc *= int64(in[i])
	}
	var rs, rstr []int64
	nred := int64(1)
	for d := range in {
		if out[d] == 1 && in[d] != 1 {
			rs, rstr = append(rs, int64(in[d])), append(rstr, sx[d])
			nred *= int64(in[d])
		}
	}
	v := append(int64s(out), sx...)
	v = append(append(v, rs...), rstr...)
	meta := p.addMeta(v...)
	size, rank, rrank := int64(n.Len()), int32(len(out)), int32(len(rs))
	// Few outputs, long sums (a bias's gradient over every token): one
	// thread per output would run serially for milliseconds, so the sums
	// are cut into P chunks added afterwards.
	P := sumToParts(size, nred)
	chunk := (nred + int64(P) - 1) / int64(P)
	P = int((nred + chunk - 1) / chunk)
	part := y
	if P > 1 {
		var err error
		if part, err = p.alloc(int(size) * P); err != nil {
			return nil, err
		}
	}
	f, err := p.k.Function("sum_to")
	if err != nil {
		return nil, err
	}
	grid := p.k.ewGrid(size * int64(P))
	var c chain
	c.add(func() error {
		return f.Launch(p.s, grid, Dim3{X: ewBlock}, 0, x, part, size, rank, rrank, nred, chunk, int32(P), meta())
	}, nil)
	if P > 1 {
		c.add(p.ew("sum_parts", int(size), part, y, int32(P), size))
	}
	return c.done()
}

// sumToParts is how many chunks sum_to cuts each output's reduction into:
// enough threads to fill the GPU (about 64K) with chunks of at least 512
// elements; 1 keeps one thread per output.
func sumToParts(outputs, nred int64) int {
	if outputs >= 1<<16 || nred < 2048 {
		return 1
	}
	P := min((1<<16+outputs-1)/outputs, nred/512, 4096)
	return int(max(P, 1))
}

// colSums sums the rows of x [rows, C] into y [C]; with b (not the zero
// Buffer) it sums the products x·b (sum_rows of a mul).
func (p *Program) colSums(y, x, b Buffer, rows, C int) (func() error, error) {
	return p.columnSums(y, rows, C, 1, "colsum_part", []any{x, b}, Buffer{})
}

// colSums2 is colSums of x into y and of the products x·b into yb, in one
// launch (a norm's bias and gain gradients).
func (p *Program) colSums2(y, yb, x, b Buffer, rows, C int) (func() error, error) {
	return p.columnSums(y, rows, C, 2, "colsum_part", []any{x, b}, yb)
}

// columnSums launches kernel (colsum_part or conv_grad_w_part) over a
// [rows, C] input cut into P chunks of rows, K outputs per column; the last
// block of each column group to finish sums the P partial results in order
// (finish_columns in reduce.cu): one launch. The chunk count aims at about
// four blocks per SM.
func (p *Program) columnSums(y Buffer, rows, C, K int, kernel string, pre []any, post ...any) (func() error, error) {
	colBlocks := (C + 31) / 32
	P := (4*max(1, p.d.Info.SMs) + colBlocks*K - 1) / (colBlocks * K)
	P = max(1, min(P, (rows+63)/64, 1024))
	chunk := (rows + P - 1) / P
	P = (rows + chunk - 1) / chunk
	part, count := y, Buffer{}
	if P > 1 {
		var err error
		if part, err = p.alloc(P * K * C); err != nil {
			return nil, err
		}
		// One ticket counter per column group, zero between launches (the
		// last block of a group sets it back).
		if count, err = p.alloc(colBlocks * K); err != nil {
			return nil, err
		}
		if err = p.d.Fill32(nil, count, 0); err != nil {
			return nil, err
		}
	}
	args := append(append(append([]any{}, pre...), part, int64(rows), int32(C), int64(chunk)), post...)
	args = append(args, y, count, int32(P))
	return p.launcher(kernel, Dim3{X: colBlocks, Y: P, Z: K}, Dim3{X: 32, Y: 8}, args...)
}

// lowerScatter maps scatter_add to a stable counting sort of the positions
// by row (ranks inside tiles of scatterTile positions, then the tiles'
// heads bucketed by row and put in position order) and an ordered sum per
// row; scatter.cu says why in two levels.
func (p *Program) lowerScatter(n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	R, C := n.Shape[0], n.Shape[1]
	k := n.In[1].Len()
	var bufs [11]Buffer
	for i, size := range []int{R, R, R, R, k, k, k, k, k, k, k} {
		var err error
		if bufs[i], err = p.alloc(size); err != nil {
			return nil, err
		}
	}
	cnt, start, hcnt, hstart := bufs[0], bufs[1], bufs[2], bufs[3]
	rank, head, tcnt, hslot, hlist, hsorted, off := bufs[4], bufs[5], bufs[6], bufs[7], bufs[8], bufs[9], bufs[10]
	sorted := hlist // hlist is read only by scatter_sort, before scatter_final writes the order
	dy, idx := in[0], in[1]
	tiles := (k + scatterTile - 1) / scatterTile
	var c chain
	c.add(func() error { return p.d.Fill32(p.s, cnt, 0) }, nil)
	c.add(func() error { return p.d.Fill32(p.s, hcnt, 0) }, nil)
	c.add(p.launcher("scatter_tile_rank", Dim3{X: tiles}, Dim3{X: scatterTile}, idx, int64(k), int32(R), rank, head, tcnt, cnt, hcnt, hslot, p.errBuf))
	c.add(p.launcher("scatter_scan", Dim3{X: 1}, Dim3{X: 1024}, cnt, start, int32(R)))
	c.add(p.launcher("scatter_scan", Dim3{X: 1}, Dim3{X: 1024}, hcnt, hstart, int32(R)))
	c.add(p.ew("scatter_place", k, idx, hslot, hstart, int64(k), hlist))
	c.add(p.launcher("scatter_sort", Dim3{X: R}, Dim3{X: 128}, hlist, hstart, hcnt, hsorted))
	c.add(p.launcher("scatter_head_prefix", Dim3{X: (R + 255) / 256}, Dim3{X: 256}, hsorted, hstart, hcnt, tcnt, off, int32(R)))
	c.add(p.ew("scatter_final", k, idx, rank, head, start, off, int64(k), sorted))
	c.add(p.launcher("scatter_sum", Dim3{X: R}, Dim3{X: min(256, (C+31)/32*32)}, dy, sorted, start, cnt, y, int32(C)))
	return c.done()
}

// scatterTile is SCATTER_TILE of scatter.cu: positions per tile of the
// first level of scatter_add's sort.
const scatterTile = 256

// copy2d is one strided block copy: dst[o*dstStride+dstOff+j] =
// src[o*srcStride+srcOff+j] for o < outer, j < w.
func (p *Program) copy2d(src, dst Buffer, outer, w, srcStride, srcOff, dstStride, dstOff int) (func() error, error) {
	return p.ew("copy2d", outer*w, src, dst, int64(outer), int64(w), int64(srcStride), int64(srcOff), int64(dstStride), int64(dstOff))
}

// lowerSlicePad maps slice to a strided copy, and pad to one pad2d pass
// (zeros and the copy together).
func (p *Program) lowerSlicePad(n *kernels.Node, a kernels.Attrs, y, x Buffer) (func() error, error) {
	ax, lo, pad := a.Ints["axis"], a.Ints["lo"], a.Bools["pad"]
	big, small := n.In[0].Shape, n.Shape
	if pad {
		big, small = small, big
	}
	outer, inner := numel(big[:ax]), numel(big[ax+1:])
	bigRow, smallRow, start := big[ax]*inner, small[ax]*inner, lo*inner
	if !pad {
		return p.copy2d(x, y, outer, smallRow, bigRow, start, smallRow, 0)
	}
	return p.ew("pad2d", outer*bigRow, x, y, int64(outer), int64(bigRow), int64(smallRow), int64(start))
}

// lowerConcat maps concat to one strided copy per input.
func (p *Program) lowerConcat(n *kernels.Node, a kernels.Attrs, y Buffer, in []Buffer) (func() error, error) {
	ax := a.Ints["axis"]
	outer, inner := numel(n.Shape[:ax]), numel(n.Shape[ax+1:])
	row := n.Shape[ax] * inner
	var c chain
	at := 0
	for i, x := range n.In {
		w := x.Shape[ax] * inner
		c.add(p.copy2d(in[i], y, outer, w, w, 0, row, at))
		at += w
	}
	return c.done()
}

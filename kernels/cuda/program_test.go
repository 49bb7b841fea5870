package cuda

import (
	"strconv"
	"strings"
	"testing"

	"lab/kernels"
)

// graphTol bounds |device-CPU| <= graphTol*(1+|CPU|) for every op of a
// compiled graph, GEMMs in plain float32 (TF32 off): the kernels compute
// the CPU's formulas, sums in another order (CPU float64 in places).
const graphTol = 1e-5

// opCases covers every op Compile maps (forward, and backward through
// Graph.Grad where the op has one).
var opCases = []graphCase{
	{name: "matmul", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		var out []*kernels.Node
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				sa, sb := []int{5, 7}, []int{7, 6}
				if tA {
					sa = []int{7, 5}
				}
				if tB {
					sb = []int{6, 7}
				}
				a, b := c.F(append([]int{3}, sa...)...), c.F(append([]int{3}, sb...)...)
				out = append(out, g.MatMul(a, b, tA, tB), g.MatMul(c.F(sa...), c.F(sb...), tA, tB))
			}
		}
		return append(out, g.MatMul(c.F(2, 3, 7), c.F(7, 6), false, false))
	}},
	{name: "add sub mul", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		a, b := c.F(4, 33), c.F(4, 33)
		return []*kernels.Node{g.Add(a, b), g.Sub(a, b), g.Mul(a, b)}
	}},
	{name: "broadcast sum_to", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		a, b := c.F(4, 1, 5), c.F(1, 3, 5)
		return []*kernels.Node{g.BAdd(a, b), g.BSub(a, b), g.BMul(a, b)}
	}},
	// The CPU sums each of b's gradients serially in float32 over 6240
	// random-signed terms: its own rounding error is about
	// sqrt(6240)·2⁻²⁴·|partial sums| ≈ 1e-4 at these magnitudes, so the
	// bound is 1e-4 here (device run 9 saw 4.5e-5 with 1e-5).
	{name: "sum_to, few outputs, long sums", grad: true, tol: 1e-4, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		// b's gradients reduce 6240 and 2500 elements into 6 and 3 outputs:
		// the chunked sum_to path (P > 1).
		a, b := c.F(48, 130, 6), c.F(1, 1, 6)
		x, w := c.F(3, 2500), c.F(3, 1)
		return []*kernels.Node{g.BAdd(a, b), g.BMul(x, w)}
	}},
	// Each layout lowerSumTo routes to the row or column sums, against the
	// generic walk's: [R, K], [K, R] with short and long rows, [R1, K, R2],
	// [R] into one value, and a middle reduction [K, R, K] (the walk).
	{name: "sum_to layouts", grad: true, tol: 1e-4, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{
			g.BAdd(c.F(6, 70, 1, 40), c.F(1, 1, 1, 40)), g.BMul(c.F(300, 2), c.F(300, 1)),
			g.BAdd(c.F(20, 9, 70), c.F(20, 9, 1)), g.BAdd(c.F(5, 33, 60), c.F(1, 33, 1)),
			g.BMul(c.F(7, 50, 1, 64), c.F(1, 1, 1, 1)), g.BAdd(c.F(12, 9, 17), c.F(12, 1, 17)),
		}
	}},
	// Gradient sums and a 10-term chain: add_n (fuse_add.go), same bits
	// as the adds.
	{name: "add chains", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(33, 7)
		s := g.Add(x, c.F(33, 7))
		for i := 0; i < 8; i++ {
			s = g.Add(s, g.Scale(x, float32(i)))
		}
		return []*kernels.Node{s, g.Add(g.Mul(x, x), x)}
	}},
	// x + d·v per row, both orders: add_rowvec_mul (fuse_add.go); an RMSNorm
	// added to x keeps its own fused kernel.
	{name: "add of a scaled row", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x, d, v := c.F(5, 40), c.F(5, 40), c.F(40)
		return []*kernels.Node{g.Add(x, g.MulRowVec(d, v)), g.Add(g.MulRowVec(c.F(5, 40), v), x),
			g.Add(x, g.RMSNorm(c.F(5, 40), v, 1e-5))}
	}},
	{name: "affine", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(5, 37)
		return []*kernels.Node{g.Scale(x, -1.5), g.AddScalar(x, 0.25)}
	}},
	{name: "rowvec mul_col", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x, v := c.F(6, 9), c.F(9)
		return []*kernels.Node{g.AddRowVec(x, v), g.MulRowVec(x, v), g.MulCol(c.F(4, 5, 9), c.F(4, 5))}
	}},
	{name: "sums and broadcasts", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{
			g.SumRows(c.F(7, 100, 9)), g.SumRows(c.F(1000, 40)), g.SumRows(c.F(33)),
			g.SumLast(c.F(50, 17)), g.SumLast(c.F(6, 300)), g.SumLast(c.F(40)), g.SumAll(c.F(1000)),
			g.BroadcastRows(c.F(9), []int{4, 3, 9}), g.BroadcastLast(c.F(4, 3), 9), g.BroadcastAll(c.F(1), []int{4, 5}),
		}
	}},
	// sum_rows(mul) fused into colsum_part's product form, and sum_last's thread per
	// short row. The CPU sums 300 rows serially in float32 (partial sums
	// near 17): its own rounding is about 2e-5, so the bound is 1e-4.
	{name: "fused sum_rows of mul, short rows", grad: true, tol: 1e-4, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.SumRows(g.Mul(c.F(300, 45), c.F(300, 45))), g.SumLast(c.F(500, 2)), g.SumLast(c.F(30, 7, 31))}
	}},
	{name: "activations", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		var out []*kernels.Node
		for a := kernels.GELU; a <= kernels.Tanh; a++ {
			x := c.F(5, 37)
			if a == kernels.Recip || a == kernels.Log {
				x = c.U(0.5, 2, 5, 37)
			}
			out = append(out, g.Act(a, x))
		}
		return out
	}},
	{name: "softmax mask", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(2, 7, 7)
		return []*kernels.Node{
			g.Softmax(c.F(8, 33)), g.Softmax(c.F(4, 600)),
			g.Softmax(g.CausalMask(x, 0, kernels.NegInf)), g.Softmax(g.CausalMask(x, 3, kernels.NegInf)),
			g.CausalMask(x, 3, 0), g.StrictCausalMask(x, 0.5), g.StrictLower(c.F(3, 300, 300)),
		}
	}},
	{name: "norms", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(6, 40)
		return []*kernels.Node{
			g.LayerNorm(x, c.F(40), c.F(40), 1e-5), g.RMSNorm(x, c.F(40), 1e-5),
			g.RMSNormalize(c.F(3, 700), 1e-6), g.LayerNorm(c.F(2, 3, 1000), c.F(1000), nil, 1e-5),
		}
	}},
	{name: "gather scatter_add", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.Gather(c.F(10, 12), c.I(10, 0, 3, 5)), g.Gather(c.F(64, 32), c.I(64, 0, 4, 40)),
			g.Gather(c.F(3, 5), c.I(3, 0, 500))}
	}},
	// MQAR's filler: 81% of 65,536 positions (batch 512, L 128) index row 0
	// of an 8192-row embedding, the rest spread; the gradient's scatter_add
	// sums 53,000 rows into one (the two-level sort of scatter.cu), plus a
	// tile-sized and an odd-sized case.
	{name: "gather scatter_add, one row takes most", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.Gather(c.F(8192, 64), c.Skewed(8192, 0.81, 512, 128)), g.Gather(c.F(7, 5), c.Skewed(7, 0.5, 256)),
			g.Gather(c.F(300, 3), c.Skewed(300, 0.9, 1001))}
	}},
	{name: "cross_entropy", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.CrossEntropy(c.F(20, 50), c.I(50, 4, 20)), g.CrossEntropy(c.F(9, 600), c.I(600, 3, 9))}
	}},
	{name: "reshape transpose", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(2, 3, 4, 5)
		return []*kernels.Node{
			g.Transpose(x, 0, 2, 1, 3), g.Transpose(x, 3, 1, 0, 2), g.Transpose(c.F(6, 9), 1, 0),
			g.Transpose(c.F(2, 5, 1, 4), 0, 2, 1, 3), g.Reshape(g.Transpose(g.Reshape(x, 6, 20), 1, 0), 4, 30),
		}
	}},
	{name: "slice pad concat", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(3, 8, 5)
		return []*kernels.Node{
			g.Slice(x, 1, 2, 6), g.Slice(x, 0, 1, 2), g.Slice(x, 2, 1, 4), g.Pad(x, 0, 1, 2), g.Pad(x, 2, 0, 3),
			g.Concat(1, c.F(2, 3, 4), c.F(2, 5, 4)), g.Concat(2, c.F(2, 3, 4), c.F(2, 3, 1), c.F(2, 3, 2)),
		}
	}},
	{name: "causal_conv", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.CausalConv(c.F(2, 9, 6), c.F(3, 6)), g.CausalConv(c.F(4, 100, 40), c.F(2, 40))}
	}},
	{name: "cumsum", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		var out []*kernels.Node
		for _, ex := range []bool{false, true} {
			for _, rev := range []bool{false, true} {
				out = append(out, g.CumSum(c.F(3, 7, 5), 1, ex, rev), g.CumSum(c.F(4, 6), 0, ex, rev))
			}
		}
		return out
	}},
	{name: "stop_gradient max_last", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		x := c.F(5, 40)
		m := g.MaxLast(x) // under StopGradient
		return []*kernels.Node{g.Add(g.StopGradient(g.Scale(x, 2)), x), g.MulCol(x, m), g.MaxLast(c.F(3, 700))}
	}},
	{name: "attention chains", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		var out []*kernels.Node
		for _, m := range []func(x *kernels.Node) *kernels.Node{
			func(x *kernels.Node) *kernels.Node { return g.CausalMask(x, 0, kernels.NegInf) },
			func(x *kernels.Node) *kernels.Node { return g.CausalMask(x, 3, kernels.NegInf) },
			func(x *kernels.Node) *kernels.Node { return g.StrictCausalMask(x, kernels.NegInf) },
		} {
			q, k, v := c.F(3, 9, 4), c.F(3, 9, 4), c.F(3, 9, 4)
			p := g.Softmax(m(g.Scale(g.MatMul(q, k, false, true), 0.37)))
			out = append(out, g.MatMul(p, v, false, false))
		}
		x := c.F(2, 300, 300) // block rows, no scale
		return append(out, g.Softmax(g.CausalMask(x, 0, kernels.NegInf)))
	}},
	{name: "cross_entropy fused with its gradient", build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		var out []*kernels.Node
		for _, v := range []int{50, 600} {
			x := c.F(20, v)
			loss := g.CrossEntropy(x, c.I(v, 4, 20))
			out = append(out, loss, g.Grad(loss, []*kernels.Node{x})[0])
		}
		return out
	}},
	{name: "unit_lower_inverse", grad: true, build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
		return []*kernels.Node{g.UnitLowerInverse(c.U(-0.3, 0.3, 3, 6, 6))}
	}},
}

// Every op of a compiled graph matches the CPU Program on fresh random
// inputs, forward and backward, in the eager run, the captured run and a
// replay.
func TestProgramOpsMatchCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, gc := range opCases {
		t.Run(strings.ReplaceAll(gc.name, " ", "_"), func(t *testing.T) {
			tol := graphTol
			if gc.tol > 0 {
				tol = gc.tol
			}
			w := checkCase(t, d, gc, tol)
			t.Logf("largest |got-want|/(1+|want|): %.2e (tolerance %.0e)", w, tol)
		})
	}
}

// An op without a device kernel is an error naming it, before any device
// work (this runs without a GPU).
func TestCompileNamesMissingOp(t *testing.T) {
	g := kernels.NewGraph()
	x := g.Input("x", 3)
	y := g.Apply(mysteryOp{}, []int{3}, x)
	_, err := Compile(nil, g, y)
	if err == nil || !strings.Contains(err.Error(), `"mystery"`) || !strings.Contains(err.Error(), "matmul") {
		t.Fatalf("got %v, want an error naming op mystery and listing the device ops", err)
	}
	if _, err := Compile(nil, g, g.Scale(x, 2)); err == nil || !strings.Contains(err.Error(), "no device") {
		t.Fatalf("got %v, want a no-device error", err)
	}
}

type mysteryOp struct{}

func (mysteryOp) Name() string { return "mystery" }
func (mysteryOp) Kernel(r *kernels.Runner, out *kernels.Tensor, in []*kernels.Tensor) func() {
	return func() {}
}
func (mysteryOp) Backward(g *kernels.Graph, n *kernels.Node, dy *kernels.Node) []*kernels.Node {
	return []*kernels.Node{nil}
}

// fuse finds the attention chains and the cross-entropy pair of a
// training graph, and leaves a chain alone when an inner node is an
// output (this runs without a GPU).
func TestFuseFindsChains(t *testing.T) {
	build := func(maskOut bool) (*Program, []*kernels.Node, *fusion) {
		g := kernels.NewGraph()
		q, k, tg := g.Input("q", 2, 5, 4), g.Input("k", 2, 5, 4), g.IntInput("t", 10)
		s := g.Scale(g.MatMul(q, k, false, true), 0.5)
		m := g.CausalMask(s, 0, kernels.NegInf)
		loss := g.CrossEntropy(g.Reshape(g.Softmax(m), 10, 5), tg)
		outs := append([]*kernels.Node{loss}, g.Grad(loss, []*kernels.Node{q, k})...)
		if maskOut {
			outs = append(outs, m)
		}
		p := &Program{Graph: g, Outputs: outs}
		return p, outs, p.fuse(g.Needed(outs...))
	}
	p, _, f := build(false)
	count := map[string]int{}
	for id := range f.skip {
		count[p.Graph.Nodes[id].Op.Name()]++
	}
	if count["causal_mask"] != 2 || count["affine"] != 1 || count["softmax_grad"] != 1 || len(f.skip) != 4 {
		t.Fatalf("skipped %v, want the forward scale and mask, the softmax gradient and the mask's gradient", count)
	}
	var order []string
	for _, id := range f.order {
		if n := p.Graph.Nodes[id]; n.Kind() == kernels.LeafOp && strings.HasPrefix(n.Op.Name(), "cross_entropy") {
			order = append(order, n.Op.Name())
		}
	}
	if strings.Join(order, " ") != "cross_entropy_grad cross_entropy" {
		t.Fatalf("cross-entropy order %v, want the gradient first", order)
	}
	pos := map[int]int{}
	for i, id := range f.order {
		pos[id] = i
	}
	for _, id := range f.order {
		for _, x := range f.in(p.Graph.Nodes[id]) {
			if f.skip[id] {
				break
			}
			if at, ok := pos[x.ID]; !ok || at >= pos[id] || f.skip[x.ID] {
				t.Fatalf("node %v reads %v, which is not scheduled before it", p.Graph.Nodes[id], x)
			}
		}
	}
	if _, _, f := build(true); len(f.skip) != 2 {
		t.Fatalf("with the mask an output, skipped %d nodes, want 2 (the backward chain only)", len(f.skip))
	}
}

// collapse folds a transpose into the fewest dims; moving only dims of
// size 1 leaves the layout unchanged.
func TestCollapse(t *testing.T) {
	for _, c := range []struct {
		in, perm      []int
		shape, stride []int
	}{
		{[]int{2, 5, 1, 4}, []int{0, 2, 1, 3}, []int{40}, []int{1}},
		{[]int{2, 3, 4, 5}, []int{0, 2, 1, 3}, []int{2, 4, 3, 5}, []int{60, 5, 20, 1}},
		{[]int{6, 9}, []int{1, 0}, []int{9, 6}, []int{1, 9}},
		{[]int{2, 3, 4}, []int{0, 1, 2}, []int{24}, []int{1}},
	} {
		s, st := collapse(c.in, c.perm)
		if !equalInts(s, c.shape) || !equalInts(st, c.stride) {
			t.Errorf("collapse(%v, %v) = %v, %v; want %v, %v", c.in, c.perm, s, st, c.shape, c.stride)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sum_rows(mul(a, b)) becomes one node reading a and b, unless the product
// has another reader or is an output (this runs without a GPU).
func TestFuseSumRowsOfMul(t *testing.T) {
	for _, c := range []struct {
		name        string
		shared, out bool
		skipped     int
	}{{"alone", false, false, 1}, {"product read twice", true, false, 0}, {"product an output", false, true, 0}} {
		g := kernels.NewGraph()
		a, b := g.Input("a", 6, 5), g.Input("b", 6, 5)
		m := g.Mul(a, b)
		outs := []*kernels.Node{g.SumRows(m)}
		if c.shared {
			outs = append(outs, g.SumLast(m))
		}
		if c.out {
			outs = append(outs, m)
		}
		p := &Program{Graph: g, Outputs: outs}
		f := p.fuse(g.Needed(outs...))
		if len(f.skip) != c.skipped || f.skip[m.ID] != (c.skipped == 1) {
			t.Errorf("%s: skipped %v, want %d (the mul)", c.name, f.skip, c.skipped)
		}
		if in := f.in(outs[0]); c.skipped == 1 && (len(in) != 2 || in[0] != a || in[1] != b) {
			t.Errorf("%s: the fused sum reads %v, want a and b", c.name, in)
		}
	}
}

// fuseNorms: a LayerNorm's forward becomes one norm launch at its
// add_rowvec (the gain's mul_rowvec skipped, the normalize node's step a
// no-op whose buffer the kernel writes), an RMSNorm's at its mul_rowvec,
// and normalize_grad reads dy times the gain (that mul_rowvec skipped).
// A reader of the normalize node before the chain's end keeps it unfused
// (and its gradient is then a sum, not a mul_rowvec).
func TestFuseNorms(t *testing.T) {
	for _, c := range []struct {
		name   string
		rms    bool
		early  bool // another op reads the normalize node before the gain
		fused  bool
		inputs int // of the fused head: x, gain, normalize node[, bias]
	}{{"layernorm", false, false, true, 4}, {"rmsnorm", true, false, true, 3}, {"read early", true, true, false, 0}} {
		g := kernels.NewGraph()
		x, gain, bias := g.Param(kernels.NewParam("x", kernels.New(6, 8))), g.Input("g", 8), g.Input("b", 8)
		var head, m, nz, early *kernels.Node
		switch {
		case c.early:
			nz = g.RMSNormalize(x, 1e-5)
			early = g.Scale(nz, 2)
			m = g.MulRowVec(nz, gain)
			head = m
		case c.rms:
			head = g.RMSNorm(x, gain, 1e-5)
			m, nz = head, head.In[0]
		default:
			head = g.LayerNorm(x, gain, bias, 1e-5)
			m = head.In[0]
			nz = m.In[0]
		}
		loss := g.SumAll(g.Mul(head, head))
		if early != nil {
			loss = g.Add(loss, g.SumAll(early))
		}
		outs := append([]*kernels.Node{loss}, g.Grad(loss, []*kernels.Node{x})...)
		p := &Program{Graph: g, Outputs: outs}
		f := p.fuse(g.Needed(outs...))
		if got := f.lower[head.ID] != nil && f.lower[nz.ID] != nil; got != c.fused {
			t.Errorf("%s: forward fused %v, want %v", c.name, got, c.fused)
		}
		if c.fused && (len(f.in(head)) != c.inputs || f.in(head)[0] != x || f.in(head)[2] != nz || f.skip[m.ID] == c.rms) {
			t.Errorf("%s: fused head reads %v (skips the gain's mul_rowvec: %v)", c.name, f.in(head), f.skip[m.ID])
		}
		var grads int
		for _, id := range g.Needed(outs...) {
			n := g.Nodes[id]
			if opNamed(n, "normalize_grad") || opNamed(n, "rms_normalize_grad") {
				grads++
				if in := f.in(n); !c.early && (len(in) != 3 || in[0] != x || !f.skip[n.In[1].ID]) {
					t.Errorf("%s: normalize_grad reads %v, its mul_rowvec skipped %v", c.name, in, f.skip[n.In[1].ID])
				}
			}
		}
		if grads != 1 {
			t.Errorf("%s: %d normalize_grad nodes", c.name, grads)
		}
	}
}

// fuseAdds: a chain of 9 adds over 10 inputs becomes two add_n launches
// (the last 8 terms, whose first is the third add, and that add's 3 terms),
// each reading its terms in the chain's order; an add read twice ends a
// chain.
func TestFuseAdds(t *testing.T) {
	g := kernels.NewGraph()
	var xs []*kernels.Node
	for i := 0; i < 10; i++ {
		xs = append(xs, g.Input("x"+strconv.Itoa(i), 4, 3))
	}
	adds := []*kernels.Node{g.Add(xs[0], xs[1])}
	for i := 2; i < 10; i++ {
		adds = append(adds, g.Add(adds[len(adds)-1], xs[i]))
	}
	shared := g.Add(xs[0], xs[1])
	other := g.Add(g.Add(shared, xs[2]), shared)
	outs := []*kernels.Node{adds[8], other}
	p := &Program{Graph: g, Outputs: outs}
	f := p.fuse(g.Needed(outs...))
	if in := f.in(adds[8]); len(in) != 8 || in[0] != adds[1] || in[1] != xs[3] || in[7] != xs[9] {
		t.Errorf("last add reads %v", in)
	}
	if in := f.in(adds[1]); len(in) != 3 || in[0] != xs[0] || in[1] != xs[1] || in[2] != xs[2] {
		t.Errorf("second group reads %v", in)
	}
	for i, a := range adds {
		if want := i != 1 && i != 8; f.skip[a.ID] != want {
			t.Errorf("add %d skipped %v, want %v", i, f.skip[a.ID], want)
		}
	}
	if f.skip[shared.ID] {
		t.Error("an add read twice was folded into a chain")
	}
}

// fuseAddScaled takes add(x, mul_rowvec(d, v)) in either order, and leaves
// an RMSNorm (a mul_rowvec computed by the fused norm kernel) alone.
func TestFuseAddScaled(t *testing.T) {
	g := kernels.NewGraph()
	x, d, v := g.Input("x", 4, 8), g.Input("d", 4, 8), g.Input("v", 8)
	m1, m2 := g.MulRowVec(d, v), g.MulRowVec(d, v)
	a1, a2 := g.Add(x, m1), g.Add(m2, x)
	norm := g.RMSNorm(d, v, 1e-5)
	a3 := g.Add(x, norm)
	outs := []*kernels.Node{a1, a2, a3}
	p := &Program{Graph: g, Outputs: outs}
	f := p.fuse(g.Needed(outs...))
	for i, c := range []struct{ add, m *kernels.Node }{{a1, m1}, {a2, m2}} {
		if in := f.in(c.add); !f.skip[c.m.ID] || len(in) != 3 || in[0] != x || in[1] != d || in[2] != v {
			t.Errorf("add %d: reads %v, mul_rowvec skipped %v", i, in, f.skip[c.m.ID])
		}
	}
	if f.skip[norm.ID] || f.lower[norm.ID] == nil || len(f.in(a3)) != 2 {
		t.Errorf("the RMSNorm was folded into the add (skipped %v, inputs %v)", f.skip[norm.ID], f.in(a3))
	}
}

// A LayerNorm's bias and gain gradients, sum_rows(dy) and
// sum_rows(mul(dy, xhat)), share one colsum launch (the later node writes
// both); an RMSNorm's gain gradient has no partner and stays alone.
func TestFuseNormGradSums(t *testing.T) {
	for _, rms := range []bool{false, true} {
		g := kernels.NewGraph()
		x := g.Param(kernels.NewParam("x", kernels.New(6, 8)))
		gain, bias := g.Param(kernels.NewParam("g", kernels.New(8))), g.Param(kernels.NewParam("b", kernels.New(8)))
		var y *kernels.Node
		wrt := []*kernels.Node{x, gain}
		if rms {
			y = g.RMSNorm(x, gain, 1e-5)
		} else {
			y = g.LayerNorm(x, gain, bias, 1e-5)
			wrt = append(wrt, bias)
		}
		loss := g.SumAll(g.Mul(y, y))
		outs := append([]*kernels.Node{loss}, g.Grad(loss, wrt)...)
		p := &Program{Graph: g, Outputs: outs}
		f := p.fuse(g.Needed(outs...))
		var pairs, alone, noops int
		for _, id := range g.Needed(outs...) {
			n := g.Nodes[id]
			if !opNamed(n, "sum_rows") {
				continue
			}
			switch in := f.in(n); {
			case len(in) == 0 && f.lower[id] != nil:
				noops++
			case len(in) == 3 && opNamed(in[2], "sum_rows") && in[2].In[0] == in[0]:
				pairs++
			case len(in) == 2:
				alone++
			default:
				t.Errorf("rms %v: sum_rows %v reads %v", rms, n, in)
			}
		}
		want := [3]int{1, 0, 1}
		if rms {
			want = [3]int{0, 1, 0}
		}
		if got := [3]int{pairs, alone, noops}; got != want {
			t.Errorf("rms %v: paired, alone, no-op sums %v, want %v", rms, got, want)
		}
	}
}

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// compositeAttention is Attention's slow twin: the L×L scores built, masked
// and normalised op by op.
func compositeAttention(g *Graph, q, k, v *Node, scale float32, window int) *Node {
	s := g.Scale(g.MatMul(q, k, false, true), scale)
	return g.MatMul(g.Softmax(g.CausalMask(s, window, NegInf)), v, false, false)
}

// attnRun builds out = attend(q, k, v) and the gradients of sum(out·R) with
// respect to q, k and v, runs it, and returns [out, dq, dk, dv].
func attnRun(t testing.TB, attend func(g *Graph, q, k, v *Node) *Node, q, k, v, r *Tensor) [][]float32 {
	t.Helper()
	g := NewGraph()
	pq, pk, pv := NewParam("q", q), NewParam("k", k), NewParam("v", v)
	var outs []*Node
	if err := Catch(func() {
		nq, nk, nv := g.Param(pq), g.Param(pk), g.Param(pv)
		y := attend(g, nq, nk, nv)
		loss := g.SumAll(g.Mul(y, g.Const("R", r)))
		outs = append([]*Node{y}, g.Grad(loss, []*Node{nq, nk, nv})...)
	}); err != nil {
		t.Fatal(err)
	}
	return runOutputs(t, g, outs, nil)
}

// attnTol bounds |fused - composite| <= attnTol·(1 + |composite|) per
// element: the two sum the same float32 products in different orders
// (key blocks against split-K GEMMs and a 4-way dot), so they differ by a
// few ulps of the largest partial sums.
const attnTol = 2e-5

// The fused op matches the composite graph, output and all three
// gradients, on fresh random inputs: full and windowed, L not a multiple of
// the block, several head sizes.
func TestAttentionMatchesComposite(t *testing.T) {
	cases := []struct{ bh, l, dh, window int }{
		{1, 1, 8, 0},
		{2, 5, 8, 0},
		{3, 70, 16, 0},
		{2, 130, 64, 0},
		{2, 130, 16, 1},
		{2, 130, 16, 7},
		{3, 200, 8, 64},
		{2, 150, 64, 65},
		{1, 100, 16, 200}, // window wider than L: full attention
		{1, 577, 16, 0},   // long enough for split-K in the composite's P·V
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("bh%d_L%d_dh%d_w%d", c.bh, c.l, c.dh, c.window), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			q, k, v := New(c.bh, c.l, c.dh).Randn(rng, 1), New(c.bh, c.l, c.dh).Randn(rng, 1), New(c.bh, c.l, c.dh).Randn(rng, 1)
			r := New(c.bh, c.l, c.dh).Randn(rng, 1)
			scale := float32(1 / math.Sqrt(float64(c.dh)))
			got := attnRun(t, func(g *Graph, q, k, v *Node) *Node { return g.Attention(q, k, v, scale, c.window) }, q, k, v, r)
			want := attnRun(t, func(g *Graph, q, k, v *Node) *Node { return compositeAttention(g, q, k, v, scale, c.window) }, q, k, v, r)
			for i, what := range []string{"out", "dq", "dk", "dv"} {
				worst := 0.0
				for j := range want[i] {
					d := math.Abs(float64(got[i][j]-want[i][j])) / (1 + math.Abs(float64(want[i][j])))
					if !(d <= attnTol) {
						t.Fatalf("%s[%d] = %v, composite %v (tolerance %g)", what, j, got[i][j], want[i][j], attnTol)
					}
					worst = max(worst, d)
				}
				t.Logf("%s: largest |d|/(1+|want|) = %.2g", what, worst)
			}
		})
	}
}

func TestAttentionGradCheck(t *testing.T) {
	for _, window := range []int{0, 3} {
		rng := rand.New(rand.NewPCG(3, uint64(window)))
		q, k, v := rp(rng, "q", 2, 9, 8), rp(rng, "k", 2, 9, 8), rp(rng, "v", 2, 9, 8)
		e, err := GradCheck(5, []*Param{q, k, v}, 1e-2, 40, func(g *Graph) *Node {
			return g.Attention(g.Param(q), g.Param(k), g.Param(v), 0.35, window)
		})
		if err != nil {
			t.Fatal(err)
		}
		if e > gradTol {
			t.Fatalf("window %d: gradient error %.3g > %g", window, e, gradTol)
		}
	}
}

// Results do not depend on the number of goroutines.
func TestAttentionDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	q, k, v, r := New(5, 150, 16).Randn(rng, 1), New(5, 150, 16).Randn(rng, 1), New(5, 150, 16).Randn(rng, 1), New(5, 150, 16).Randn(rng, 1)
	attend := func(g *Graph, q, k, v *Node) *Node { return g.Attention(q, k, v, 0.25, 40) }
	prev := Threads()
	defer SetThreads(prev)
	SetThreads(1)
	one := attnRun(t, attend, q, k, v, r)
	SetThreads(3)
	three := attnRun(t, attend, q, k, v, r)
	for i := range one {
		for j := range one[i] {
			if math.Float32bits(one[i][j]) != math.Float32bits(three[i][j]) {
				t.Fatalf("output %d [%d]: %v with 1 thread, %v with 3", i, j, one[i][j], three[i][j])
			}
		}
	}
}

func TestAttentionShapeErrors(t *testing.T) {
	g := NewGraph()
	a, b := g.Input("a", 2, 4, 8), g.Input("b", 2, 5, 8)
	for _, f := range []func(){
		func() { g.Attention(a, b, a, 1, 0) },
		func() { g.Attention(a, a, a, 1, -1) },
		func() { g.Attention(g.Input("c", 4, 8), g.Input("d", 4, 8), g.Input("e", 4, 8), 1, 0) },
	} {
		if err := Catch(f); err == nil {
			t.Fatal("bad shapes accepted")
		}
	}
}

// BenchmarkAttention times forward + backward of the fused op and of the
// composite graph (dh 32, 8 heads of batch).
func BenchmarkAttention(b *testing.B) {
	for _, l := range []int{64, 256, 1024} {
		for _, form := range []string{"fused", "composite"} {
			b.Run(fmt.Sprintf("%s/L=%d", form, l), func(b *testing.B) {
				const bh, dh = 8, 32
				rng := rand.New(rand.NewPCG(1, 1))
				pq, pk, pv := NewParam("q", New(bh, l, dh).Randn(rng, 1)), NewParam("k", New(bh, l, dh).Randn(rng, 1)), NewParam("v", New(bh, l, dh).Randn(rng, 1))
				g := NewGraph()
				nq, nk, nv := g.Param(pq), g.Param(pk), g.Param(pv)
				var y *Node
				if form == "fused" {
					y = g.Attention(nq, nk, nv, 0.2, 0)
				} else {
					y = compositeAttention(g, nq, nk, nv, 0.2, 0)
				}
				loss := g.SumAll(g.Mul(y, g.Const("R", New(bh, l, dh).Randn(rng, 1))))
				grads := g.Grad(loss, []*Node{nq, nk, nv})
				p, err := Compile(g, append([]*Node{loss}, grads...)...)
				if err != nil {
					b.Fatal(err)
				}
				p.Run()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					p.Run()
				}
				b.ReportMetric(float64(p.PlannedBytes)/(1<<20), "MiB")
			})
		}
	}
}

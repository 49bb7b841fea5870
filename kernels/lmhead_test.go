package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// lmHeadCase builds the fused head (chunk rows per chunk) or its slow twin
// (MatMul then CrossEntropy) on h [K, D], w [D, V] and targets, scales the
// loss by 1.7 (so the gradient op sees dy != 1 from an op) and returns the
// loss and the gradients of h and w after one run.
func lmHeadCase(t *testing.T, fused bool, chunk int, h, w *Tensor, tg []int32) (loss float32, dh, dw []float32) {
	t.Helper()
	g := NewGraph()
	hp, wp := NewParam("h", h), NewParam("w", w)
	tgt := NewInts(len(tg))
	copy(tgt.Ints, tg)
	var l *Node
	var grads []*Node
	err := Catch(func() {
		hn, wn, tn := g.Param(hp), g.Param(wp), g.Const("t", tgt)
		if fused {
			l = g.linearCrossEntropy(hn, wn, tn, chunk)
		} else {
			l = g.CrossEntropy(g.MatMul(hn, wn, false, false), tn)
		}
		grads = g.Grad(g.Scale(l, 1.7), []*Node{hn, wn})
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(g, append([]*Node{l}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.Run()
	return p.Value(l).Data[0], append([]float32(nil), p.Value(grads[0]).Data...), append([]float32(nil), p.Value(grads[1]).Data...)
}

func lmHeadInputs(seed uint64, k, d, v, ignoreEvery int) (h, w *Tensor, tg []int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	h, w = New(k, d).Randn(rng, 1), New(d, v).Randn(rng, 0.5)
	tg = make([]int32, k)
	for i := range tg {
		tg[i] = int32(rng.IntN(v))
		if ignoreEvery > 0 && rng.IntN(ignoreEvery) == 0 {
			tg[i] = Ignore
		}
	}
	return h, w, tg
}

// maxRelDiff is max |got - want| over max |want| (1 when want is all 0).
func maxRelDiff(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / math.Max(m, 1e-30)
}

// The fused head matches MatMul + CrossEntropy on fresh random inputs, with
// Ignore targets and row counts that are not a multiple of the chunk. The
// logits of a chunk are the same products as the composite's GEMM and the
// losses are summed in the same float64 order, so the loss agrees to a
// float32 rounding; dW sums its chunks in another order than the composite's
// one GEMM, so gradients agree within 1e-5 of their largest magnitude.
func TestLinearCrossEntropyMatchesComposite(t *testing.T) {
	const lossTol, gradTolRel = 1e-6, 1e-5
	cases := []struct {
		k, d, v, chunk, ignoreEvery int
	}{
		{13, 8, 37, 5, 4},
		{64, 16, 50, 0, 10},   // automatic chunk (all rows in one)
		{7, 3, 11, 7, 3},      // one chunk exactly
		{20, 4, 9, 1, 5},      // a row per chunk
		{70, 33, 130, 16, 6},  // tiles of the GEMMs cut inside the chunk
		{300, 24, 1500, 0, 8}, // automatic chunk of 174 rows: two chunks
		{5, 4, 6, 2, 1},       // every target ignored: loss 0, gradients 0
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("K%d_D%d_V%d_c%d", c.k, c.d, c.v, c.chunk), func(t *testing.T) {
			h, w, tg := lmHeadInputs(uint64(i+1), c.k, c.d, c.v, c.ignoreEvery)
			wl, wdh, wdw := lmHeadCase(t, false, 0, h, w, tg)
			gl, gdh, gdw := lmHeadCase(t, true, c.chunk, h, w, tg)
			if d := math.Abs(float64(gl - wl)); d > lossTol*(1+math.Abs(float64(wl))) {
				t.Errorf("loss %v, composite %v", gl, wl)
			}
			for _, x := range []struct {
				name      string
				got, want []float32
			}{{"dh", gdh, wdh}, {"dw", gdw, wdw}} {
				if c.ignoreEvery == 1 {
					for j, v := range x.got {
						if v != 0 {
							t.Fatalf("%s[%d] = %v with every target ignored", x.name, j, v)
						}
					}
					continue
				}
				d := maxRelDiff(x.got, x.want)
				t.Logf("%s: max diff %.3g of the largest gradient; loss %v vs %v", x.name, d, gl, wl)
				if d > gradTolRel || math.IsNaN(d) {
					t.Errorf("%s: max diff %.3g of the largest gradient (bound %g)", x.name, d, gradTolRel)
				}
			}
		})
	}
}

// The result does not depend on the number of threads: same bits.
func TestLinearCrossEntropyDeterministic(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	h, w, tg := lmHeadInputs(9, 150, 40, 300, 7)
	SetThreads(1)
	l1, dh1, dw1 := lmHeadCase(t, true, 32, h, w, tg)
	SetThreads(4)
	l4, dh4, dw4 := lmHeadCase(t, true, 32, h, w, tg)
	if l1 != l4 || maxRelDiff(dh4, dh1) != 0 || maxRelDiff(dw4, dw1) != 0 {
		t.Fatalf("1 thread vs 4: loss %v / %v, dh diff %g, dw diff %g", l1, l4, maxRelDiff(dh4, dh1), maxRelDiff(dw4, dw1))
	}
}

func TestLinearCrossEntropyGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	h, w := rp(rng, "h", 9, 5), rp(rng, "w", 5, 7)
	tg := NewInts(9)
	copy(tg.Ints, []int32{1, Ignore, 6, 0, 3, Ignore, 2, 5, 4})
	e, err := GradCheck(4, []*Param{h, w}, 1e-2, 30, func(g *Graph) *Node {
		return g.linearCrossEntropy(g.Param(h), g.Param(w), g.Const("t", tg), 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	if e > gradTol {
		t.Fatalf("gradcheck error %g > %g", e, gradTol)
	}
}

func TestLinearCrossEntropyShapes(t *testing.T) {
	g := NewGraph()
	h, w := g.Input("h", 4, 3), g.Input("w", 3, 5)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"inner dims", func() { g.LinearCrossEntropy(h, g.Input("w2", 4, 5), g.IntInput("t", 4)) }},
		{"float targets", func() { g.LinearCrossEntropy(h, w, g.Input("t", 4)) }},
		{"target count", func() { g.LinearCrossEntropy(h, w, g.IntInput("t", 3)) }},
		{"rank", func() { g.LinearCrossEntropy(g.Input("h3", 1, 4, 3), w, g.IntInput("t", 4)) }},
	} {
		if err := Catch(c.f); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// A step through the fused head allocates nothing.
func TestLinearCrossEntropyDoesNotAllocate(t *testing.T) {
	h, w, tg := lmHeadInputs(2, 50, 8, 40, 5)
	g := NewGraph()
	hp, wp := NewParam("h", h), NewParam("w", w)
	tn := g.IntInput("t", 50)
	l := g.linearCrossEntropy(g.Param(hp), g.Param(wp), tn, 16)
	grads := g.Grad(l, []*Node{g.Param(hp), g.Param(wp)})
	p, err := Compile(g, append([]*Node{l}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Value(tn).Ints, tg)
	p.Run()
	if n := testing.AllocsPerRun(20, p.Run); n != 0 {
		t.Fatalf("%v allocations per step", n)
	}
}

// BenchmarkLinearCrossEntropy times loss and both gradients of the fused
// head against MatMul + CrossEntropy at K=512 rows, D=128, V=8192.
func BenchmarkLinearCrossEntropy(b *testing.B) {
	const k, d, v = 512, 128, 8192
	h, w, tg := lmHeadInputs(1, k, d, v, 10)
	for _, fused := range []bool{true, false} {
		b.Run(fmt.Sprintf("fused=%v", fused), func(b *testing.B) {
			g := NewGraph()
			hp, wp := NewParam("h", h), NewParam("w", w)
			tn := g.IntInput("t", k)
			hn, wn := g.Param(hp), g.Param(wp)
			var l *Node
			if fused {
				l = g.LinearCrossEntropy(hn, wn, tn)
			} else {
				l = g.CrossEntropy(g.MatMul(hn, wn, false, false), tn)
			}
			grads := g.Grad(l, []*Node{hn, wn})
			p, err := Compile(g, append([]*Node{l}, grads...)...)
			if err != nil {
				b.Fatal(err)
			}
			copy(p.Value(tn).Ints, tg)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Run()
			}
			b.ReportMetric(float64(p.PlannedBytes)/(1<<20), "planned-MiB")
		})
	}
}

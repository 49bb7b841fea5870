package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// deltaScanUnrolled is DeltaScan's slow twin: the recurrence unrolled into
// the graph chunk by chunk (what deltaChunked built before the op existed).
// It returns the outputs o [N, nc, c, dv] and the states S_i stacked as
// [N, nc, dk, dv].
func deltaScanUnrolled(g *Graph, tv, tk, qkg, gq, kd, dec *Node) (o, states *Node) {
	n, nc, c, dv, dk := tv.Shape[0], tv.Shape[1], tv.Shape[2], tv.Shape[3], tk.Shape[3]
	pick := func(x *Node, i int) *Node {
		s := x.Shape
		return g.Reshape(g.Slice(x, 1, i, i+1), append([]int{n}, s[2:]...)...)
	}
	s := g.Const("s0", New(n, dk, dv))
	outs := make([]*Node, nc)
	ss := make([]*Node, nc)
	for i := 0; i < nc; i++ {
		ss[i] = g.Reshape(s, n, 1, dk, dv)
		u := g.Sub(pick(tv, i), g.MatMul(pick(tk, i), s, false, false))
		att := g.Add(g.MatMul(pick(qkg, i), u, false, false), g.MatMul(pick(gq, i), s, false, false))
		outs[i] = g.Reshape(att, n, 1, c, dv)
		d := g.Reshape(g.Slice(dec, 1, i, i+1), n)
		s = g.Add(g.Reshape(g.MulCol(g.Reshape(s, n, dk*dv), d), n, dk, dv), g.MatMul(pick(kd, i), u, true, false))
	}
	return g.Concat(1, outs...), g.Concat(1, ss...)
}

type scanCase struct{ n, nc, c, dk, dv int }

// scanParams draws the six inputs: tk and kd small enough that the state
// stays of order one over the chunks, decays in [0.5, 1] (or exactly 1).
func scanParams(rng *rand.Rand, sc scanCase, unitDecay bool) []*Param {
	mk := func(name string, std float64, shape ...int) *Param {
		return NewParam(name, New(shape...).Randn(rng, std))
	}
	dec := New(sc.n, sc.nc).Fill(1)
	if !unitDecay {
		for i := range dec.Data {
			dec.Data[i] = float32(0.5 + 0.5*rng.Float64())
		}
	}
	k := 1 / math.Sqrt(float64(sc.dk))
	return []*Param{
		mk("tv", 1, sc.n, sc.nc, sc.c, sc.dv), mk("tk", k, sc.n, sc.nc, sc.c, sc.dk),
		mk("qkg", 0.5, sc.n, sc.nc, sc.c, sc.c), mk("gq", k, sc.n, sc.nc, sc.c, sc.dk),
		mk("kd", k, sc.n, sc.nc, sc.c, sc.dk), NewParam("dec", dec),
	}
}

// evalScan builds out(inputs) and the gradients of sum(out·R) + sum(S·R2)
// for each parameter, runs it once, and returns [o, S, grads...].
func evalScan(t *testing.T, ps []*Param, seed uint64, build func(g *Graph, in []*Node) (o, s *Node)) [][]float32 {
	t.Helper()
	g := NewGraph()
	in := make([]*Node, len(ps))
	for i, p := range ps {
		in[i] = g.Param(p)
	}
	var outs []*Node
	if err := Catch(func() {
		o, s := build(g, in)
		rng := rand.New(rand.NewPCG(seed, 5))
		loss := g.Add(g.SumAll(g.Mul(o, g.Const("r", New(o.Shape...).Randn(rng, 1)))),
			g.SumAll(g.Mul(s, g.Const("r2", New(s.Shape...).Randn(rng, 1)))))
		outs = append([]*Node{o, s}, g.Grad(loss, in)...)
	}); err != nil {
		t.Fatal(err)
	}
	return runOutputs(t, g, outs, nil)
}

// DeltaStates and DeltaScan against the unrolled twin: outputs, states and
// the gradients of all six inputs, on fresh random inputs, ragged chunk
// counts (1 included) and several widths. Bound: |fast - twin| <= 2e-5 ·
// (1 + max|twin|) per tensor (float32 sums in other orders over at most a
// few hundred terms).
func TestDeltaScanMatchesUnrolled(t *testing.T) {
	cases := []scanCase{{1, 1, 4, 3, 5}, {2, 3, 4, 8, 8}, {3, 5, 8, 4, 6}, {2, 4, 16, 12, 7}, {1, 7, 2, 1, 1}, {2, 2, 8, 16, 3}}
	names := []string{"o", "S", "d tv", "d tk", "d qkg", "d gq", "d kd", "d dec"}
	for ci, sc := range cases {
		for _, unit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/unit=%v", sc, unit), func(t *testing.T) {
				ps := scanParams(rand.New(rand.NewPCG(uint64(ci), 11)), sc, unit)
				fast := evalScan(t, ps, uint64(ci), func(g *Graph, in []*Node) (*Node, *Node) {
					return g.DeltaScan(in[0], in[1], in[2], in[3], in[4], in[5]), g.DeltaStates(in[0], in[1], in[4], in[5])
				})
				slow := evalScan(t, ps, uint64(ci), func(g *Graph, in []*Node) (*Node, *Node) {
					return deltaScanUnrolled(g, in[0], in[1], in[2], in[3], in[4], in[5])
				})
				for i := range fast {
					if d := scaledDiff(fast[i], slow[i]); !(d <= 2e-5) {
						t.Errorf("%s: max |fast - unrolled| / (1 + max|unrolled|) = %.2e > 2e-5", names[i], d)
					}
				}
			})
		}
	}
}

// Gradients of DeltaScan against central finite differences.
func TestDeltaScanGradCheck(t *testing.T) {
	for i, sc := range []scanCase{{2, 3, 4, 3, 5}, {1, 1, 3, 2, 2}} {
		ps := scanParams(rand.New(rand.NewPCG(uint64(i), 3)), sc, false)
		rel, err := GradCheck(uint64(i), ps, 1e-3, 12, func(g *Graph) *Node {
			in := make([]*Node, len(ps))
			for j, p := range ps {
				in[j] = g.Param(p)
			}
			return g.DeltaScan(in[0], in[1], in[2], in[3], in[4], in[5])
		})
		if err != nil {
			t.Fatal(err)
		}
		if !(rel <= 2e-2) {
			t.Errorf("%v: gradient error %.2e of the largest gradient (bound 2e-2)", sc, rel)
		}
	}
}

func TestDeltaStatesShapes(t *testing.T) {
	g := NewGraph()
	bad := Catch(func() {
		g.DeltaStates(g.Input("tv", 2, 3, 4, 5), g.Input("tk", 2, 3, 4, 6), g.Input("kd", 2, 3, 4, 6), g.Input("d", 2, 4))
	})
	if bad == nil {
		t.Fatal("mismatched dec accepted")
	}
	var s *Node
	if err := Catch(func() {
		s = g.DeltaStates(g.Input("tv", 2, 3, 4, 5), g.Input("tk", 2, 3, 4, 6), g.Input("kd", 2, 3, 4, 6), g.Input("d", 2, 3))
	}); err != nil || !sameShape(s.Shape, []int{2, 3, 6, 5}) {
		t.Fatalf("shape %v, err %v", s, err)
	}
}

// scanStep compiles forward and backward of DeltaScan (or its twin) at one
// size for the benchmarks and the allocation test.
func scanStep(tb testing.TB, sc scanCase, unrolled bool) *Program {
	ps := scanParams(rand.New(rand.NewPCG(1, 1)), sc, false)
	g := NewGraph()
	in := make([]*Node, len(ps))
	for i, p := range ps {
		in[i] = g.Param(p)
	}
	var o *Node
	if unrolled {
		o, _ = deltaScanUnrolled(g, in[0], in[1], in[2], in[3], in[4], in[5])
	} else {
		o = g.DeltaScan(in[0], in[1], in[2], in[3], in[4], in[5])
	}
	loss := g.SumAll(g.Mul(o, g.Const("r", New(o.Shape...).Fill(1))))
	p, err := Compile(g, append([]*Node{loss}, g.Grad(loss, in)...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestDeltaScanDoesNotAllocate(t *testing.T) {
	p := scanStep(t, scanCase{3, 4, 8, 8, 8}, false)
	p.Run()
	if n := testing.AllocsPerRun(10, p.Run); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

// Forward and backward at N = 8, L = 1024 (16 chunks of 64), dk = dv = 32.
func BenchmarkDeltaScan(b *testing.B) {
	for _, unrolled := range []bool{false, true} {
		b.Run(map[bool]string{false: "op", true: "unrolled"}[unrolled], func(b *testing.B) {
			p := scanStep(b, scanCase{8, 16, 64, 32, 32}, unrolled)
			p.Run()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Run()
			}
		})
	}
}

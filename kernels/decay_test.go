package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// decayScoresTwin is the slow twin of DecayScores: the broadcast composite
// the mixers used before the fused op, with [N, dk, c, c] temporaries.
func decayScoresTwin(g *Graph, q, k, bq, bk *Node, strict bool) *Node {
	n, c, dk := q.Shape[0], q.Shape[1], q.Shape[2]
	front := func(x *Node) *Node { return g.Transpose(x, 0, 2, 1) } // [N, dk, c]
	d := g.BSub(g.Reshape(front(bq), n, dk, c, 1), g.Reshape(front(bk), n, dk, 1, c))
	if strict {
		d = g.StrictCausalMask(d, NegInf)
	} else {
		d = g.CausalMask(d, 0, NegInf)
	}
	e := g.Act(Exp, d)
	qk := g.BMul(g.Reshape(front(q), n, dk, c, 1), g.Reshape(front(k), n, dk, 1, c))
	return g.Reshape(g.SumTo(g.Mul(qk, e), []int{n, 1, c, c}), n, c, c)
}

// decayInputs draws q, k ~ N(0, 1) and cumulative log-decays: bk is the
// inclusive cumulative sum over c of log-decays uniform in [lo, 0], bq the
// same (or the exclusive sum when strict, as RWKV reads S_{t-1}).
func decayInputs(rng *rand.Rand, n, c, dk int, lo float64, strict bool) (q, k, bq, bk *Tensor) {
	q, k = New(n, c, dk).Randn(rng, 1), New(n, c, dk).Randn(rng, 1)
	lg := New(n, c, dk).Uniform(rng, lo, 0)
	bq, bk = New(n, c, dk), New(n, c, dk)
	for b := 0; b < n; b++ {
		for d := 0; d < dk; d++ {
			var acc float32
			for t := 0; t < c; t++ {
				i := (b*c+t)*dk + d
				if strict {
					bq.Data[i] = acc
				}
				acc += lg.Data[i]
				bk.Data[i] = acc
				if !strict {
					bq.Data[i] = acc
				}
			}
		}
	}
	return q, k, bq, bk
}

// decayOutputs builds A with build, the gradients of Σ A·R for a random R,
// runs them and returns [A, dq, dk, dbq, dbk].
func decayOutputs(t testing.TB, in [4]*Tensor, strict bool, seed uint64,
	build func(g *Graph, q, k, bq, bk *Node, strict bool) *Node) [][]float32 {
	t.Helper()
	g := NewGraph()
	var xs [4]*Node
	for i, name := range []string{"q", "k", "bq", "bk"} {
		xs[i] = g.Input(name, in[i].Shape...)
	}
	a := build(g, xs[0], xs[1], xs[2], xs[3], strict)
	r := g.Const("R", New(a.Shape...).Randn(rand.New(rand.NewPCG(seed, 5)), 1))
	grads := g.Grad(g.SumAll(g.Mul(a, r)), xs[:])
	outs := append([]*Node{a}, grads...)
	return runOutputs(t, g, outs, func(p *Program) {
		for i, x := range xs {
			copy(p.Value(x).Data, in[i].Data)
		}
	})
}

// The fused op against its twin on fresh random inputs: ragged sizes, strict
// and not, log-decays from near 0 to very negative (cumulative sums down to
// about -30·c, where most weights underflow to 0), and unrelated bq, bk whose
// masked exponents are large and positive. On the Go path the forward pass
// rounds exactly as the twin (bound 0, i.e. bit-identical); the C kernels
// (decay_amd64.c) take e^x to 2 ulp and sum eight lanes at once (bound
// 1e-6·(1+max|want|)); gradients are summed in another order (the twin
// reduces over a broadcast dim, the op row by row, and dbq = q·dq rounds
// once more): bound |got-want| <= 1e-5·(1+max|want|). Both paths run.
func TestDecayScoresMatchesTwin(t *testing.T) { paths(t, testDecayScoresMatchesTwin) }

func testDecayScoresMatchesTwin(t *testing.T) {
	cases := []struct {
		n, c, dk int
		lo       float64 // log-decays uniform in [lo, 0]; 0: unrelated bq, bk
		strict   bool
	}{
		{1, 1, 1, -1, false},
		{1, 1, 3, -1, true},
		{3, 5, 4, -0.01, false},
		{2, 7, 3, -1, true},
		{2, 17, 9, -3, false},
		{3, 33, 5, -30, true},
		{2, 40, 33, -30, false},
		{2, 9, 6, 0, false},
		{2, 9, 6, 0, true},
	}
	names := []string{"A", "dq", "dk", "dbq", "dbk"}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("n%d_c%d_dk%d_lo%g_strict%v", tc.n, tc.c, tc.dk, tc.lo, tc.strict), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 17))
			q, k, bq, bk := decayInputs(rng, tc.n, tc.c, tc.dk, tc.lo, tc.strict)
			if tc.lo == 0 {
				// Unrelated decays: bq_t - bk_s = 120·(s-t)/c ± 8, so the kept
				// exponents (s <= t) are at most 8 and the masked ones reach
				// 120, where exp overflows float32.
				for j := range bq.Data {
					s := (j / tc.dk) % tc.c
					ramp := 60 - 120*float64(s)/float64(tc.c)
					bq.Data[j] = float32(ramp + rng.Float64()*8 - 4)
					bk.Data[j] = float32(ramp + rng.Float64()*8 - 4)
				}
			}
			in := [4]*Tensor{q, k, bq, bk}
			got := decayOutputs(t, in, tc.strict, uint64(i), (*Graph).DecayScores)
			want := decayOutputs(t, in, tc.strict, uint64(i), decayScoresTwin)
			for j := range got {
				tol := 1e-5
				if j == 0 && useNative {
					tol = 1e-6
				} else if j == 0 {
					tol = 0
				}
				e := scaledDiff(got[j], want[j])
				t.Logf("%s: %.1e", names[j], e)
				if !(e <= tol) {
					t.Errorf("%s: max |got-want|/(1+max|want|) = %.2e > %.0e", names[j], e, tol)
				}
			}
			// Masked entries are exactly 0.
			lag := 0
			if tc.strict {
				lag = 1
			}
			a := got[0]
			for b := 0; b < tc.n; b++ {
				for tt := 0; tt < tc.c; tt++ {
					for s := tt - lag + 1; s < tc.c; s++ {
						if s >= 0 && a[(b*tc.c+tt)*tc.c+s] != 0 {
							t.Fatalf("masked A[%d,%d,%d] = %v", b, tt, s, a[(b*tc.c+tt)*tc.c+s])
						}
					}
				}
			}
		})
	}
}

func TestDecayScoresGradCheck(t *testing.T) {
	for _, strict := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(4, 4))
		q, k, bq, bk := decayInputs(rng, 2, 6, 3, -1, strict)
		ps := []*Param{NewParam("q", q), NewParam("k", k), NewParam("bq", bq), NewParam("bk", bk)}
		e, err := GradCheck(7, ps, 1e-2, 20, func(g *Graph) *Node {
			return g.DecayScores(g.Param(ps[0]), g.Param(ps[1]), g.Param(ps[2]), g.Param(ps[3]), strict)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !(e <= gradTol) {
			t.Errorf("strict=%v: gradcheck error %.2e > %.0e", strict, e, gradTol)
		}
	}
}

func TestDecayScoresShapes(t *testing.T) {
	g := NewGraph()
	q := g.Input("q", 2, 5, 3)
	if err := Catch(func() { g.DecayScores(q, g.Input("k", 2, 5, 4), q, q, false) }); err == nil {
		t.Error("mismatched shapes accepted")
	}
	if err := Catch(func() { g.DecayScores(g.Input("x", 5, 3), g.Input("y", 5, 3), q, q, false) }); err == nil {
		t.Error("rank-2 operands accepted")
	}
	a := g.DecayScores(q, q, q, q, true)
	if a.Shape[0] != 2 || a.Shape[1] != 5 || a.Shape[2] != 5 {
		t.Errorf("shape %v", a.Shape)
	}
	if d := Describe(a.Op); !d.Bools["strict"] {
		t.Errorf("attrs %+v", d)
	}
}

// A training step through the fused op allocates nothing.
func TestDecayScoresDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	q, k, bq, bk := decayInputs(rng, 4, 16, 8, -1, true)
	ps := []*Param{NewParam("q", q), NewParam("k", k), NewParam("bq", bq), NewParam("bk", bk)}
	g := NewGraph()
	nodes := make([]*Node, 4)
	for i, p := range ps {
		nodes[i] = g.Param(p)
	}
	loss := g.SumAll(g.DecayScores(nodes[0], nodes[1], nodes[2], nodes[3], true))
	p, err := Compile(g, append([]*Node{loss}, g.Grad(loss, nodes)...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.Run()
	if n := testing.AllocsPerRun(10, p.Run); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

// benchDecay times forward and backward of the scores of a chunk of 64
// tokens, 64 chunks, dk 32: the fused op against the composite.
func benchDecay(b *testing.B, build func(g *Graph, q, k, bq, bk *Node, strict bool) *Node) {
	rng := rand.New(rand.NewPCG(1, 1))
	q, k, bq, bk := decayInputs(rng, 64, 64, 32, -0.5, false)
	ps := []*Param{NewParam("q", q), NewParam("k", k), NewParam("bq", bq), NewParam("bk", bk)}
	g := NewGraph()
	nodes := make([]*Node, 4)
	for i, p := range ps {
		nodes[i] = g.Param(p)
	}
	a := build(g, nodes[0], nodes[1], nodes[2], nodes[3], false)
	loss := g.SumAll(g.Mul(a, g.Const("R", New(a.Shape...).Randn(rng, 1))))
	p, err := Compile(g, append([]*Node{loss}, g.Grad(loss, nodes)...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Run()
	}
	b.ReportMetric(float64(p.PlannedBytes)/(1<<20), "MiB-planned")
}

func BenchmarkDecayScores(b *testing.B)          { benchDecay(b, (*Graph).DecayScores) }
func BenchmarkDecayScoresComposite(b *testing.B) { benchDecay(b, decayScoresTwin) }

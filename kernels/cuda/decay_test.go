package cuda

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"lab/kernels"
)

// decayTol bounds |device-CPU| <= decayTol·(1+|CPU|) for the decay-score
// ops. The kernels sum in the CPU's order and round each term as it does;
// what differs is expf (up to 2 ulp, CUDA's bound) against the CPU's exp
// rounded from float64: about 2.4e-7 relative per term, over sums of up
// to c·dk = 9100 terms with cancellation (the gradients of the log-decays
// add a reverse cumulative sum over c on top).
const decayTol = 1e-4

// decayRamp is a [1, c, 1] constant 60 - 120·s/c: added to random bq and
// bk it makes the kept exponents bq_t - bk_s small and the masked ones
// reach 120, where exp overflows float32.
func decayRamp(g *kernels.Graph, c int) *kernels.Node {
	r := make([]float32, c)
	for s := range r {
		r[s] = float32(60 - 120*float64(s)/float64(c))
	}
	return constOf(g, "ramp", r, 1, c, 1)
}

// decayCases: ragged sizes (c and dk across the 32-wide tiles), strict and
// not, log-decays from near 0 to very negative, and unrelated decays whose
// masked exponents overflow. Gradients flow back through the cumulative
// sums to the log-decays, as in the mixers.
var decayCases = []struct {
	n, c, dk int
	lo       float64 // log-decays uniform in [lo, 0]; 0: unrelated bq, bk
	strict   bool
}{
	{1, 1, 1, -1, true},
	{3, 37, 5, -1, false},
	{2, 70, 33, -3, true},
	{2, 64, 130, -30, false},
	{1, 100, 64, -0.01, true},
	{2, 45, 7, 0, false},
	{2, 45, 7, 0, true},
	// One key dim (RWKV-4): the row kernels.
	{5, 64, 1, -1, true},
	{3, 37, 1, -30, false},
	{2, 100, 1, 0, true},
	// More matrices than a grid's z (65535): launched in two groups, as
	// RWKV-4's chunks are at batch 64, d 128, L 1024 (131072).
	{65600, 2, 2, -1, false},
}

func TestDecayScoresMatchCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, tc := range decayCases {
		gc := graphCase{name: fmt.Sprintf("decay n%d c%d dk%d lo%g strict%v", tc.n, tc.c, tc.dk, tc.lo, tc.strict), grad: true,
			build: func(g *kernels.Graph, c *caseInputs) []*kernels.Node {
				q, k := c.F(tc.n, tc.c, tc.dk), c.F(tc.n, tc.c, tc.dk)
				var bq, bk *kernels.Node
				if tc.lo == 0 {
					ramp := decayRamp(g, tc.c)
					bq = g.BAdd(c.U(-4, 4, tc.n, tc.c, tc.dk), ramp)
					bk = g.BAdd(c.U(-4, 4, tc.n, tc.c, tc.dk), ramp)
				} else {
					lg := c.U(tc.lo, 0, tc.n, tc.c, tc.dk)
					bk = g.CumSum(lg, 1, false, false)
					bq = bk
					if tc.strict {
						bq = g.CumSum(lg, 1, true, false)
					}
				}
				return []*kernels.Node{g.DecayScores(q, k, bq, bk, tc.strict)}
			}}
		t.Run(gc.name, func(t *testing.T) {
			worst := checkCase(t, d, gc, decayTol)
			t.Logf("largest |gpu-cpu|/(1+|cpu|) = %.1e (bound %.0e)", worst, decayTol)
		})
	}
}

// decayComposite is the broadcast composite that the fused op replaced
// (the CPU tests' twin), for timing against.
func decayComposite(g *kernels.Graph, q, k, bq, bk *kernels.Node, strict bool) *kernels.Node {
	n, c, dk := q.Shape[0], q.Shape[1], q.Shape[2]
	front := func(x *kernels.Node) *kernels.Node { return g.Transpose(x, 0, 2, 1) }
	d := g.BSub(g.Reshape(front(bq), n, dk, c, 1), g.Reshape(front(bk), n, dk, 1, c))
	if strict {
		d = g.StrictCausalMask(d, kernels.NegInf)
	} else {
		d = g.CausalMask(d, 0, kernels.NegInf)
	}
	qk := g.BMul(g.Reshape(front(q), n, dk, c, 1), g.Reshape(front(k), n, dk, 1, c))
	return g.Reshape(g.SumTo(g.Mul(qk, g.Act(kernels.Exp, d)), []int{n, 1, c, c}), n, c, c)
}

// timeDecay compiles the scores (and, with grad, the gradients of Σ A·R
// for all four operands) and returns the median ms of 10 replays.
func timeDecay(t *testing.T, d *Device, nb, c, dk int, grad bool,
	build func(g *kernels.Graph, q, k, bq, bk *kernels.Node, strict bool) *kernels.Node) float64 {
	g := kernels.NewGraph()
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]*kernels.Node, 4)
	for i, name := range []string{"q", "k", "bq", "bk"} {
		xs[i] = g.Input(name, nb, c, dk)
	}
	a := build(g, xs[0], xs[1], xs[2], xs[3], false)
	outs := []*kernels.Node{a}
	if grad {
		r := constOf(g, "R", randn(rng, a.Len(), 0, 1), a.Shape...)
		loss := g.SumAll(g.Mul(a, r))
		outs = append([]*kernels.Node{loss}, g.Grad(loss, xs)...)
	}
	p, err := Compile(d, g, outs...)
	must(t, err)
	defer p.Free()
	for i, x := range xs {
		v := randn(rng, x.Len(), 0, 1)
		if i >= 2 { // cumulative log-decays, as the mixers pass
			for j := range v {
				v[j] = -0.05 * float32((j/dk)%c)
			}
		}
		must(t, p.SetFloats(x, v))
	}
	return medianMS(t, d, p.s, 3, 10, p.Run)
}

// TestDecayScoresTimings prints the fused op against the composite at the
// shapes of gla at d=128, one head, chunk 64, batch 64 (LAB_CUDA_BENCH=1).
func TestDecayScoresTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	fmt.Printf("\ndecay scores, c=64, dk=128 (ms, median of 10 replays)\n%-8s %-9s %10s %10s\n", "L", "pass", "fused", "composite")
	for _, L := range []int{256, 1024} {
		nb := 64 * (L / 64) // batch 64, L/64 chunks of 64
		for _, grad := range []bool{false, true} {
			pass := "forward"
			if grad {
				pass = "fwd+bwd"
			}
			f := timeDecay(t, d, nb, 64, 128, grad, func(g *kernels.Graph, q, k, bq, bk *kernels.Node, s bool) *kernels.Node {
				return g.DecayScores(q, k, bq, bk, s)
			})
			c := timeDecay(t, d, nb, 64, 128, grad, decayComposite)
			fmt.Printf("%-8d %-9s %10.3f %10.3f\n", L, pass, f, c)
		}
	}
}

// The decay kernels are found in the embedded sources under the names the
// lowering launches (no GPU needed).
func TestDecayKernelNames(t *testing.T) {
	src, err := Sources()
	must(t, err)
	got := kernelNames(src["decay.cu"])
	want := []string{"decay_scores_fwd", "decay_scores_grad_q", "decay_scores_grad_k", "decay_scores_grad1_q", "decay_scores_grad1_k"}
	if !slices.Equal(got, want) {
		t.Fatalf("decay.cu kernels %q, want %q", got, want)
	}
	for _, op := range []string{"decay_scores", "decay_scores_grad_q", "decay_scores_grad_k"} {
		if opLowerers[op] == nil {
			t.Errorf("no lowering for %s", op)
		}
	}
}

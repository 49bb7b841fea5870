package architectures

import (
	"math"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// Model.Loss (the fused head and loss) gives the loss and every parameter's
// gradient of CrossEntropy(Logits): bound 1e-5 of the largest gradient of
// each parameter, 1e-6 relative on the loss. It also passes GradCheck. The
// tied model's head is the token embedding (one parameter fewer).
func TestModelLossMatchesLogits(t *testing.T) {
	for _, tied := range []bool{false, true} {
		t.Run(map[bool]string{false: "untied", true: "tied"}[tied], func(t *testing.T) {
			cfg := ModelConfig{Vocab: 11, D: 8, Heads: 2, Layers: 2, MaxLen: 9, Mix: "linear, softmax",
				Channel: "mlp", MLPRatio: 2, Norm: "layernorm", Position: "learned", Chunk: 4, TieEmbeddings: tied}
			m, err := NewModel(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			cfg.TieEmbeddings = !tied
			other, _ := NewModel(cfg, 3)
			if d := len(other.Params()) - len(m.Params()); d != map[bool]int{false: -1, true: 1}[tied] {
				t.Fatalf("tied=%v: %d parameters, untwinned model %d", tied, len(m.Params()), len(other.Params()))
			}
			checkLoss(t, m)
		})
	}
}

func checkLoss(t *testing.T, m *Model) {
	rng := rand.New(rand.NewPCG(6, 6))
	ids := kernels.NewInts(2, 9)
	for i := range ids.Ints {
		ids.Ints[i] = int32(rng.IntN(11))
	}
	at, tg := kernels.NewInts(7), kernels.NewInts(7)
	copy(at.Ints, []int32{0, 3, 4, 8, 10, 13, 17})
	copy(tg.Ints, []int32{1, kernels.Ignore, 5, 10, 0, kernels.Ignore, 7})
	run := func(fused bool) (float32, [][]float32) {
		g := kernels.NewGraph()
		var loss *kernels.Node
		var grads []*kernels.Node
		err := kernels.Catch(func() {
			idn, atn, tgn := g.Const("ids", ids), g.Const("at", at), g.Const("t", tg)
			if fused {
				loss = m.Loss(g, idn, atn, tgn, Chunked)
			} else {
				loss = g.CrossEntropy(m.Logits(g, idn, atn, Chunked), tgn)
			}
			nodes := make([]*kernels.Node, 0)
			for _, p := range m.Params() {
				nodes = append(nodes, g.Param(p))
			}
			grads = g.Grad(loss, nodes)
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := kernels.Compile(g, append([]*kernels.Node{loss}, grads...)...)
		if err != nil {
			t.Fatal(err)
		}
		p.Run()
		out := make([][]float32, len(grads))
		for i, gn := range grads {
			out[i] = append([]float32(nil), p.Value(gn).Data...)
		}
		return p.Value(loss).Data[0], out
	}
	wl, wg := run(false)
	gl, gg := run(true)
	if math.Abs(float64(gl-wl)) > 1e-6*(1+math.Abs(float64(wl))) {
		t.Errorf("loss %v, CrossEntropy(Logits) %v", gl, wl)
	}
	for i, p := range m.Params() {
		var d, big float64
		for j := range wg[i] {
			d = math.Max(d, math.Abs(float64(gg[i][j]-wg[i][j])))
			big = math.Max(big, math.Abs(float64(wg[i][j])))
		}
		if d > 1e-5*big || math.IsNaN(d) {
			t.Errorf("%s: gradient differs by %.3g (largest %.3g)", p.Name, d, big)
		}
	}
	e, err := kernels.GradCheck(5, m.Params(), gradEps, 6, func(g *kernels.Graph) *kernels.Node {
		return m.Loss(g, g.Const("ids", ids), g.Const("at", at), g.Const("t", tg), Chunked)
	})
	if err != nil {
		t.Fatal(err)
	}
	if e > gradTol {
		t.Fatalf("gradient error %.3g > %g", e, gradTol)
	}
}

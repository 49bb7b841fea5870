package architectures

import (
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

func tinyModel(t testing.TB, mix, channel, normKind string) *Model {
	m, err := NewModel(ModelConfig{Vocab: 11, D: 8, Heads: 2, Layers: 2, MaxLen: 9, Mix: mix,
		Channel: channel, MLPRatio: 2, Norm: normKind, Position: "learned", Chunk: 4}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The whole stack's gradients (embeddings, norms, mixers, channel mixers,
// head at the target rows, masked cross-entropy) match finite differences.
func TestModelGradients(t *testing.T) {
	for _, c := range []struct{ mix, channel, norm string }{
		{"softmax", "mlp", "layernorm"},
		{"linear, softmax", "glu", "rmsnorm"},
		{"linear + swa(window=3)", "none", "layernorm"},
		{"gla, deltanet", "rwkv_cmix", "rmsnorm"},
		{"softmax", "identity", "layernorm"},
	} {
		t.Run(c.mix, func(t *testing.T) {
			m := tinyModel(t, c.mix, c.channel, c.norm)
			rng := rand.New(rand.NewPCG(4, 4))
			for _, p := range m.Params() {
				if len(p.Value.Shape) >= 2 {
					p.Value.Randn(rng, 0.3)
				}
			}
			ids := kernels.NewInts(2, 9)
			for i := range ids.Ints {
				ids.Ints[i] = int32(rng.IntN(11))
			}
			at := kernels.NewInts(3)
			copy(at.Ints, []int32{4, 8, 13})
			tg := kernels.NewInts(3)
			copy(tg.Ints, []int32{1, 5, 10})
			e, err := kernels.GradCheck(5, m.Params(), gradEps, 6, func(g *kernels.Graph) *kernels.Node {
				return g.CrossEntropy(m.Logits(g, g.Const("ids", ids), g.Const("at", at), Chunked), g.Const("t", tg))
			})
			if err != nil {
				t.Fatal(err)
			}
			if e > gradTol {
				t.Fatalf("gradient error %.3g > %g", e, gradTol)
			}
		})
	}
}

func TestModelBadInput(t *testing.T) {
	base := ModelConfig{Vocab: 11, D: 8, Heads: 2, Layers: 2, MaxLen: 9, Mix: "softmax", Channel: "mlp", MLPRatio: 2, Norm: "layernorm", Position: "learned"}
	for _, mod := range []func(*ModelConfig){
		func(c *ModelConfig) { c.Heads = 3 },
		func(c *ModelConfig) { c.D = 0 },
		func(c *ModelConfig) { c.Mix = "gla*" },
		func(c *ModelConfig) { c.Mix = "softmax, softmax, softmax" },
		func(c *ModelConfig) { c.Mix = "nosuch" },
		func(c *ModelConfig) { c.Channel = "moe" },
		func(c *ModelConfig) { c.Norm = "batchnorm" },
		func(c *ModelConfig) { c.Position = "rope" },
	} {
		c := base
		mod(&c)
		_, err := NewModel(c, 1)
		b, ok := err.(interface{ BadInput() bool })
		if err == nil || !ok || !b.BadInput() {
			t.Errorf("%+v: got %v, want a bad-input error", c, err)
		}
	}
}

func TestModelCounts(t *testing.T) {
	m := tinyModel(t, "softmax", "mlp", "layernorm")
	var n int64
	for _, p := range m.Params() {
		n += int64(p.Value.Len())
	}
	if m.ParamCount() != n || n == 0 {
		t.Fatalf("ParamCount %d, sum %d", m.ParamCount(), n)
	}
	if m.StateBytes(9) != 2*2*9*8*4 {
		t.Fatalf("two softmax layers at L=9, D=8: %d state bytes", m.StateBytes(9))
	}
}

package architectures

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// deltaVariants are the delta-rule argument settings besides the defaults
// (which mixerCases covers): the bare delta rule of the earlier lab layer
// (behind a pre-conv), and each of the flash-linear-attention pieces alone.
var deltaVariants = []map[string]string{
	{"qkv_conv": "0", "act": "none", "norm": "false", "conv": "2"},
	{"qkv_conv": "0", "act": "silu", "norm": "false"},
	{"qkv_conv": "2", "act": "none", "norm": "false"},
	{"qkv_conv": "0", "act": "none", "norm": "true"},
	{"qkv_conv": "3", "conv": "2"},
}

// The three forms agree and the chunked gradients match finite differences
// for every variant of both delta-rule mixers.
func TestDeltaVariants(t *testing.T) {
	for _, name := range []string{"deltanet", "gated_deltanet"} {
		for i, args := range deltaVariants {
			c := mixerCase{name, fmt.Sprintf("%s%v", name, args), args}
			t.Run(c.name, func(t *testing.T) {
				for _, l := range []int{1, 8, 13} {
					cfg := Config{D: 16, Heads: 2, Chunk: 4, Layers: 2, MaxLen: 16}
					m := newTestMixer(t, c, cfg, uint64(l))
					x := kernels.New(2, l, cfg.D).Randn(rand.New(rand.NewPCG(uint64(l), 3)), 1)
					par := runForm(t, m, x, Parallel)
					if e := maxRelDiff(runForm(t, m, x, Chunked), par); e > formTol {
						t.Errorf("L%d: chunked vs parallel: %.3g > %g", l, e, formTol)
					}
					rec, st := runRecurrent(m, x)
					if e := maxRelDiff(rec, par); e > formTol {
						t.Errorf("L%d: recurrent vs parallel: %.3g > %g", l, e, formTol)
					}
					if got, want := st.Bytes(), 2*m.StateBytes(l); got != want {
						t.Errorf("L%d: state tensors hold %d bytes for batch 2, StateBytes says %d per sequence", l, got, want/2)
					}
				}
				cfg := Config{D: 8, Heads: 2, Chunk: 3, Layers: 1, MaxLen: 8}
				m := newTestMixer(t, c, cfg, uint64(i))
				x := kernels.NewParam("x", kernels.New(2, 7, cfg.D).Randn(rand.New(rand.NewPCG(uint64(i), 5)), 1))
				e, err := kernels.GradCheck(uint64(i), append([]*kernels.Param{x}, m.Params()...), gradEps, 12, func(g *kernels.Graph) *kernels.Node {
					return m.Build(g, g.Param(x), Chunked)
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
}

func TestDeltaBadArgs(t *testing.T) {
	cfg := Config{D: 8, Heads: 2, MaxLen: 32}
	for _, args := range []map[string]string{
		{"qkv_conv": "-1"}, {"qkv_conv": "64"}, {"act": "relu"}, {"norm": "maybe"},
	} {
		_, err := NewMixer("deltanet", args, cfg, rand.New(rand.NewPCG(1, 1)))
		var ie *InputError
		if err == nil || !asInput(err, &ie) {
			t.Errorf("deltanet %v: got %v, want an InputError", args, err)
		}
	}
}

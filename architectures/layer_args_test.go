package architectures

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// checkVariants holds a mixer's argument settings that mixerCases does not
// list (the old layers kept reachable by an argument, new options) to the
// same checks as TestFormsAgree and TestChunkedGradients: the three forms
// agree at lengths 1, 8 and 13 (chunk 4) with the state bytes StateBytes
// says, and the chunked gradients match finite differences.
func checkVariants(t *testing.T, cases []mixerCase) {
	for i, c := range cases {
		for _, l := range []int{1, 8, 13} {
			t.Run(fmt.Sprintf("%s/L%d", c.name, l), func(t *testing.T) {
				cfg := Config{D: 16, Heads: 2, Chunk: 4, Layers: 2, MaxLen: 16}
				m := newTestMixer(t, c, cfg, uint64(l))
				x := kernels.New(2, l, cfg.D).Randn(rand.New(rand.NewPCG(uint64(l), 3)), 1)
				par := runForm(t, m, x, Parallel)
				chk := runForm(t, m, x, Chunked)
				rec, st := runRecurrent(m, x)
				if e := maxRelDiff(chk, par); e > formTol {
					t.Errorf("chunked vs parallel: %.3g > %g", e, formTol)
				}
				if e := maxRelDiff(rec, par); e > formTol {
					t.Errorf("recurrent vs parallel: %.3g > %g", e, formTol)
				}
				if got, want := st.Bytes(), 2*m.StateBytes(l); got != want {
					t.Errorf("state tensors hold %d bytes for batch 2, StateBytes says %d per sequence", got, want/2)
				}
			})
		}
		t.Run(c.name+"/grad", func(t *testing.T) {
			cfg := Config{D: 8, Heads: 2, Chunk: 3, Layers: 1, MaxLen: 8}
			m := newTestMixer(t, c, cfg, uint64(100+i))
			x := kernels.NewParam("x", kernels.New(2, 7, cfg.D).Randn(rand.New(rand.NewPCG(uint64(i), 5)), 1))
			params := append([]*kernels.Param{x}, m.Params()...)
			e, err := kernels.GradCheck(uint64(i), params, gradEps, 12, func(g *kernels.Graph) *kernels.Node {
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

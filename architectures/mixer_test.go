package architectures

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// formTol bounds the difference between a mixer's forms, relative to the
// largest output magnitude: float32 sums in different orders.
const formTol = 1e-4

// gradTol bounds kernels.GradCheck's error for the chunked form.
const gradTol = 2e-2

// gradEps is the finite-difference step: small enough for the curvature of
// relu features under the normaliser, large enough for float32 rounding.
const gradEps = 1e-3

type mixerCase struct {
	mixer, name string
	args        map[string]string
}

// mixerCases lists every registered mixer with a few argument settings.
func mixerCases() []mixerCase {
	var cs []mixerCase
	extra := map[string][]map[string]string{
		"swa":      {{"window": "5"}, {"window": "1"}},
		"based":    {{"window": "4", "kernel": "2", "feature_dim": "3"}},
		"retnet":   {{}, {"conv": "3"}},
		"baseconv": {{}, {"long": "true", "filter_order": "4"}},
		"mamba":    {{}, {"scan": "gla", "d_state": "3", "expand": "1"}},
		"h3":       {{}, {"head_dim": "4", "d_state": "3", "shift": "2"}},
		"hyena":    {{}, {"conv": "1", "filter_order": "4"}},
		"linear":   {{"feature": "elu1"}, {"feature": "elu1", "conv": "2"}, {"feature": "relu", "norm": "false"}, {"feature": "identity", "norm": "false"}, {"feature": "relu"}},
	}
	for _, n := range Names() {
		if a, ok := extra[n]; ok {
			for _, args := range a {
				cs = append(cs, mixerCase{n, fmt.Sprintf("%s%v", n, args), args})
			}
			continue
		}
		cs = append(cs, mixerCase{n, n, nil})
	}
	return cs
}

// initMixer builds mixer name with args at its training init (weights as
// drawn, unlike newTestMixer) from rand.NewPCG(s1, s2), as its concrete type.
func initMixer[T Mixer](t testing.TB, name string, args map[string]string, cfg Config, s1, s2 uint64) T {
	t.Helper()
	m, err := NewMixer(name, args, cfg, rand.New(rand.NewPCG(s1, s2)))
	if err != nil {
		t.Fatal(err)
	}
	return m.(T)
}

func newTestMixer(t testing.TB, c mixerCase, cfg Config, seed uint64) Mixer {
	rng := rand.New(rand.NewPCG(seed, 1))
	m, err := NewMixer(c.mixer, c.args, cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than the training init, so the test exercises the maths.
	for _, p := range m.Params() {
		if len(p.Value.Shape) >= 2 {
			p.Value.Randn(rng, 0.4)
		}
	}
	return m
}

func runForm(t testing.TB, m Mixer, x *kernels.Tensor, form Form) []float32 {
	g := kernels.NewGraph()
	in := g.Const("x", x)
	var y *kernels.Node
	if err := kernels.Catch(func() { y = m.Build(g, in, form) }); err != nil {
		t.Fatal(err)
	}
	p, err := kernels.Compile(g, y)
	if err != nil {
		t.Fatal(err)
	}
	p.Run()
	return p.Value(y).Data
}

func runRecurrent(m Mixer, x *kernels.Tensor) ([]float32, *State) {
	b, l, d := x.Shape[0], x.Shape[1], x.Shape[2]
	s := m.NewState(b)
	out := make([]float32, b*l*d)
	xt, yt := make([]float32, b*d), make([]float32, b*d)
	for t := 0; t < l; t++ {
		for bi := 0; bi < b; bi++ {
			copy(xt[bi*d:(bi+1)*d], x.Data[(bi*l+t)*d:(bi*l+t+1)*d])
		}
		m.Step(s, xt, yt)
		for bi := 0; bi < b; bi++ {
			copy(out[(bi*l+t)*d:(bi*l+t+1)*d], yt[bi*d:(bi+1)*d])
		}
	}
	return out, s
}

func maxRelDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(m, 1e-12)
}

// All three forms agree: batch 2, 2 heads, lengths that are and are not
// multiples of the chunk size.
func TestFormsAgree(t *testing.T) {
	for _, c := range mixerCases() {
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
	}
}

func TestChunkedGradients(t *testing.T) {
	for i, c := range mixerCases() {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{D: 8, Heads: 2, Chunk: 3, Layers: 1, MaxLen: 8}
			m := newTestMixer(t, c, cfg, uint64(i))
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

func TestCountsGrow(t *testing.T) {
	cfg := Config{D: 64, Heads: 2, Chunk: 16, Layers: 2}
	for _, c := range mixerCases() {
		m := newTestMixer(t, c, cfg, 1)
		if m.FLOPs(1024) <= 0 || m.StateBytes(1024) <= 0 {
			t.Errorf("%s: non-positive counts", c.name)
		}
		if m.FLOPs(1024) < m.FLOPs(64) || m.StateBytes(1024) < m.StateBytes(64) {
			t.Errorf("%s: counts shrink with length", c.name)
		}
	}
	soft := newTestMixer(t, mixerCase{"softmax", "softmax", nil}, cfg, 1)
	if soft.StateBytes(1024) != 2*1024*64*4 {
		t.Errorf("softmax KV cache at 1024: %d bytes", soft.StateBytes(1024))
	}
}

func TestBadMixerInput(t *testing.T) {
	cfg := Config{D: 8, Heads: 2, MaxLen: 32}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		name string
		args map[string]string
	}{
		{"nosuch", nil}, {"softmax", map[string]string{"window": "3"}}, {"softmax", map[string]string{"conv": "-1"}},
		{"linear", map[string]string{"conv": "64"}}, {"swa", map[string]string{"window": "64"}},
		{"swa", map[string]string{"window": "0"}}, {"linear", map[string]string{"feature": "tanh"}},
		{"linear", map[string]string{"norm": "maybe"}},
	} {
		_, err := NewMixer(c.name, c.args, cfg, rng)
		var ie *InputError
		if err == nil || !asInput(err, &ie) {
			t.Errorf("%s %v: got %v, want an InputError", c.name, c.args, err)
		}
	}
}

func asInput(err error, target **InputError) bool {
	e, ok := err.(*InputError)
	*target = e
	return ok
}

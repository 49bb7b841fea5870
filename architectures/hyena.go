package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// hyena is the order-2 Hyena operator (Poli et al.), as Zoology runs it:
//
//	x1, x2, v = conv(x W_1 + b_1), conv(x W_2 + b_2), conv(x W_v + b_v)   (short depthwise filters)
//	z = v ⊙ x1
//	z = (h ∗ z) + β ⊙ z          (implicit long filter h over the whole length, skip β)
//	y = (z ⊙ x2) W_o + b_o
//
// h [Lmax, D] is implicitFilter's (see baseconv.go): an MLP of filter_order
// units over positional features times an exponential decay window, with
// tanh where Hyena uses a sine. One filter per channel (Zoology's default of
// one head).
//
// The three short filters start as PyTorch's Conv1d does in Zoology's Hyena,
// taps U(±1/√conv) (short_init=uniform, the default since 2026-12-07). The
// old layer (short_init=identity) started them near the identity, so x1, x2
// and v were three projections of the current token alone and the gates had
// no previous token to combine; in the zoo (3000 steps) hyena reaches 0.710
// at L 64 with the uniform start and 0.366 with the identity one.
//
//	parallel:  the long convolution as a Toeplitz matrix product (O(L²))
//	chunked:   depthwiseConv's block-Toeplitz GEMMs over chunks of c tokens
//	           (Hyena trains by FFT convolution; this needs no new op and no
//	           [L, L] matrix, at O(L²·D) work on GEMMs)
//	recurrent: the long convolution token by token from a cache of the past
//	           inputs of the long filter (min(L, Lmax-1)·D floats) and the
//	           three short filters' windows (3·(conv-1)·D floats)
type hyena struct {
	p1, p2, pv, o *dense
	c1, c2, cv    *shortConv
	filter        *implicitFilter
	beta          *kernels.Param // [D]
	c             Config
}

func init() {
	Register(Spec{
		Name: "hyena", Family: "convolution",
		Doc:          "Hyena (order 2): short convs on three projections, implicit long filter (MLP × decay window), element-wise gates",
		StateFormula: "min(L, Lmax-1)·D + 3·(conv-1)·D floats",
		Args: []Arg{
			{Name: "conv", Default: "3", Doc: "taps of the short depthwise filters"},
			{Name: "filter_order", Default: "64", Doc: "width of the long filter's MLP"},
			{Name: "short_init", Default: "uniform", Doc: "uniform: the short filters' taps U(±1/√conv), as PyTorch's Conv1d (Zoology); identity: near the identity, tap 0 = 1 + N(0, 0.1), others N(0, 0.1) (the old layer)", Enum: []string{"uniform", "identity"}},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			k, err := a.Int("conv", 1)
			if err != nil {
				return nil, err
			}
			order, err := a.Int("filter_order", 1)
			if err != nil {
				return nil, err
			}
			std := initStd(false, c.Layers)
			m := &hyena{c: c,
				p1: newDense("hyena.x1", c.D, c.D, true, std, rng), p2: newDense("hyena.x2", c.D, c.D, true, std, rng),
				pv: newDense("hyena.v", c.D, c.D, true, std, rng), o: newDense("hyena.o", c.D, c.D, true, initStd(true, c.Layers), rng),
				c1: newShortConv("hyena.x1", k, c.D, rng), c2: newShortConv("hyena.x2", k, c.D, rng), cv: newShortConv("hyena.v", k, c.D, rng),
				filter: newImplicitFilter("hyena.filter", c.D, order, c.MaxLen, rng),
				beta:   kernels.NewParam("hyena.filter_bias", kernels.New(c.D).Randn(rng, 1)),
			}
			if a.String("short_init") == "uniform" {
				for _, sc := range []*shortConv{m.c1, m.c2, m.cv} {
					sc.uniformInit(rng)
				}
			}
			return m, nil
		},
	})
}

// uniformInit redraws a short filter's taps from U(±1/√K), PyTorch's
// default for a depthwise Conv1d of K taps (fan-in K), which Zoology's
// Hyena, BaseConv and H3 shift filters start from.
func (c *shortConv) uniformInit(rng *rand.Rand) {
	bd := 1 / math.Sqrt(float64(c.k))
	c.w.Value.Uniform(rng, -bd, bd)
}

func (m *hyena) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.p1, m.p2, m.pv, m.o} {
		ps = append(ps, d.params()...)
	}
	for _, c := range []*shortConv{m.c1, m.c2, m.cv} {
		ps = append(ps, c.params()...)
	}
	return append(append(ps, m.filter.params()...), m.beta)
}

func (m *hyena) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	br := func(d *dense, c *shortConv) *kernels.Node { return c.build(g, d.apply(g, x)) }
	x1, x2, v := br(m.p1, m.c1), br(m.p2, m.c2), br(m.pv, m.cv)
	z := g.Mul(v, x1)
	z = g.Add(depthwiseConv(g, z, m.filter.build(g, x.Shape[1]), form, m.c.Chunk), g.MulRowVec(z, g.Param(m.beta)))
	return m.o.apply(g, g.Mul(z, x2))
}

func (m *hyena) StateBytes(L int) int64 {
	return m.filter.cacheBytes(L, m.c.D) + 3*m.c1.stateBytes()
}

// FLOPs counts the projections, the short filters, the gates and the long
// convolution over the taps a token sees; the filter itself depends on no
// input and is computed once per sequence length, not per token.
func (m *hyena) FLOPs(L int) float64 {
	taps := L
	if m.filter.taps > 0 {
		taps = m.filter.taps
	}
	d := float64(m.c.D)
	return m.p1.flops() + m.p2.flops() + m.pv.flops() + m.o.flops() + 3*m.c1.flops() + 2*d*meanTaps(taps, L) + 6*d
}

func (m *hyena) NewState(batch int) *State {
	return &State{Tensors: []*kernels.Tensor{kernels.New(0, batch, m.c.D), m.c1.newState(batch), m.c2.newState(batch), m.cv.newState(batch)}}
}

func (m *hyena) Step(s *State, x, y []float32) {
	n := len(x)
	pre := make([]float32, n)
	br := func(d *dense, c *shortConv, st *kernels.Tensor) []float32 {
		out := make([]float32, n)
		d.step(x, pre)
		c.step(st, pre, out)
		return out
	}
	x1, x2, v := br(m.p1, m.c1, s.Tensors[1]), br(m.p2, m.c2, s.Tensors[2]), br(m.pv, m.cv, s.Tensors[3])
	for i := range v {
		v[i] *= x1[i]
	}
	z := make([]float32, n)
	m.filter.step(s.Tensors[0], s.Pos, v, z)
	d := m.c.D
	for i := range z {
		z[i] = (z[i] + m.beta.Value.Data[i%d]*v[i]) * x2[i]
	}
	s.Pos++
	m.o.step(z, y)
}

package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// gla is gated linear attention (Yang et al.): a data-dependent decay per key
// dimension from a low-rank projection of the input,
//
//	α_t = sigmoid(x_t W_a1 W_a2 + b)^(1/τ)          (per key dim, per head)
//	S_t = diag(α_t) S_{t-1} + k_t v_tᵀ,   o_t = q_tᵀ S_t
//	y_t = W_o (o_t ⊙ silu(x_t W_g))
//
//	parallel:  Σ_d q_t,d k_s,d Π_{r=s+1..t} α_r,d, one fused DecayScores op ([N, L, L] out)
//	chunked:   decayCore's per-dimension chunked form
//	recurrent: S, H·dh² floats
type gla struct {
	p        qkvo
	a1, a2   *dense // low-rank decay projection; a2 carries the bias b
	gate     *dense
	c        Config
	tau      float64
	rankSize int
}

func init() {
	Register(Spec{
		Name: "gla", Family: "gated",
		Doc:          "gated linear attention: data-dependent decay per key dim (low-rank)",
		StateFormula: "H·dh² floats",
		Args: []Arg{
			{Name: "rank", Default: "16", Doc: "rank of the decay projection"},
			{Name: "tau", Default: "16", Doc: "decay temperature: α = sigmoid(·)^(1/tau)"},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			r, err := a.Int("rank", 1)
			if err != nil {
				return nil, err
			}
			tau, err := a.Float("tau", 1e-3, 1e6)
			if err != nil {
				return nil, err
			}
			m := &gla{p: newQKVO("gla", c, rng), c: c, tau: tau, rankSize: r}
			m.a1 = newDense("gla.decay1", c.D, r, false, initStd(false, c.Layers), rng)
			m.a2 = newDense("gla.decay2", r, c.D, true, initStd(false, c.Layers), rng)
			m.a2.B.Value.Fill(4) // start with slow decay: sigmoid(4)^(1/16) ≈ 0.999
			m.a2.B.Name = "gla.decay_bias"
			m.gate = newDense("gla.gate", c.D, c.D, false, initStd(false, c.Layers), rng)
			return m, nil
		},
	})
}

func (m *gla) Params() []*kernels.Param {
	ps := append(m.p.params(), m.a1.params()...)
	ps = append(ps, m.a2.params()...)
	return append(ps, m.gate.params()...)
}

// logDecay is logsigmoid(z)/τ = -softplus(-z)/τ.
func (m *gla) logDecay(g *kernels.Graph, z *kernels.Node) *kernels.Node {
	return g.Scale(g.Act(kernels.Softplus, g.Scale(z, -1)), float32(-1/m.tau))
}

func (m *gla) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, h := x.Shape[0], m.c.Heads
	dh := m.c.D / h
	q := splitHeads(g, g.Scale(m.p.q.apply(g, x), float32(1/math.Sqrt(float64(dh)))), h)
	k := splitHeads(g, m.p.k.apply(g, x), h)
	v := splitHeads(g, m.p.v.apply(g, x), h)
	lg := splitHeads(g, m.logDecay(g, m.a2.apply(g, m.a1.apply(g, x))), h)
	var o *kernels.Node
	if form == Parallel {
		o = decayParallel(g, q, k, v, lg, decayOpts{})
	} else {
		o = decayChunked(g, q, k, v, lg, m.c.Chunk, decayOpts{})
	}
	o = mergeHeads(g, o, b, h)
	return m.p.o.apply(g, g.Mul(o, g.Act(kernels.SiLU, m.gate.apply(g, x))))
}

func (m *gla) StateBytes(L int) int64 {
	dh := m.c.D / m.c.Heads
	return int64(m.c.Heads*dh*dh) * 4
}

func (m *gla) FLOPs(L int) float64 {
	d := float64(m.c.D)
	return m.p.flops() + m.a1.flops() + m.a2.flops() + m.gate.flops() + 4*d*float64(m.c.D/m.c.Heads)
}

func (m *gla) NewState(batch int) *State {
	dh := m.c.D / m.c.Heads
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.c.Heads, dh, dh)}}
}

func (m *gla) Step(s *State, x, y []float32) {
	d, h := m.c.D, m.c.Heads
	dh := d / h
	b := len(x) / d
	q, k, v := m.p.stepQKV(x)
	gt, low, z := make([]float32, b*d), make([]float32, b*m.rankSize), make([]float32, b*d)
	m.gate.step(x, gt)
	m.a1.step(x, low)
	m.a2.step(low, z)
	sc := float32(1 / math.Sqrt(float64(dh)))
	for i := range z {
		z[i] = -kernels.Softplus.Eval(-z[i]) / float32(m.tau)
		q[i] *= sc
	}
	o := make([]float32, b*d)
	eachHead(s, b, h, dh, func(off int, st []float32) {
		decayStep(st, q[off:off+dh], k[off:off+dh], v[off:off+dh], z[off:off+dh], nil, o[off:off+dh])
	})
	for i := range o {
		o[i] *= kernels.SiLU.Eval(gt[i])
	}
	s.Pos++
	m.p.o.step(o, y)
}

package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// tokenShift returns x shifted one step back in time (zeros at t = 0), the
// RWKV token shift: [B, L, D] → x_{t-1}.
func tokenShift(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	return g.Slice(g.Pad(x, 1, 1, 0), 1, 0, x.Shape[1])
}

// shiftDiff returns x_{t-1} - x_t, shared by a layer's token-shift mixes.
func shiftDiff(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	return g.Sub(tokenShift(g, x), x)
}

// shiftMix interpolates between x_t and x_{t-1} per channel: x + μ⊙(x_{t-1} - x),
// with diff = shiftDiff(x).
func shiftMix(g *kernels.Graph, x, diff *kernels.Node, mu *kernels.Param) *kernels.Node {
	return g.Add(x, g.MulRowVec(diff, g.Param(mu)))
}

func newMu(name string, d int, rng *rand.Rand) *kernels.Param {
	return kernels.NewParam(name, kernels.New(d).Uniform(rng, 0, 1))
}

// rwkv6 is RWKV-6 style time mixing: token shift, a data-dependent decay
// per channel from a low-rank projection, and a bonus u for the current
// token:
//
//	w_t = exp(-exp(d + tanh(x_w A) B))          (per key channel)
//	S_t = diag(w_t) S_{t-1} + k_t v_tᵀ
//	o_t = r_tᵀ (S_{t-1} + diag(u) k_t v_tᵀ),    y_t = W_o (o_t ⊙ silu(x_g W_g))
//
// where x_* mixes x_t and x_{t-1} with learned per-channel weights μ_*.
//
//	parallel:  decayCore's exclusive per-dimension form (L×L per channel)
//	chunked:   decayCore's chunked form
//	recurrent: S (H·dh² floats) and the previous token (D floats)
type rwkv6 struct {
	p                  qkvo // q is the receptance r
	gate, wa, wb       *dense
	muR, muK, muV, muW *kernels.Param
	muG, bonus         *kernels.Param
	c                  Config
	rank               int
}

func init() {
	Register(Spec{
		Name: "rwkv6", Family: "gated",
		Doc:          "RWKV-6 style: token shift, data-dependent per-channel decay, bonus u",
		StateFormula: "H·dh² + D floats",
		Args:         []Arg{{Name: "rank", Default: "16", Doc: "rank of the decay projection"}},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			r, err := a.Int("rank", 1)
			if err != nil {
				return nil, err
			}
			std := initStd(false, c.Layers)
			m := &rwkv6{p: newQKVO("rwkv6", c, rng), c: c, rank: r,
				gate: newDense("rwkv6.gate", c.D, c.D, false, std, rng),
				wa:   newDense("rwkv6.decay1", c.D, r, false, std, rng),
				wb:   newDense("rwkv6.decay2", r, c.D, true, std, rng),
				muR:  newMu("rwkv6.mu_r", c.D, rng), muK: newMu("rwkv6.mu_k", c.D, rng),
				muV: newMu("rwkv6.mu_v", c.D, rng), muW: newMu("rwkv6.mu_w", c.D, rng), muG: newMu("rwkv6.mu_g", c.D, rng),
				bonus: kernels.NewParam("rwkv6.u", kernels.New(c.Heads, c.D/c.Heads).Randn(rng, 0.1)),
			}
			m.wb.B.Name = "rwkv6.decay_bias"
			// Decay rates spread over the channels from slow to fast, as RWKV-6
			// initialises them (its first layer's curve): d_n = -6 + 5·(n/(D-1))^0.7,
			// so w = exp(-exp(d)) runs from 0.998 (a memory of hundreds of tokens)
			// to 0.69. A single w ≈ 0.87 for every channel forgets a key within ~20
			// tokens, and MQAR's queries come up to ~50 tokens after their keys.
			for n := 0; n < c.D; n++ {
				m.wb.B.Value.Data[n] = float32(-6 + 5*math.Pow(float64(n)/float64(max(1, c.D-1)), 0.7))
			}
			return m, nil
		},
	})
}

func (m *rwkv6) Params() []*kernels.Param {
	ps := append(m.p.params(), m.gate.params()...)
	ps = append(ps, m.wa.params()...)
	ps = append(ps, m.wb.params()...)
	return append(ps, m.muR, m.muK, m.muV, m.muW, m.muG, m.bonus)
}

func (m *rwkv6) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, h := x.Shape[0], m.c.Heads
	diff := shiftDiff(g, x)
	rFull := m.p.q.apply(g, shiftMix(g, x, diff, m.muR))
	r := splitHeads(g, rFull, h)
	k := splitHeads(g, m.p.k.apply(g, shiftMix(g, x, diff, m.muK)), h)
	v := splitHeads(g, m.p.v.apply(g, shiftMix(g, x, diff, m.muV)), h)
	z := m.wb.apply(g, g.Act(kernels.Tanh, m.wa.apply(g, shiftMix(g, x, diff, m.muW))))
	lg := splitHeads(g, g.Scale(g.Act(kernels.Exp, z), -1), h)   // log w = -exp(z)
	ru := g.MulRowVec(rFull, g.Reshape(g.Param(m.bonus), m.c.D)) // r ⊙ u, u's heads laid out as r's channels
	opts := decayOpts{exclusive: true, bonusQ: splitHeads(g, ru, h)}
	var o *kernels.Node
	if form == Parallel {
		o = decayParallel(g, r, k, v, lg, opts)
	} else {
		o = decayChunked(g, r, k, v, lg, m.c.Chunk, opts)
	}
	o = mergeHeads(g, o, b, h)
	gt := g.Act(kernels.SiLU, m.gate.apply(g, shiftMix(g, x, diff, m.muG)))
	return m.p.o.apply(g, g.Mul(o, gt))
}

func (m *rwkv6) StateBytes(L int) int64 {
	dh := m.c.D / m.c.Heads
	return int64(m.c.Heads*dh*dh+m.c.D) * 4
}

func (m *rwkv6) FLOPs(L int) float64 {
	d := float64(m.c.D)
	return m.p.flops() + m.gate.flops() + m.wa.flops() + m.wb.flops() + 4*d*float64(m.c.D/m.c.Heads) + 10*d
}

func (m *rwkv6) NewState(batch int) *State {
	dh := m.c.D / m.c.Heads
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.c.Heads, dh, dh), kernels.New(batch, m.c.D)}}
}

// mixVec is shiftMix for one token.
func mixVec(x, prev []float32, mu *kernels.Param, out []float32) {
	d := len(mu.Value.Data)
	for i := range x {
		out[i] = x[i] + mu.Value.Data[i%d]*(prev[i]-x[i])
	}
}

func (m *rwkv6) Step(s *State, x, y []float32) {
	d, h := m.c.D, m.c.Heads
	dh := d / h
	b := len(x) / d
	prev := s.Tensors[1].Data
	tmp := make([]float32, b*d)
	proj := func(mu *kernels.Param, dn *dense) []float32 {
		out := make([]float32, b*dn.out)
		mixVec(x, prev, mu, tmp)
		dn.step(tmp, out)
		return out
	}
	r, k, v, gt := proj(m.muR, m.p.q), proj(m.muK, m.p.k), proj(m.muV, m.p.v), proj(m.muG, m.gate)
	low := proj(m.muW, m.wa)
	for i := range low {
		low[i] = kernels.Tanh.Eval(low[i])
	}
	z := make([]float32, b*d)
	m.wb.step(low, z)
	for i := range z {
		z[i] = -expf(z[i])
	}
	o := make([]float32, b*d)
	eachHead(s, b, h, dh, func(off int, st []float32) {
		u := m.bonus.Value.Data[off%d : off%d+dh]
		decayStep(st, r[off:off+dh], k[off:off+dh], v[off:off+dh], z[off:off+dh], u, o[off:off+dh])
	})
	for i := range o {
		o[i] *= kernels.SiLU.Eval(gt[i])
	}
	copy(prev, x)
	s.Pos++
	m.p.o.step(o, y)
}

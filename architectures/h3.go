package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// h3 is the H3 layer (Fu, Dao et al., "Hungry Hungry Hippos"): a shift SSM
// on the keys, a diagonal SSM on the key-value product, and multiplicative
// gates with the queries. With H = D/head_dim channels of head_dim dh:
//
//	q, k, v = x W_q + b_q, x W_k + b_k, x W_v + b_v
//	k̃ = shift(k)                       (shift SSM: a learned causal filter of `shift` taps, per dim)
//	y_t[h] = Σ_{s≤t} K_h[t-s]·(k̃_s v_sᵀ)[h] + D_h·(k̃_t v_tᵀ)[h]     ([dh, dh] per channel h)
//	K_h[l] = Σ_n C_h,n · exp(λ_h,n · l),   λ_h,n = -exp(w_h,n)      (diagonal SSM of d_state modes)
//	o_t[h] = q_t[h]ᵀ y_t[h],   out = o W_o + b_o
//
// The diagonal SSM is S4D-Real's (real decays; S4D-Lin's complex modes
// would need complex arithmetic): λ_h,n starts at -(n+1)·Δ_h with Δ_h
// log-uniform in [0.001, 0.1]; its input matrix B is folded into C. With
// head_dim 1 (the default, as Zoology's H3) the product k̃ v is element-wise.
//
// C starts as S4D's C·B̄ (c_init=zoh, the default since 2026-12-07): B̄ =
// (e^λ - 1)/A = (1 - e^λ)/(n+1), the zero-order-hold discretisation of B =
// 1, about Δ_h, so a channel's kernel starts about Δ_h times as large as
// its C (between 0.001 and 0.1 of it) and the skip D dominates at first,
// as in S4D. The old layer (c_init=unit) left the factor out: every
// channel's kernel started at order 1, a nearly flat sum over all past
// tokens in the slow channels. In the zoo (3000 steps) h3 reaches 0.414 at
// L 64 with it and 0.266 without.
//
// The shift filter starts as Zoology's shift SSM does (shift_init=uniform,
// the default since 2026-12-07): taps U(±1/√shift), its C, plus a skip D_k
// ~ N(0, 1) on the current token. The old layer (shift_init=identity)
// started it near the identity (tap 0 = 1 + N(0, 0.1), others N(0, 0.1)).
// With both new inits h3 reaches 0.469 at L 64 in the zoo (0.414 with the
// identity shift start).
//
// The SSM is time-invariant, so as in H3 training applies it as a
// convolution with the kernel K (materialised, [L, H], from w and C):
//
//	parallel:  the convolutions as Toeplitz matrix products (O(L²), the reference)
//	chunked:   depthwiseConv's block-Toeplitz GEMMs over chunks for the SSM
//	           kernel (H3 uses an FFT convolution; this needs no new op, at
//	           O(L²·D·dh) work) and for the shift filter when it has more than
//	           8 taps (else kernels.CausalConv)
//	recurrent: the SSM itself, H·dh²·d_state floats, and the shift filter's
//	           window, (shift-1)·D floats
type h3 struct {
	q, k, v, o *dense
	shift      *shortConv
	logRate    *kernels.Param // w [H, N]
	cOut       *kernels.Param // C [H, N]
	skip       *kernels.Param // D [H]
	c          Config
	hd, h, n   int // head_dim, channels, d_state
}

func init() {
	Register(Spec{
		Name: "h3", Family: "decayed",
		Doc:          "H3: shift SSM on keys, diagonal SSM on k⊙v (d_state real modes per channel), output gated by q",
		StateFormula: "D·head_dim·d_state + (shift-1)·D floats",
		Args: []Arg{
			{Name: "d_state", Default: "64", Doc: "modes of the diagonal SSM per channel"},
			{Name: "head_dim", Default: "1", Doc: "dh: the key-value product is dh×dh per channel (must divide D)"},
			{Name: "shift", Default: "64", Doc: "taps of the shift SSM on the keys"},
			{Name: "shift_init", Default: "uniform", Doc: "uniform: the shift filter's taps U(±1/√shift) plus a skip N(0, 1) on tap 0, as Zoology's shift SSM (C, D); identity: tap 0 = 1 + N(0, 0.1), others N(0, 0.1) (the old layer)", Enum: []string{"uniform", "identity"}},
			{Name: "c_init", Default: "zoh", Doc: "zoh: C ~ N(0, 1/d_state) times S4D's zero-order-hold input factor (1-e^λ)/(n+1), about Δ; unit: without it (the old layer)", Enum: []string{"zoh", "unit"}},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			n, err := a.Int("d_state", 1)
			if err != nil {
				return nil, err
			}
			hd, err := a.Int("head_dim", 1)
			if err != nil {
				return nil, err
			}
			sh, err := a.Int("shift", 1)
			if err != nil {
				return nil, err
			}
			if c.D%hd != 0 {
				return nil, inputErr("mixer h3: head_dim=%d: must divide d_model (%d)", hd, c.D)
			}
			h := c.D / hd
			std := initStd(false, c.Layers)
			m := &h3{c: c, hd: hd, h: h, n: n,
				q: newDense("h3.q", c.D, c.D, true, std, rng), k: newDense("h3.k", c.D, c.D, true, std, rng),
				v: newDense("h3.v", c.D, c.D, true, std, rng), o: newDense("h3.o", c.D, c.D, true, initStd(true, c.Layers), rng),
				shift:   newShortConv("h3.shift", sh, c.D, rng),
				logRate: kernels.NewParam("h3.decay_bias", kernels.New(h, n)),
				cOut:    kernels.NewParam("h3.C", kernels.New(h, n).Randn(rng, 1/math.Sqrt(float64(n)))),
				skip:    kernels.NewParam("h3.D", kernels.New(h).Randn(rng, 1)),
			}
			if a.String("shift_init") == "uniform" {
				m.shift.uniformInit(rng)
				for e := 0; e < c.D; e++ { // the skip D_k ~ N(0, 1) on tap 0
					m.shift.w.Value.Data[e] += float32(rng.NormFloat64())
				}
			}
			m.logRate.Decay, m.cOut.Decay = false, false // SSM parameters: no weight decay, as S4's
			for i := 0; i < h; i++ {
				dt := math.Exp(math.Log(0.001) + rng.Float64()*(math.Log(0.1)-math.Log(0.001)))
				for j := 0; j < n; j++ {
					m.logRate.Value.Data[i*n+j] = float32(math.Log(dt * float64(j+1)))
					if a.String("c_init") == "zoh" {
						m.cOut.Value.Data[i*n+j] *= float32(-math.Expm1(-dt*float64(j+1)) / float64(j+1))
					}
				}
			}
			return m, nil
		},
	})
}

func (m *h3) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.q, m.k, m.v, m.o} {
		ps = append(ps, d.params()...)
	}
	return append(append(ps, m.shift.params()...), m.logRate, m.cOut, m.skip)
}

// kernel is K [L, H]: K[l, h] = Σ_n C[h,n]·exp(λ[h,n]·l).
func (m *h3) kernel(g *kernels.Graph, L int) *kernels.Node {
	pos := kernels.New(L, 1)
	for l := range pos.Data {
		pos.Data[l] = float32(l)
	}
	lam := g.Reshape(g.Scale(g.Act(kernels.Exp, g.Param(m.logRate)), -1), 1, m.h*m.n)
	e := g.Act(kernels.Exp, g.MatMul(g.Const("h3_pos", pos), lam, false, false)) // [L, H·N]
	e = g.MulRowVec(e, g.Reshape(g.Param(m.cOut), m.h*m.n))
	return g.SumLast(g.Reshape(e, L, m.h, m.n))
}

func (m *h3) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, l, d, hd := x.Shape[0], x.Shape[1], m.c.D, m.hd
	q, v := m.q.apply(g, x), m.v.apply(g, x)
	k := depthwiseConv(g, m.k.apply(g, x), g.Param(m.shift.w), form, m.c.Chunk)
	kern, skip := m.kernel(g, l), g.Param(m.skip)
	var y *kernels.Node
	if hd == 1 {
		kv := g.Mul(k, v)
		y = g.Add(depthwiseConv(g, kv, kern, form, m.c.Chunk), g.MulRowVec(kv, skip))
		y = g.Mul(q, y)
	} else {
		rows := b * l * m.h
		e := hd * hd // each channel's dh×dh products share its kernel
		kv := g.MatMul(g.Reshape(k, rows, hd, 1), g.Reshape(v, rows, 1, hd), false, false)
		kv = g.Reshape(kv, b, l, m.h*e)
		kx := g.Reshape(g.BroadcastLast(kern, e), l, m.h*e)
		sx := g.Reshape(g.BroadcastLast(skip, e), m.h*e)
		y = g.Add(depthwiseConv(g, kv, kx, form, m.c.Chunk), g.MulRowVec(kv, sx))
		y = g.MatMul(g.Reshape(q, rows, 1, hd), g.Reshape(y, rows, hd, hd), false, false)
		y = g.Reshape(y, b, l, d)
	}
	return m.o.apply(g, y)
}

func (m *h3) StateBytes(L int) int64 {
	return int64(m.h*m.hd*m.hd*m.n)*4 + m.shift.stateBytes()
}

func (m *h3) FLOPs(L int) float64 {
	f := m.q.flops() + m.k.flops() + m.v.flops() + m.o.flops() + m.shift.flops()
	e := float64(m.h * m.hd * m.hd)
	return f + e*(4*float64(m.n)+4)
}

func (m *h3) NewState(batch int) *State {
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.h, m.hd*m.hd, m.n), m.shift.newState(batch)}}
}

func (m *h3) Step(s *State, x, y []float32) {
	d, hd, n := m.c.D, m.hd, m.n
	b := len(x) / d
	q, kp, k, v := make([]float32, b*d), make([]float32, b*d), make([]float32, b*d), make([]float32, b*d)
	m.q.step(x, q)
	m.k.step(x, kp)
	m.v.step(x, v)
	m.shift.step(s.Tensors[1], kp, k)
	decay := make([]float32, m.h*n)
	for i, w := range m.logRate.Value.Data {
		decay[i] = expf(-expf(w))
	}
	o := make([]float32, b*d)
	st := s.Tensors[0].Data
	for bi := 0; bi < b; bi++ {
		for h := 0; h < m.h; h++ {
			off := bi*d + h*hd
			for i := 0; i < hd; i++ {
				for j := 0; j < hd; j++ {
					kv := k[off+i] * v[off+j]
					modes := st[((bi*m.h+h)*hd*hd+i*hd+j)*n:][:n]
					acc := m.skip.Value.Data[h] * kv
					for r := range modes {
						modes[r] = decay[h*n+r]*modes[r] + kv
						acc += m.cOut.Value.Data[h*n+r] * modes[r]
					}
					o[off+j] += q[off+i] * acc
				}
			}
		}
	}
	s.Pos++
	m.o.step(o, y)
}

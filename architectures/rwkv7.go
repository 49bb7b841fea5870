package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// rwkv7 is RWKV-7 ("Goose") time mixing: the generalised delta rule with a
// data-dependent decay per key channel and an in-context learning rate.
// Per head, with the state written key-rows first (M = Sᵀ of RWKV's S [dv, dk]):
//
//	M_t = diag(w_t) M_{t-1} - (a_t ⊙ κ̂_t)(κ̂_tᵀ M_{t-1}) + k̃_t v_tᵀ     (S_t = S_{t-1}(diag(w_t) - κ̂_tᵀ(a_t ⊙ κ̂_t)) + v_tᵀ k̃_t)
//	o_t = r_tᵀ M_t
//	y_t = W_o ((GroupNorm(o_t) + (Σ_d r_t,d ρ_d k̃_t,d)·v_t) ⊙ g_t)
//
// with every input a token-shift mix x + μ_*⊙(x_{t-1} - x), and
//
//	r, k, v = x_r W_r, x_k W_k, x_v W_v
//	w_t = exp(-exp(-softplus(-(w_0 + tanh(x_w W_w1) W_w2)) - 0.5))      ∈ (e^{-e^{-1/2}}, 1) ≈ (0.545, 1)
//	a_t = sigmoid(a_0 + x_a W_a1 W_a2)                                 (in-context learning rate)
//	g_t = sigmoid(x_g W_g1) W_g2
//	κ̂ = l2norm(k ⊙ k_k) per head,   k̃ = k ⊙ (1 + (a - 1) ⊙ k_a),   ρ the bonus (RWKV's r_k)
//
// RWKV-7's value residual (v mixed with the first layer's v) is left out:
// a mixer here does not see other layers.
//
// Chunked (rwkv7Chunked): inside a chunk with cumulative decay Γ (per key
// dim), the pseudo-values u_t = -κ̂_tᵀ M_{t-1} solve a unit lower triangular
// system, the UT transform of the delta-rule mixers with per-dim decays:
//
//	(I + A) U = -(κ̂ ⊙ Γ_{t-1}) S_0 - B V,  A[t,s] = Σ_d κ̂_t,d α_s,d Γ_{t-1,d}/Γ_s,d,  B likewise with k̃ (s < t)
//	O = (r ⊙ Γ) S_0 + Qα U + Qk V,          Qα[t,s] = Σ_d r_t,d α_s,d Γ_t,d/Γ_s,d (s ≤ t), Qk likewise
//	S_end = diag(Γ_c) S_0 + Σ_s diag(Γ_c/Γ_s)(α_s u_s + k̃_s v_sᵀ)
//
// with α = a ⊙ κ̂. The state is carried chunk to chunk by kernels.DeltaStates
// (S' = S + kdᵀ(tv - tk·S), unit chunk decay): each chunk hands it the c
// pseudo-value rows (tv = -T·B·V, tk = T·(κ̂ ⊙ Γ_{t-1}), kd = α ⊙ Γ_c/Γ)
// and dk identity rows (kd = I, tk = diag(1 - Γ_c), tv = Σ_s diag(Γ_c/Γ_s)
// k̃_s v_sᵀ), which add the chunk's writes and -diag(1 - Γ_c)·S.
// Every score is a kernels.DecayScores (exponents ≤ 0), T is
// kernels.UnitLowerInverse: no new op.
//
//	parallel:  the whole sequence as one chunk
//	chunked:   chunks of c
//	recurrent: M (H·dh² floats) and the previous token (D floats)
type rwkv7 struct {
	r, k, v, o                   *dense
	w1, w2, a1, a2, g1, g2       *dense // low-rank decay, learning rate, gate; w2, a2 carry w_0, a_0
	muR, muW, muK, muV, muA, muG *kernels.Param
	kk, ka, bonus                *kernels.Param // k_k, k_a [D]; ρ [D]
	gnGain, gnBias               *kernels.Param // [D]
	c                            Config
	rank                         int
}

// rwkv7Eps is the GroupNorm epsilon (RWKV-7 uses 1e-5·8² for heads of 64).
const rwkv7Eps = 64e-5

func init() {
	Register(Spec{
		Name: "rwkv7", Family: "delta",
		Doc:          "RWKV-7: generalised delta rule with data-dependent per-channel decay and in-context learning rate, token shift, bonus",
		StateFormula: "H·dh² + D floats",
		Args:         []Arg{{Name: "rank", Default: "16", Doc: "rank of the decay, learning-rate and gate projections"}},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			r, err := a.Int("rank", 1)
			if err != nil {
				return nil, err
			}
			std := initStd(false, c.Layers)
			m := &rwkv7{c: c, rank: r,
				r: newDense("rwkv7.r", c.D, c.D, false, std, rng), k: newDense("rwkv7.k", c.D, c.D, false, std, rng),
				v: newDense("rwkv7.v", c.D, c.D, false, std, rng), o: newDense("rwkv7.o", c.D, c.D, false, initStd(true, c.Layers), rng),
				w1: newDense("rwkv7.w1", c.D, r, false, std, rng), w2: newDense("rwkv7.w2", r, c.D, true, std, rng),
				a1: newDense("rwkv7.a1", c.D, r, false, std, rng), a2: newDense("rwkv7.a2", r, c.D, true, std, rng),
				g1: newDense("rwkv7.g1", c.D, r, false, std, rng), g2: newDense("rwkv7.g2", r, c.D, false, 1/math.Sqrt(float64(r)), rng),
				muR: newMu("rwkv7.mu_r", c.D, rng), muW: newMu("rwkv7.mu_w", c.D, rng), muK: newMu("rwkv7.mu_k", c.D, rng),
				muV: newMu("rwkv7.mu_v", c.D, rng), muA: newMu("rwkv7.mu_a", c.D, rng), muG: newMu("rwkv7.mu_g", c.D, rng),
				kk:     kernels.NewParam("rwkv7.k_k", kernels.New(c.D).Fill(0.85)),
				ka:     kernels.NewParam("rwkv7.k_a", kernels.New(c.D).Fill(1)),
				bonus:  kernels.NewParam("rwkv7.r_k", kernels.New(c.D).Randn(rng, 0.1)),
				gnGain: kernels.NewParam("rwkv7.gn_gain", kernels.New(c.D).Fill(1)),
				gnBias: kernels.NewParam("rwkv7.gn_bias", kernels.New(c.D)),
			}
			m.w2.B.Name = "rwkv7.decay_bias"
			for i := 0; i < c.D; i++ { // decay speeds spread over the channels, slow to fast
				m.w2.B.Value.Data[i] = float32(-7 + 6*float64(i)/float64(max(1, c.D-1)))
			}
			m.a2.B.Name = "rwkv7.a0"
			return m, nil
		},
	})
}

func (m *rwkv7) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.r, m.k, m.v, m.o, m.w1, m.w2, m.a1, m.a2, m.g1, m.g2} {
		ps = append(ps, d.params()...)
	}
	return append(ps, m.muR, m.muW, m.muK, m.muV, m.muA, m.muG, m.kk, m.ka, m.bonus, m.gnGain, m.gnBias)
}

func (m *rwkv7) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, l, h, d := x.Shape[0], x.Shape[1], m.c.Heads, m.c.D
	dh := d / h
	diff := shiftDiff(g, x)
	mix := func(mu *kernels.Param) *kernels.Node { return shiftMix(g, x, diff, mu) }
	r := m.r.apply(g, mix(m.muR))
	k := m.k.apply(g, mix(m.muK))
	v := m.v.apply(g, mix(m.muV))
	z := m.w2.apply(g, g.Act(kernels.Tanh, m.w1.apply(g, mix(m.muW))))
	// log w = -exp(-softplus(-z) - 1/2)
	lg := g.Scale(g.Act(kernels.Exp, g.AddScalar(g.Scale(g.Act(kernels.Softplus, g.Scale(z, -1)), -1), -0.5)), -1)
	a := g.Act(kernels.Sigmoid, m.a2.apply(g, m.a1.apply(g, mix(m.muA))))
	gate := m.g2.apply(g, g.Act(kernels.Sigmoid, m.g1.apply(g, mix(m.muG))))
	kh := l2(g, splitHeads(g, g.MulRowVec(k, g.Param(m.kk)), h)) // κ̂
	kt := g.Add(k, g.Mul(k, g.MulRowVec(g.AddScalar(a, -1), g.Param(m.ka))))
	rs, kts, vs := splitHeads(g, r, h), splitHeads(g, kt, h), splitHeads(g, v, h)
	alpha := g.Mul(splitHeads(g, a, h), kh)
	c := m.c.Chunk
	if form == Parallel {
		c = l
	}
	o := mergeHeads(g, rwkv7Chunked(g, rs, kts, vs, alpha, kh, splitHeads(g, lg, h), c), b, h)
	// GroupNorm: each head's dh outputs normalised, then a gain and bias per channel.
	ones := g.Const("ones", kernels.New(dh).Fill(1))
	o = g.Reshape(g.LayerNorm(g.Reshape(o, b, l, h, dh), ones, nil, rwkv7Eps), b, l, d)
	o = g.AddRowVec(g.MulRowVec(o, g.Param(m.gnGain)), g.Param(m.gnBias))
	bonus := bonusTerm(g, splitHeads(g, g.MulRowVec(r, g.Param(m.bonus)), h), kts, vs)
	o = g.Add(o, mergeHeads(g, bonus, b, h))
	return m.o.apply(g, g.Mul(o, gate))
}

// rwkv7Chunked runs the chunk equations of the doc comment for q (r), k
// (k̃), α, β (κ̂) and per-dim log-decays lg [N, L, dk] and v [N, L, dv].
func rwkv7Chunked(g *kernels.Graph, q, k, v, alpha, beta, lg *kernels.Node, c int) *kernels.Node {
	n, l, dk, dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	if c <= 0 || c > l {
		c = l
	}
	nc := (l + c - 1) / c
	pad := nc*c - l
	chunks := func(x *kernels.Node) *kernels.Node { // zero tokens change nothing: w = 1, k̃ = v = α = 0
		return g.Reshape(g.Pad(x, 1, 0, pad), n*nc, c, x.Shape[2])
	}
	qc, kc, vc, ac, bc, lc := chunks(q), chunks(k), chunks(v), chunks(alpha), chunks(beta), chunks(lg)
	gi := g.CumSum(lc, 1, false, false) // log Γ_t within the chunk
	ge := g.CumSum(lc, 1, true, false)  // log Γ_{t-1}
	last := g.Slice(gi, 1, c-1, c)      // log Γ_c, [N·nc, 1, dk]
	t := g.UnitLowerInverse(g.DecayScores(bc, ac, ge, gi, true))
	bm := g.DecayScores(bc, kc, ge, gi, true)
	tvU := g.Scale(g.MatMul(t, g.MatMul(bm, vc, false, false), false, false), -1)
	tkU := g.MatMul(t, g.Mul(bc, g.Act(kernels.Exp, ge)), false, false)
	toEnd := g.Act(kernels.Exp, g.BSub(last, gi))
	eye := kernels.New(dk * dk)
	for i := 0; i < dk; i++ {
		eye.Data[i*dk+i] = 1
	}
	eyes := g.Reshape(g.BroadcastRows(g.Const("eye", eye), []int{n * nc, dk * dk}), n*nc, dk, dk)
	fade := g.Reshape(g.AddScalar(g.Scale(g.Act(kernels.Exp, last), -1), 1), n*nc, 1, dk) // 1 - Γ_c
	rows := c + dk
	written := g.MatMul(g.Mul(kc, toEnd), vc, true, false) // Σ_s diag(Γ_c/Γ_s) k̃_s v_sᵀ, [N·nc, dk, dv]
	tv := g.Reshape(g.Concat(1, tvU, written), n, nc, rows, dv)
	tk := g.Reshape(g.Concat(1, tkU, g.BMul(eyes, fade)), n, nc, rows, dk)
	kd := g.Reshape(g.Concat(1, g.Mul(ac, toEnd), eyes), n, nc, rows, dk)
	s := g.Reshape(g.DeltaStates(tv, tk, kd, g.Const("unit_decay", kernels.New(n, nc).Fill(1))), n*nc, dk, dv)
	u := g.Sub(tvU, g.MatMul(tkU, s, false, false))
	qa := g.DecayScores(qc, ac, gi, gi, false)
	qk := g.DecayScores(qc, kc, gi, gi, false)
	o := g.Add(g.MatMul(g.Mul(qc, g.Act(kernels.Exp, gi)), s, false, false),
		g.Add(g.MatMul(qa, u, false, false), g.MatMul(qk, vc, false, false)))
	return g.Slice(g.Reshape(o, n, nc*c, dv), 1, 0, l)
}

func (m *rwkv7) StateBytes(L int) int64 {
	dh := m.c.D / m.c.Heads
	return int64(m.c.Heads*dh*dh+m.c.D) * 4
}

func (m *rwkv7) FLOPs(L int) float64 {
	f := 0.0
	for _, d := range []*dense{m.r, m.k, m.v, m.o, m.w1, m.w2, m.a1, m.a2, m.g1, m.g2} {
		f += d.flops()
	}
	return f + 8*float64(m.c.D)*float64(m.c.D/m.c.Heads) + 30*float64(m.c.D)
}

func (m *rwkv7) NewState(batch int) *State {
	dh := m.c.D / m.c.Heads
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.c.Heads, dh, dh), kernels.New(batch, m.c.D)}}
}

func (m *rwkv7) Step(s *State, x, y []float32) {
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
	low := func(mu *kernels.Param, d1, d2 *dense, act kernels.Activation) []float32 {
		z := proj(mu, d1)
		for i := range z {
			z[i] = act.Eval(z[i])
		}
		out := make([]float32, b*d2.out)
		d2.step(z, out)
		return out
	}
	r, k, v := proj(m.muR, m.r), proj(m.muK, m.k), proj(m.muV, m.v)
	z := low(m.muW, m.w1, m.w2, kernels.Tanh)
	a := proj(m.muA, m.a1)
	aa := make([]float32, b*d)
	m.a2.step(a, aa)
	gate := low(m.muG, m.g1, m.g2, kernels.Sigmoid)
	kh, kt, w := make([]float32, b*d), make([]float32, b*d), make([]float32, b*d)
	for i := range aa {
		c := i % d
		aa[i] = kernels.Sigmoid.Eval(aa[i])
		w[i] = expf(-expf(-kernels.Softplus.Eval(-z[i]) - 0.5))
		kh[i] = k[i] * m.kk.Value.Data[c]
		kt[i] = k[i] + k[i]*((aa[i]-1)*m.ka.Value.Data[c])
	}
	o, read := make([]float32, b*d), make([]float32, dh)
	eachHead(s, b, h, dh, func(off int, st []float32) {
		l2vec(kh[off : off+dh])
		clear(read)
		for i := 0; i < dh; i++ { // κ̂ᵀ M
			for j := 0; j < dh; j++ {
				read[j] += kh[off+i] * st[i*dh+j]
			}
		}
		for i := 0; i < dh; i++ {
			ai, ki, wi := aa[off+i]*kh[off+i], kt[off+i], w[off+i]
			for j := 0; j < dh; j++ {
				st[i*dh+j] = wi*st[i*dh+j] - ai*read[j] + ki*v[off+j]
			}
		}
		ov := o[off : off+dh]
		for i := 0; i < dh; i++ {
			for j := 0; j < dh; j++ {
				ov[j] += r[off+i] * st[i*dh+j]
			}
		}
		// GroupNorm of the head, then the bonus (Σ r ρ k̃)·v.
		var mean, vr float64
		for _, u := range ov {
			mean += float64(u)
		}
		mean /= float64(dh)
		for _, u := range ov {
			vr += (float64(u) - mean) * (float64(u) - mean)
		}
		inv := 1 / math.Sqrt(vr/float64(dh)+rwkv7Eps)
		var bon float32
		for i := 0; i < dh; i++ {
			bon += r[off+i] * m.bonus.Value.Data[(off+i)%d] * kt[off+i]
		}
		for j := range ov {
			c := (off + j) % d
			ov[j] = float32((float64(ov[j])-mean)*inv)*m.gnGain.Value.Data[c] + m.gnBias.Value.Data[c] + bon*v[off+j]
		}
	})
	for i := range o {
		o[i] *= gate[i]
	}
	copy(prev, x)
	s.Pos++
	m.o.step(o, y)
}

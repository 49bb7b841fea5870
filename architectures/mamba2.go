package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// mamba2 is a Mamba-2 (SSD) style mixer: a data-dependent scalar decay per
// head after a short causal convolution,
//
//	q, k, v = silu(conv(x W_C)), silu(conv(x W_B)), silu(conv(x W_x))
//	Δ_t = softplus(x_t W_Δ + b_Δ) (per head),  a_t = exp(-Δ_t·exp(A_log))
//	S_t = a_t S_{t-1} + (Δ_t k_t) v_tᵀ,  o_t = q_tᵀ S_t + D ⊙ v_t
//	y_t = W_o (o_t ⊙ silu(x_t W_z))
//
//	parallel:  (QKᵀ ⊙ exp(segment sums))·V
//	chunked:   decayCore's chunked form (scalar decay)
//	recurrent: S (H·dh² floats) and the conv window (3·(K-1)·D floats)
type mamba2 struct {
	q, k, v, z, o, dt *dense
	cq, ck, cv        *shortConv
	aLog, skip        *kernels.Param // [H]
	c                 Config
}

func init() {
	Register(Spec{
		Name: "mamba2", Family: "gated",
		Doc:          "Mamba-2/SSD style: data-dependent scalar decay per head after a short conv",
		StateFormula: "H·dh² + 3·(conv-1)·D floats",
		Args:         []Arg{{Name: "conv", Default: "4", Doc: "taps of the short convolution"}},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			kw, err := a.Int("conv", 1)
			if err != nil {
				return nil, err
			}
			std := initStd(false, c.Layers)
			m := &mamba2{c: c,
				q: newDense("mamba2.C", c.D, c.D, false, std, rng), k: newDense("mamba2.B", c.D, c.D, false, std, rng),
				v: newDense("mamba2.x", c.D, c.D, false, std, rng), z: newDense("mamba2.z", c.D, c.D, false, std, rng),
				o:  newDense("mamba2.out", c.D, c.D, false, initStd(true, c.Layers), rng),
				dt: newDense("mamba2.dt", c.D, c.Heads, true, std, rng),
				cq: newShortConv("mamba2.C", kw, c.D, rng), ck: newShortConv("mamba2.B", kw, c.D, rng), cv: newShortConv("mamba2.x", kw, c.D, rng),
			}
			m.dt.B.Name = "mamba2.decay_bias"
			m.aLog = kernels.NewParam("mamba2.A_log", kernels.New(c.Heads))
			m.skip = kernels.NewParam("mamba2.D", kernels.New(c.Heads).Fill(1))
			for h := 0; h < c.Heads; h++ {
				// A in [1, 16] and Δ in [0.001, 0.1], as Mamba-2 initialises them.
				m.aLog.Value.Data[h] = float32(math.Log(1 + 15*rng.Float64()))
				dt := math.Exp(math.Log(0.001) + rng.Float64()*(math.Log(0.1)-math.Log(0.001)))
				m.dt.B.Value.Data[h] = float32(dt + math.Log(-math.Expm1(-dt)))
			}
			return m, nil
		},
	})
}

func (m *mamba2) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.q, m.k, m.v, m.z, m.o, m.dt} {
		ps = append(ps, d.params()...)
	}
	for _, c := range []*shortConv{m.cq, m.ck, m.cv} {
		ps = append(ps, c.params()...)
	}
	return append(ps, m.aLog, m.skip)
}

func (m *mamba2) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, l, h := x.Shape[0], x.Shape[1], m.c.Heads
	dh := m.c.D / h
	act := func(d *dense, c *shortConv) *kernels.Node { return g.Act(kernels.SiLU, c.build(g, d.apply(g, x))) }
	q, k, v := act(m.q, m.cq), act(m.k, m.ck), act(m.v, m.cv)
	dt := g.Act(kernels.Softplus, m.dt.apply(g, x)) // [B, L, H]
	negA := g.Scale(g.Act(kernels.Exp, g.Param(m.aLog)), -1)
	lg := g.MulRowVec(dt, negA) // log decay, [B, L, H]
	lgN := g.Reshape(g.Transpose(lg, 0, 2, 1), b*h, l)
	// k_t scaled by Δ_t of its head.
	kd := g.MulCol(g.Reshape(k, b, l, h, dh), dt)
	qs, ks, vs := splitHeads(g, q, h), splitHeads(g, g.Reshape(kd, b, l, m.c.D), h), splitHeads(g, v, h)
	var o *kernels.Node
	if form == Parallel {
		o = decayParallel(g, qs, ks, vs, lgN, decayOpts{})
	} else {
		o = decayChunked(g, qs, ks, vs, lgN, m.c.Chunk, decayOpts{})
	}
	y := mergeHeads(g, o, b, h)
	skip := g.MulRowVec(v, g.Reshape(g.BroadcastLast(g.Param(m.skip), dh), m.c.D)) // D_h on each dim of head h
	y = g.Add(y, skip)
	return m.o.apply(g, g.Mul(y, g.Act(kernels.SiLU, m.z.apply(g, x))))
}

func (m *mamba2) StateBytes(L int) int64 {
	dh := m.c.D / m.c.Heads
	return int64(m.c.Heads*dh*dh)*4 + 3*m.cq.stateBytes()
}

func (m *mamba2) FLOPs(L int) float64 {
	f := 0.0
	for _, d := range []*dense{m.q, m.k, m.v, m.z, m.o, m.dt} {
		f += d.flops()
	}
	return f + 3*m.cq.flops() + 4*float64(m.c.D)*float64(m.c.D/m.c.Heads)
}

func (m *mamba2) NewState(batch int) *State {
	dh := m.c.D / m.c.Heads
	return &State{Tensors: []*kernels.Tensor{
		kernels.New(batch, m.c.Heads, dh, dh), m.cq.newState(batch), m.ck.newState(batch), m.cv.newState(batch),
	}}
}

func (m *mamba2) Step(s *State, x, y []float32) {
	d, h := m.c.D, m.c.Heads
	dh := d / h
	b := len(x) / d
	pre, q, k, v := make([]float32, b*d), make([]float32, b*d), make([]float32, b*d), make([]float32, b*d)
	for i, pair := range []struct {
		d   *dense
		c   *shortConv
		out []float32
	}{{m.q, m.cq, q}, {m.k, m.ck, k}, {m.v, m.cv, v}} {
		pair.d.step(x, pre)
		pair.c.step(s.Tensors[1+i], pre, pair.out)
		for j, u := range pair.out {
			pair.out[j] = kernels.SiLU.Eval(u)
		}
	}
	dt, z := make([]float32, b*h), make([]float32, b*d)
	m.dt.step(x, dt)
	m.z.step(x, z)
	o := make([]float32, b*d)
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			off := bi*d + hh*dh
			dth := kernels.Softplus.Eval(dt[bi*h+hh])
			lg := -dth * expf(m.aLog.Value.Data[hh])
			kd := make([]float32, dh)
			for i := range kd {
				kd[i] = k[off+i] * dth
			}
			st := s.Tensors[0].Data[(bi*h+hh)*dh*dh : (bi*h+hh+1)*dh*dh]
			decayStep(st, q[off:off+dh], kd, v[off:off+dh], []float32{lg}, nil, o[off:off+dh])
			for i := 0; i < dh; i++ {
				o[off+i] += m.skip.Value.Data[hh] * v[off+i]
			}
		}
	}
	for i := range o {
		o[i] *= kernels.SiLU.Eval(z[i])
	}
	s.Pos++
	m.o.step(o, y)
}

package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// mamba is Mamba-1's selective SSM layer (Gu & Dao): an inner width
// Di = expand·D, and per inner channel c a diagonal state h[c] of d_state
// N with data-dependent Δ, B and C,
//
//	u = silu(conv(x W_x) + b_conv),   z = x W_z                 ([B, L, Di] each)
//	Δ_t = softplus(u_t W_Δ1 W_Δ2 + b_Δ)  (rank R = ⌈D/16⌉, per channel)
//	B_t = u_t W_B,  C_t = u_t W_C       ([N], shared by the channels)
//	h_t[c,n] = exp(Δ_t[c]·A[c,n])·h_{t-1}[c,n] + Δ_t[c]·B_t[n]·u_t[c],   A = -exp(A_log)
//	y_t[c] = Σ_n C_t[n]·h_t[c,n] + D[c]·u_t[c]
//	out = (y ⊙ silu(z)) W_out
//
// This is gated linear attention with one head per channel, key dim N,
// value dim 1, q = C, k = B, v = Δ⊙u and a log-decay Δ[c]·A[c,n] per key
// dim; A, Δ and D are initialised as Mamba does (A[c,n] = n+1, Δ
// log-uniform in [0.001, 0.1] through the inverse softplus of the bias).
//
//	parallel:  decayCore's per-dimension parallel form with heads = channels
//	           ([B·Di, L, L] scores: the quadratic reference)
//	chunked:   scan=state (default): the state h over the sequence, [B, L, Di·N],
//	           by one exclusive decayed scan with a decay per column
//	           (kernels.DecayScan run one step past the end: its output at
//	           t+1 is h_t), the rank-1 inputs Δ⊙u ⊗ B and the read-out by C
//	           as batched MatMuls; linear in L, no [L, L] scores. scan=gla:
//	           decayCore's chunked form with heads = channels (q, k broadcast
//	           over the Di channels; chunk² scores per channel). On 2 shared
//	           CPU cores, forward+backward at B 8, L 256, D 64: state 0.35 s,
//	           gla 11 s (mamba2: 0.05 s); the state form keeps B·L·Di·N
//	           floats per tensor, the selective scan's own size
//	recurrent: h (Di·N floats) and the conv window ((conv-1)·Di floats)
type mamba struct {
	inX, inZ, out *dense
	xB, xC        *dense // Di → N
	dtLow, dtUp   *dense // Di → R → Di (dtUp's bias is b_Δ)
	conv          *shortConv
	convBias      *kernels.Param // [Di]
	aLog          *kernels.Param // [Di, N]
	skip          *kernels.Param // [Di]
	c             Config
	di, n, r      int
	chunk         bool
}

func init() {
	Register(Spec{
		Name: "mamba", Family: "gated",
		Doc:          "Mamba-1 selective SSM: per-channel diagonal state of d_state, data-dependent Δ, B, C; short conv, gated output",
		StateFormula: "expand·D·(d_state + conv-1) floats",
		Args: []Arg{
			{Name: "d_state", Default: "16", Doc: "N: state size per inner channel"},
			{Name: "expand", Default: "2", Doc: "inner width Di = expand·D"},
			{Name: "conv", Default: "4", Doc: "taps of the short convolution"},
			{Name: "scan", Default: "state", Doc: "chunked form: scan of the Di·N state, or the GLA decay-core chunks with heads = channels", Enum: []string{"state", "gla"}},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			n, err := a.Int("d_state", 1)
			if err != nil {
				return nil, err
			}
			e, err := a.Int("expand", 1)
			if err != nil {
				return nil, err
			}
			kw, err := a.Int("conv", 1)
			if err != nil {
				return nil, err
			}
			di, r := e*c.D, (c.D+15)/16
			std := initStd(false, c.Layers)
			m := &mamba{c: c, di: di, n: n, r: r, chunk: a.String("scan") == "gla",
				inX: newDense("mamba.in_x", c.D, di, false, std, rng), inZ: newDense("mamba.in_z", c.D, di, false, std, rng),
				out:   newDense("mamba.out", di, c.D, false, initStd(true, c.Layers), rng),
				xB:    newDense("mamba.B", di, n, false, 1/math.Sqrt(float64(di)), rng),
				xC:    newDense("mamba.C", di, n, false, 1/math.Sqrt(float64(di)), rng),
				dtLow: newDense("mamba.dt1", di, r, false, 1/math.Sqrt(float64(di)), rng),
				dtUp:  newDense("mamba.dt2", r, di, true, 1/math.Sqrt(float64(r)), rng),
				conv:  newShortConv("mamba", kw, di, rng), convBias: kernels.NewParam("mamba.conv_bias", kernels.New(di)),
				aLog: kernels.NewParam("mamba.A_log", kernels.New(di, n)), skip: kernels.NewParam("mamba.D", kernels.New(di).Fill(1)),
			}
			m.dtUp.B.Name = "mamba.decay_bias"
			m.aLog.Decay = false // as Mamba: no weight decay on A
			for i := 0; i < di; i++ {
				for j := 0; j < n; j++ {
					m.aLog.Value.Data[i*n+j] = float32(math.Log(float64(j + 1)))
				}
				dt := math.Exp(math.Log(0.001) + rng.Float64()*(math.Log(0.1)-math.Log(0.001)))
				m.dtUp.B.Value.Data[i] = float32(dt + math.Log(-math.Expm1(-dt)))
			}
			return m, nil
		},
	})
}

func (m *mamba) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.inX, m.inZ, m.out, m.xB, m.xC, m.dtLow, m.dtUp} {
		ps = append(ps, d.params()...)
	}
	return append(append(ps, m.conv.params()...), m.convBias, m.aLog, m.skip)
}

func (m *mamba) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, l, di, n := x.Shape[0], x.Shape[1], m.di, m.n
	u := g.Act(kernels.SiLU, g.AddRowVec(m.conv.build(g, m.inX.apply(g, x)), g.Param(m.convBias)))
	dt := g.Act(kernels.Softplus, m.dtUp.apply(g, m.dtLow.apply(g, u))) // [B, L, Di]
	bm, cm := m.xB.apply(g, u), m.xC.apply(g, u)                        // [B, L, N]
	negA := g.Scale(g.Act(kernels.Exp, g.Param(m.aLog)), -1)            // [Di, N]
	// Δ_t[c]·A[c,n], [B, L, Di, N]: A repeated over the tokens, each row scaled by Δ.
	lg := g.MulCol(g.Reshape(g.BroadcastRows(g.Reshape(negA, di*n), []int{b * l, di * n}), b, l, di, n), dt)
	du := g.Mul(dt, u) // Δ⊙u, the value of each channel's head
	var y *kernels.Node
	if form == Parallel || m.chunk {
		heads := func(t *kernels.Node) *kernels.Node { // [B, L, Di, N] → [B·Di, L, N]
			return g.Reshape(g.Transpose(t, 0, 2, 1, 3), b*di, l, t.Shape[3])
		}
		ones := g.Const("ones", kernels.New(1, 1, di, 1).Fill(1))
		bc := func(t *kernels.Node) *kernels.Node { return heads(g.BMul(g.Reshape(t, b, l, 1, n), ones)) }
		q, k, v := bc(cm), bc(bm), heads(g.Reshape(du, b, l, di, 1))
		var o *kernels.Node
		if form == Parallel {
			o = decayParallel(g, q, k, v, heads(lg), decayOpts{})
		} else {
			o = decayChunked(g, q, k, v, heads(lg), m.c.Chunk, decayOpts{})
		}
		y = g.Transpose(g.Reshape(o, b, di, l), 0, 2, 1)
	} else {
		// Δ_t[c]·B_t[n]·u_t[c]: one rank-1 product per token.
		xs := g.MatMul(g.Reshape(du, b*l, di, 1), g.Reshape(bm, b*l, 1, n), false, false)
		// The exclusive scan one step further on is the inclusive state:
		// scan_{t+1} = exp(lg_t)·scan_t + x_t = h_t.
		pad := func(t *kernels.Node) *kernels.Node { return g.Pad(g.Reshape(t, b, l, di*n), 1, 0, 1) }
		h := g.Slice(g.DecayScan(pad(xs), pad(lg)), 1, 1, l+1)
		y = g.MatMul(g.Reshape(h, b*l, di, n), g.Reshape(cm, b*l, n, 1), false, false)
		y = g.Reshape(y, b, l, di)
	}
	y = g.Add(y, g.MulRowVec(u, g.Param(m.skip)))
	return m.out.apply(g, g.Mul(y, g.Act(kernels.SiLU, m.inZ.apply(g, x))))
}

func (m *mamba) StateBytes(L int) int64 { return int64(m.di*m.n)*4 + m.conv.stateBytes() }

func (m *mamba) FLOPs(L int) float64 {
	f := 0.0
	for _, d := range []*dense{m.inX, m.inZ, m.out, m.xB, m.xC, m.dtLow, m.dtUp} {
		f += d.flops()
	}
	return f + m.conv.flops() + 7*float64(m.di*m.n) + 6*float64(m.di)
}

func (m *mamba) NewState(batch int) *State {
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.di, m.n), m.conv.newState(batch)}}
}

func (m *mamba) Step(s *State, x, y []float32) {
	d, di, n := m.c.D, m.di, m.n
	b := len(x) / d
	pre, u, z := make([]float32, b*di), make([]float32, b*di), make([]float32, b*di)
	m.inX.step(x, pre)
	m.conv.step(s.Tensors[1], pre, u)
	for i := range u {
		u[i] = kernels.SiLU.Eval(u[i] + m.convBias.Value.Data[i%di])
	}
	m.inZ.step(x, z)
	low, dt := make([]float32, b*m.r), make([]float32, b*di)
	bm, cm := make([]float32, b*n), make([]float32, b*n)
	m.dtLow.step(u, low)
	m.dtUp.step(low, dt)
	m.xB.step(u, bm)
	m.xC.step(u, cm)
	o := make([]float32, b*di)
	for bi := 0; bi < b; bi++ {
		for c := 0; c < di; c++ {
			i := bi*di + c
			dtc := kernels.Softplus.Eval(dt[i])
			du := dtc * u[i]
			h := s.Tensors[0].Data[i*n : (i+1)*n]
			var acc float32
			for j := 0; j < n; j++ {
				a := expf(dtc * -expf(m.aLog.Value.Data[c*n+j]))
				h[j] = a*h[j] + du*bm[bi*n+j]
				acc += cm[bi*n+j] * h[j]
			}
			o[i] = (acc + m.skip.Value.Data[c]*u[i]) * kernels.SiLU.Eval(z[i])
		}
	}
	s.Pos++
	m.out.step(o, y)
}

package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// rwkv4 is RWKV-4 time mixing: per channel c a weighted average of past
// values with a learned decay w_c > 0 and a bonus u_c for the current token,
//
//	wkv_t = (Σ_{s<t} e^{k_s-(t-1-s)w} v_s + e^{u+k_t} v_t) / (same without v)
//	y_t   = W_o (sigmoid(r_t) ⊙ wkv_t)
//
// with r, k, v projected from token-shifted mixes of x_t and x_{t-1}.
//
//	parallel/chunked: the exclusive decayed scan (kernels.DecayScan) of
//	           e^{k_s - m}·[v_s, 1] (numerator and denominator) per channel
//	           with log-decay -w; m = max_s k_s per channel cancels in the
//	           ratio and keeps every exponential ≤ 1. Both forms build the
//	           same graph: the scan is linear in L and needs no chunks.
//	recurrent: the a/b states with the running exponent p (RWKV's stable
//	           form) and the previous token: 4·D floats
//
// Initialisation (init=rwkv, the default since 2026-12-07) is RWKV-4's own:
// W_k, W_r and W_o start at zero (the layer adds nothing and every past
// token weighs the same at first), W_v ~ N(0, 1/D), the decay curve from
// -5 to 3 over the channels and the bonus log 0.3 with a ±0.5 zigzag.
// init=normal is the layer lab had before: every projection N(0, 0.02)
// (W_o scaled for depth) and a flat bonus; it is also what Zoology's model
// ends up with, since its model-wide init overwrites every Linear. After
// 1000 steps of the zoo task the RWKV-4 init has the lower eval loss (1.88
// against 2.39) but neither is above chance accuracy (0.243 and 0.197).
type rwkv4 struct {
	r, k, v, o    *dense
	muR, muK, muV *kernels.Param
	decay, bonus  *kernels.Param // w = exp(decay), u; [D]
	c             Config
}

// wkvFloor keeps the denominator positive if every weight underflows
// (k spread over more than ~87 nats within one sequence and channel).
const wkvFloor = 1e-30

func init() {
	Register(Spec{
		Name: "rwkv4", Family: "decayed",
		Doc:          "RWKV-4 WKV: per-channel learned decay and bonus, numerator/denominator states",
		StateFormula: "4·D floats (a, b, p, previous token)",
		Args: []Arg{
			{Name: "init", Default: "rwkv", Doc: "rwkv: RWKV-4's init (k, r, o zero, v std 1/√D, bonus log 0.3 ± a 0.5 zigzag); normal: every projection N(0, 0.02), bonus log 0.3", Enum: []string{"rwkv", "normal"}},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			return newRWKV4(c, a.String("init") == "rwkv", rng), nil
		},
	})
}

// newRWKV4 builds the layer; rwkvInit selects RWKV-4's own initialisation
// (see the type's comment) over the N(0, 0.02) projections of the old layer.
// The layer index is not known here, so the decay curve and the token-shift
// mixes are those of the first layer (RWKV-4 bends them with depth).
func newRWKV4(c Config, rwkvInit bool, rng *rand.Rand) *rwkv4 {
	std := initStd(false, c.Layers)
	m := &rwkv4{c: c,
		r: newDense("rwkv4.r", c.D, c.D, false, std, rng), k: newDense("rwkv4.k", c.D, c.D, false, std, rng),
		v: newDense("rwkv4.v", c.D, c.D, false, std, rng), o: newDense("rwkv4.o", c.D, c.D, false, initStd(true, c.Layers), rng),
		muR: newMu("rwkv4.mu_r", c.D, rng), muK: newMu("rwkv4.mu_k", c.D, rng), muV: newMu("rwkv4.mu_v", c.D, rng),
		decay: kernels.NewParam("rwkv4.decay", kernels.New(c.D)),
		bonus: kernels.NewParam("rwkv4.u", kernels.New(c.D).Fill(float32(math.Log(0.3)))),
	}
	for i := 0; i < c.D; i++ { // decay rates spread from slow to fast, as RWKV initialises them
		m.decay.Value.Data[i] = float32(-5 + 8*math.Pow(float64(i)/float64(max(1, c.D-1)), 0.7))
	}
	if rwkvInit {
		for _, d := range []*dense{m.r, m.k, m.o} {
			d.W.Value.Fill(0)
		}
		m.v.W.Value.Randn(rng, 1/math.Sqrt(float64(c.D)))
		for i := 0; i < c.D; i++ { // u = log 0.3 + a zigzag of ±0.5 over the channels
			m.bonus.Value.Data[i] += float32((i+1)%3-1) * 0.5
		}
	}
	return m
}

func (m *rwkv4) Params() []*kernels.Param {
	var ps []*kernels.Param
	for _, d := range []*dense{m.r, m.k, m.v, m.o} {
		ps = append(ps, d.params()...)
	}
	return append(ps, m.muR, m.muK, m.muV, m.decay, m.bonus)
}

func (m *rwkv4) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, l, d := x.Shape[0], x.Shape[1], m.c.D
	rows := b * l * d
	diff := shiftDiff(g, x)
	r := m.r.apply(g, shiftMix(g, x, diff, m.muR))
	k := m.k.apply(g, shiftMix(g, x, diff, m.muK)) // [B, L, D]
	v := m.v.apply(g, shiftMix(g, x, diff, m.muV))
	ref := g.Reshape(g.MaxLast(g.Transpose(k, 0, 2, 1)), b, 1, d) // max over time (no gradient: it cancels)
	ek := g.Reshape(g.Act(kernels.Exp, g.BSub(k, ref)), rows)
	// [v, 1] per channel and token, [B·L·D, 2]: numerator and denominator.
	vals := g.Concat(1, g.Reshape(v, rows, 1), g.Const("ones", kernels.New(rows, 1).Fill(1)))
	lg := g.BroadcastRows(g.Scale(g.Act(kernels.Exp, g.Param(m.decay)), -1), []int{b, l, d})
	// Σ_{s<t} e^{-(t-1-s)w}·e^{k_s-m}·[v_s, 1]: one sequential scan per
	// channel (kernels.DecayScan, each channel's pair of columns with its
	// own decay), the same in the parallel and chunked forms.
	nd := g.DecayScan(g.Reshape(g.MulCol(vals, ek), b, l, 2*d), lg)
	cur := g.MulRowVec(g.Reshape(ek, b*l, d), g.Act(kernels.Exp, g.Param(m.bonus))) // e^{u + k_t - m}
	nd = g.Add(g.Reshape(nd, rows, 2), g.MulCol(vals, g.Reshape(cur, rows)))
	num := g.Reshape(g.Slice(nd, 1, 0, 1), b, l, d)
	den := g.Reshape(g.Slice(nd, 1, 1, 2), b, l, d)
	wkv := g.Mul(num, g.Act(kernels.Recip, g.AddScalar(den, wkvFloor)))
	return m.o.apply(g, g.Mul(g.Act(kernels.Sigmoid, r), wkv))
}

func (m *rwkv4) StateBytes(L int) int64 { return int64(4*m.c.D) * 4 }

func (m *rwkv4) FLOPs(L int) float64 {
	return m.r.flops() + m.k.flops() + m.v.flops() + m.o.flops() + 20*float64(m.c.D)
}

// NewState: a, b, p (p starts at -Inf) and the previous token, [B, D] each.
func (m *rwkv4) NewState(batch int) *State {
	p := kernels.New(batch, m.c.D).Fill(float32(math.Inf(-1)))
	return &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.c.D), kernels.New(batch, m.c.D), p, kernels.New(batch, m.c.D)}}
}

func (m *rwkv4) Step(s *State, x, y []float32) {
	d := m.c.D
	n := len(x)
	a, bb, p, prev := s.Tensors[0].Data, s.Tensors[1].Data, s.Tensors[2].Data, s.Tensors[3].Data
	tmp, r, k, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for _, pr := range []struct {
		mu  *kernels.Param
		dn  *dense
		out []float32
	}{{m.muR, m.r, r}, {m.muK, m.k, k}, {m.muV, m.v, v}} {
		mixVec(x, prev, pr.mu, tmp)
		pr.dn.step(tmp, pr.out)
	}
	o := make([]float32, n)
	for i := range o {
		c := i % d
		w := float64(expf(m.decay.Value.Data[c]))
		u := float64(m.bonus.Value.Data[c])
		ki, vi := float64(k[i]), float64(v[i])
		pi, ai, bi := float64(p[i]), float64(a[i]), float64(bb[i])
		// Read out with the bonus: the running exponent keeps every e^x ≤ 1.
		ww := u + ki
		q := math.Max(pi, ww)
		e1, e2 := math.Exp(pi-q), math.Exp(ww-q)
		wkv := (e1*ai + e2*vi) / (e1*bi + e2)
		// Decay the state one step and add the token.
		ww = pi - w
		q = math.Max(ww, ki)
		e1, e2 = math.Exp(ww-q), math.Exp(ki-q)
		a[i], bb[i], p[i] = float32(e1*ai+e2*vi), float32(e1*bi+e2), float32(q)
		o[i] = kernels.Sigmoid.Eval(r[i]) * float32(wkv)
	}
	copy(prev, x)
	s.Pos++
	m.o.step(o, y)
}

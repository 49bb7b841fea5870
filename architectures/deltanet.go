package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// deltaNet is the delta rule (DeltaNet), optionally with a data-dependent
// scalar decay per head (Gated DeltaNet):
//
//	S_t = α_t (I - β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ,   o_t = q_tᵀ S_t
//
// with q, k L2-normalised per head, β_t = sigmoid(x_t W_β) and, gated,
// α_t = exp(-softplus(x_t W_α + b)) (α = 1 for DeltaNet).
//
// As in flash-linear-attention's layer, by default each of q, k and v goes
// through its own short causal depthwise convolution after its projection
// (qkv_conv taps) and a SiLU (act=silu) before q and k are L2-normalised, and
// the read-out o_t is RMS-normalised per head with a learned gain (norm=true)
// before the output projection:
//
//	q_t = l2(silu(conv_q(x W_q))),  k_t = l2(silu(conv_k(x W_k))),  v_t = silu(conv_v(x W_v))
//	y_t = W_o rmsnorm(o_t)
//
// qkv_conv=0, act=none, norm=false is the bare delta rule on projections.
//
// Inside a chunk with cumulative decay γ (γ_t = Π_{i≤t} α_i) the state
// updates collapse to pseudo-values U (the UT transform):
//
//	(I + A) U = diag(β) V - diag(βγ) K S_0,   A[t,i] = β_t (γ_t/γ_i)(k_t·k_i), i < t
//	O = diag(γ) Q S_0 + (QKᵀ ⊙ Γ) U,          Γ[t,i] = γ_t/γ_i, i ≤ t
//	S_end = γ_C S_0 + (K ⊙ γ_C/γ)ᵀ U
//
//	parallel:  the whole sequence as one chunk (L×L, and the triangular
//	           inverse of an L×L matrix)
//	chunked:   chunks of c, the state carried chunk to chunk
//	recurrent: S (H·dh² floats) and, with qkv_conv, the three conv windows
//	           (3·(qkv_conv-1)·D floats)
type deltaNet struct {
	p          qkvo
	beta       *dense         // [D, H]
	alpha      *dense         // [D, H] with bias; nil for DeltaNet
	cq, ck, cv *shortConv     // per-branch convs after the projections; nil when qkv_conv=0
	silu       bool           // SiLU on q, k, v before the L2 norm of q and k
	gain       *kernels.Param // [dh] gain of the per-head output RMSNorm; nil when norm=false
	c          Config
	family     string
}

// deltaArgs are the arguments both delta-rule mixers take; the defaults are
// flash-linear-attention's DeltaNet layer (4-tap convs, SiLU, output norm).
var deltaArgs = []Arg{
	{Name: "qkv_conv", Default: "4", Doc: "taps of the short causal convs on q, k and v after their projections (0 = none)"},
	{Name: "act", Default: "silu", Doc: "activation on q, k, v before the L2 norm of q and k", Enum: []string{"silu", "none"}},
	{Name: "norm", Default: "true", Doc: "RMS-normalise each head's read-out (learned gain) before the output projection"},
}

// rmsHeads RMS-normalises each head's read-out in place, o in rows of dh,
// and scales it by gain: the recurrent form of g.RMSNorm(o, gain, eps),
// used by deltanet, gated_deltanet and retnet.
func rmsHeads(o []float32, dh int, gain []float32, eps float64) {
	for r := 0; r+dh <= len(o); r += dh {
		row := o[r : r+dh]
		var ss float64
		for _, u := range row {
			ss += float64(u) * float64(u)
		}
		inv := float32(1 / math.Sqrt(ss/float64(dh)+eps))
		for j := range row {
			row[j] *= inv * gain[j]
		}
	}
}

// deltaOutEps is the output RMSNorm's epsilon.
const deltaOutEps = 1e-5

func init() {
	Register(Spec{
		Name: "deltanet", Family: "delta",
		Doc:          "delta rule: S += β(v - S k)kᵀ; short convs on q, k, v, L2-normalised q, k, RMS-normed read-out",
		StateFormula: "H·dh² + 3·(qkv_conv-1)·D floats",
		Args:         deltaArgs,
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			return newDeltaNet("deltanet", false, c, a, rng)
		},
	})
	Register(Spec{
		Name: "gated_deltanet", Family: "delta",
		Doc:          "delta rule with a data-dependent decay on the state (Gated DeltaNet), the same q, k, v convs and read-out norm",
		StateFormula: "H·dh² + 3·(qkv_conv-1)·D floats",
		Args:         deltaArgs,
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			return newDeltaNet("gated_deltanet", true, c, a, rng)
		},
	})
}

func newDeltaNet(name string, gated bool, c Config, a Args, rng *rand.Rand) (*deltaNet, error) {
	kw, err := a.Int("qkv_conv", 0)
	if err != nil {
		return nil, err
	}
	if c.MaxLen > 0 && kw > c.MaxLen {
		return nil, inputErr("mixer %s: qkv_conv=%d: must be <= the longest sequence (%d)", name, kw, c.MaxLen)
	}
	norm, err := a.Bool("norm")
	if err != nil {
		return nil, err
	}
	m := &deltaNet{p: newQKVO(name, c, rng), c: c, family: name, silu: a.String("act") == "silu"}
	m.beta = newDense(name+".beta", c.D, c.Heads, false, initStd(false, c.Layers), rng)
	if gated {
		m.alpha = newDense(name+".alpha", c.D, c.Heads, true, initStd(false, c.Layers), rng)
		m.alpha.B.Name = name + ".decay_bias"
		m.alpha.B.Value.Fill(-4) // α ≈ exp(-softplus(-4)) ≈ 0.98 at the start
	}
	if kw > 0 {
		m.cq = newShortConv(name+".q", kw, c.D, rng)
		m.ck = newShortConv(name+".k", kw, c.D, rng)
		m.cv = newShortConv(name+".v", kw, c.D, rng)
	}
	if norm {
		m.gain = kernels.NewParam(name+".o_norm.gain", kernels.New(c.D/c.Heads).Fill(1))
	}
	return m, nil
}

func (m *deltaNet) Params() []*kernels.Param {
	ps := append(m.p.params(), m.beta.params()...)
	if m.alpha != nil {
		ps = append(ps, m.alpha.params()...)
	}
	if m.cq != nil {
		ps = append(append(append(ps, m.cq.params()...), m.ck.params()...), m.cv.params()...)
	}
	if m.gain != nil {
		ps = append(ps, m.gain)
	}
	return ps
}

// branch is one of q, k, v before the head split: projection, the branch's
// conv when there is one, then the activation.
func (m *deltaNet) branch(g *kernels.Graph, x *kernels.Node, d *dense, c *shortConv) *kernels.Node {
	y := d.apply(g, x)
	if c != nil {
		y = c.build(g, y)
	}
	if m.silu {
		y = g.Act(kernels.SiLU, y)
	}
	return y
}

const l2Eps = 1e-6

// l2 normalises the last dim: x/||x|| = rms_normalize(x)/√d.
func l2(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	d := x.Shape[len(x.Shape)-1]
	return g.Scale(g.RMSNormalize(x, l2Eps/float32(d)), float32(1/math.Sqrt(float64(d))))
}

// heads gives q, k, v [B·H, L, dh], β [B·H, L] and the log-decay [B·H, L].
func (m *deltaNet) heads(g *kernels.Graph, x *kernels.Node) (q, k, v, beta, lg *kernels.Node) {
	b, l, h := x.Shape[0], x.Shape[1], m.c.Heads
	q = l2(g, splitHeads(g, m.branch(g, x, m.p.q, m.cq), h))
	k = l2(g, splitHeads(g, m.branch(g, x, m.p.k, m.ck), h))
	v = splitHeads(g, m.branch(g, x, m.p.v, m.cv), h)
	perHead := func(y *kernels.Node) *kernels.Node { return g.Reshape(g.Transpose(y, 0, 2, 1), b*h, l) }
	beta = perHead(g.Act(kernels.Sigmoid, m.beta.apply(g, x)))
	if m.alpha != nil {
		lg = perHead(g.Scale(g.Act(kernels.Softplus, m.alpha.apply(g, x)), -1))
	} else {
		lg = g.Const("zero_decay", kernels.New(b*h, l))
	}
	return
}

func (m *deltaNet) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	q, k, v, beta, lg := m.heads(g, x)
	c := m.c.Chunk
	if form == Parallel {
		c = x.Shape[1]
	}
	o := deltaChunked(g, q, k, v, beta, lg, c) // [B·H, L, dh]
	if m.gain != nil {
		o = g.RMSNorm(o, g.Param(m.gain), deltaOutEps)
	}
	return m.p.o.apply(g, mergeHeads(g, o, x.Shape[0], m.c.Heads))
}

// deltaChunked runs the chunk equations above: the per-chunk tensors for all
// chunks at once, then the state carried from chunk to chunk by one scan
// (kernels.DeltaScan).
func deltaChunked(g *kernels.Graph, q, k, v, beta, lg *kernels.Node, c int) *kernels.Node {
	n, l, dk, dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	if c <= 0 || c > l {
		c = l
	}
	nc := (l + c - 1) / c
	pad := nc*c - l
	q, k, v = g.Pad(q, 1, 0, pad), g.Pad(k, 1, 0, pad), g.Pad(v, 1, 0, pad)
	beta, lg = g.Pad(beta, 1, 0, pad), g.Pad(lg, 1, 0, pad)
	qc, kc, vc := g.Reshape(q, n*nc, c, dk), g.Reshape(k, n*nc, c, dk), g.Reshape(v, n*nc, c, dv)
	bc := g.Reshape(beta, n*nc, c)
	cum := g.CumSum(g.Reshape(lg, n*nc, c), 1, false, false) // log γ within the chunk
	gam := g.Act(kernels.Exp, cum)
	last := g.Slice(cum, 1, c-1, c)
	gammaM := expDiff(g, cum, cum, false) // Γ, [N·nc, c, c]
	kk := g.Mul(g.MatMul(kc, kc, false, true), gammaM)
	t := g.UnitLowerInverse(g.MulCol(kk, bc)) // (I + A)⁻¹ (A's strict part is read)
	tv := g.MatMul(t, g.MulCol(vc, bc), false, false)
	tk := g.MatMul(t, g.MulCol(kc, g.Mul(bc, gam)), false, false)
	qkg := g.Mul(g.MatMul(qc, kc, false, true), gammaM)
	gq := g.MulCol(qc, gam)
	kd := g.MulCol(kc, g.Act(kernels.Exp, g.BSub(last, cum)))
	chunkDecay := g.Act(kernels.Exp, g.Reshape(last, n, nc))
	per := func(x *kernels.Node) *kernels.Node { // [N·nc, c, e] -> [N, nc, c, e]
		return g.Reshape(x, n, nc, c, x.Shape[2])
	}
	o := g.DeltaScan(per(tv), per(tk), per(qkg), per(gq), per(kd), chunkDecay)
	return g.Slice(g.Reshape(o, n, nc*c, dv), 1, 0, l)
}

func (m *deltaNet) StateBytes(L int) int64 {
	dh := m.c.D / m.c.Heads
	n := int64(m.c.Heads*dh*dh) * 4
	if m.cq != nil {
		n += 3 * m.cq.stateBytes()
	}
	return n
}

func (m *deltaNet) FLOPs(L int) float64 {
	f := m.p.flops() + m.beta.flops() + 6*float64(m.c.D)*float64(m.c.D/m.c.Heads)
	if m.alpha != nil {
		f += m.alpha.flops()
	}
	if m.cq != nil {
		f += 3 * m.cq.flops()
	}
	if m.gain != nil {
		f += 4 * float64(m.c.D) // sum of squares, scale, gain
	}
	return f
}

// NewState holds S [B, H, dh, dh] and, with qkv_conv, the three conv windows.
func (m *deltaNet) NewState(batch int) *State {
	dh := m.c.D / m.c.Heads
	s := &State{Tensors: []*kernels.Tensor{kernels.New(batch, m.c.Heads, dh, dh)}}
	if m.cq != nil {
		s.Tensors = append(s.Tensors, m.cq.newState(batch), m.ck.newState(batch), m.cv.newState(batch))
	}
	return s
}

func l2vec(x []float32) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(s+l2Eps))
	for i := range x {
		x[i] *= inv
	}
}

func (m *deltaNet) Step(s *State, x, y []float32) {
	d, h := m.c.D, m.c.Heads
	dh := d / h
	b := len(x) / d
	q, k, v := make([]float32, b*d), make([]float32, b*d), make([]float32, b*d)
	bt, al := make([]float32, b*h), make([]float32, b*h)
	pre := make([]float32, b*d)
	for i, br := range []struct {
		d   *dense
		c   *shortConv
		out []float32
	}{{m.p.q, m.cq, q}, {m.p.k, m.ck, k}, {m.p.v, m.cv, v}} {
		if br.c == nil {
			br.d.step(x, br.out)
		} else {
			br.d.step(x, pre)
			br.c.step(s.Tensors[1+i], pre, br.out)
		}
		if m.silu {
			for j, u := range br.out {
				br.out[j] = kernels.SiLU.Eval(u)
			}
		}
	}
	m.beta.step(x, bt)
	if m.alpha != nil {
		m.alpha.step(x, al)
	}
	o := make([]float32, b*d)
	kS := make([]float32, dh)
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			off := bi*d + hh*dh
			qv, kv, vv := q[off:off+dh], k[off:off+dh], v[off:off+dh]
			l2vec(qv)
			l2vec(kv)
			beta := kernels.Sigmoid.Eval(bt[bi*h+hh])
			alpha := float32(1)
			if m.alpha != nil {
				alpha = expf(-kernels.Softplus.Eval(al[bi*h+hh]))
			}
			st := s.Tensors[0].Data[(bi*h+hh)*dh*dh : (bi*h+hh+1)*dh*dh] // [dk, dv]
			clear(kS)
			for i := 0; i < dh; i++ {
				for j := 0; j < dh; j++ {
					kS[j] += kv[i] * st[i*dh+j]
				}
			}
			// S = α(S - β k (kᵀS)) + β k vᵀ
			for i := 0; i < dh; i++ {
				for j := 0; j < dh; j++ {
					st[i*dh+j] = alpha*(st[i*dh+j]-beta*kv[i]*kS[j]) + beta*kv[i]*vv[j]
				}
			}
			for i := 0; i < dh; i++ {
				for j := 0; j < dh; j++ {
					o[off+j] += qv[i] * st[i*dh+j]
				}
			}
		}
	}
	if m.gain != nil {
		rmsHeads(o, dh, m.gain.Value.Data, deltaOutEps)
	}
	s.Pos++
	m.p.o.step(o, y)
}

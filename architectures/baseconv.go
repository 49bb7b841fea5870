package architectures

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"lab/kernels"
)

// baseConv is Zoology's BaseConv (Arora et al.), the gated convolution that
// the Zoology figures use as the convolution baseline:
//
//	y_t = (x_t W_1 + b_1) ⊙ ((h ∗ u)_t + b_2) + x_t,   (h ∗ u)_t = Σ_j h_j ⊙ u_{t-j}
//
// with a depthwise causal filter h [K, D]: a short explicit one (conv=K taps,
// default 3), or, with long=true, an implicit long filter over the whole
// length (implicitFilter: a small MLP over positional features times an
// exponential decay window, as Hyena's), K = the longest sequence. By
// default u = x, as Zoology's BaseConv convolves its (normalised) input
// directly: y = (xW + b_1) ⊙ (h ∗ x + b_2). With in_proj=true a projection
// W_2 (no bias) comes first, u = x W_2: the layer lab had until 2026-12-07,
// where the convolution saw x W_2 at the 0.02 init (entries about 0.16) so
// both factors of the product started small. The two reach the same
// accuracy after 1000 steps of the zoo task (0.202 and 0.209, both at
// chance).
//
// With skips=true (the default since 2026-12-07) the layer has Zoology's
// two identity paths: the long filter's output gets its input added, (h ∗
// u)_t + u_t, as Zoology's FFT convolution returns y + u, and the layer's
// output gets x_t added, as Zoology's BaseConv returns y + u (x is the
// block's normalised input; the stack's residual comes on top). skips=false
// is the layer lab had before. In the zoo (3000 steps) the pair reaches
// 0.528 at L 64 with them and 0.430 without (the layer before both changes,
// with W_2 and without the skips, had 0.470).
//
//	parallel:  the convolution as a Toeplitz matrix product, T[d, t, s] = h[t-s, d]
//	           (Gather of the filter rows, then one batched MatMul per channel: O(L²))
//	chunked:   depthwiseConv: the short filter by kernels.CausalConv; the long
//	           one as block-Toeplitz GEMMs over chunks (O(L²·D) work, O(L·c·D)
//	           memory; no FFT op, no [L, L] matrix)
//	recurrent: the last K-1 inputs u of the convolution: (K-1)·D floats for
//	           the short filter; for the long one a cache growing to
//	           min(L, K-1)·D floats
type baseConv struct {
	gate, in *dense // W_1 (with b_1), W_2 (nil unless in_proj)
	short    *shortConv
	long     *implicitFilter
	bias     *kernels.Param // b_2 [D]
	skips    bool
	c        Config
}

func init() {
	Register(Spec{
		Name: "baseconv", Family: "convolution",
		Doc:          "BaseConv (Zoology): (x W1 + b1) ⊙ (h ∗ x + b2), short causal filter or implicit long filter",
		StateFormula: "(conv-1)·D floats; long: min(L, Lmax-1)·D floats",
		Args: []Arg{
			{Name: "conv", Default: "3", Doc: "taps of the short causal filter"},
			{Name: "long", Default: "false", Doc: "implicit long filter over the whole length instead of the short one"},
			{Name: "filter_order", Default: "16", Doc: "width of the long filter's MLP (long=true)"},
			{Name: "skips", Default: "true", Doc: "Zoology's two skips: + u after the long filter (its FFT convolution adds its input) and + x after the product (its BaseConv returns y + u); false: neither (the old layer)"},
			{Name: "in_proj", Default: "false", Doc: "a projection W_2 in front of the convolution (the old layer); false: the convolution sees x, as Zoology's"},
		},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			k, err := a.Int("conv", 1)
			if err != nil {
				return nil, err
			}
			long, err := a.Bool("long")
			if err != nil {
				return nil, err
			}
			order, err := a.Int("filter_order", 1)
			if err != nil {
				return nil, err
			}
			skips, err := a.Bool("skips")
			if err != nil {
				return nil, err
			}
			inProj, err := a.Bool("in_proj")
			if err != nil {
				return nil, err
			}
			if !long && c.MaxLen > 0 && k > c.MaxLen {
				return nil, inputErr("mixer baseconv: conv=%d: must be <= the longest sequence (%d)", k, c.MaxLen)
			}
			std := initStd(false, c.Layers)
			m := &baseConv{c: c, skips: skips,
				gate: newDense("baseconv.gate", c.D, c.D, true, std, rng),
				bias: kernels.NewParam("baseconv.conv_bias", kernels.New(c.D)),
			}
			if inProj {
				m.in = newDense("baseconv.in", c.D, c.D, false, std, rng)
			}
			if long {
				m.long = newImplicitFilter("baseconv.filter", c.D, order, c.MaxLen, rng)
			} else {
				m.short = newShortConv("baseconv", k, c.D, rng)
			}
			return m, nil
		},
	})
}

func (m *baseConv) Params() []*kernels.Param {
	ps := m.gate.params()
	if m.in != nil {
		ps = append(ps, m.in.params()...)
	}
	if m.long != nil {
		ps = append(ps, m.long.params()...)
	} else {
		ps = append(ps, m.short.params()...)
	}
	return append(ps, m.bias)
}

// filter is h [K, D] for a sequence of L.
func (m *baseConv) filter(g *kernels.Graph, L int) *kernels.Node {
	if m.long != nil {
		return m.long.build(g, L)
	}
	return g.Param(m.short.w)
}

func (m *baseConv) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	u := x
	if m.in != nil {
		u = m.in.apply(g, x)
	}
	cv := g.AddRowVec(depthwiseConv(g, u, m.filter(g, x.Shape[1]), form, m.c.Chunk), g.Param(m.bias))
	if m.skips && m.long != nil {
		cv = g.Add(cv, u)
	}
	y := g.Mul(m.gate.apply(g, x), cv)
	if m.skips {
		y = g.Add(y, x)
	}
	return y
}

func (m *baseConv) taps() int {
	if m.long != nil {
		return m.long.taps
	}
	return m.short.k
}

func (m *baseConv) StateBytes(L int) int64 {
	if m.long != nil {
		return m.long.cacheBytes(L, m.c.D)
	}
	return m.short.stateBytes()
}

func (m *baseConv) FLOPs(L int) float64 {
	f := m.gate.flops() + 2*float64(m.c.D)*meanTaps(m.taps(), L) + 2*float64(m.c.D)
	if m.in != nil {
		f += m.in.flops()
	}
	if m.skips {
		f += 2 * float64(m.c.D) // + u after the long filter, + x after the product
	}
	return f
}

func (m *baseConv) NewState(batch int) *State {
	if m.long != nil {
		return &State{Tensors: []*kernels.Tensor{kernels.New(0, batch, m.c.D)}}
	}
	return &State{Tensors: []*kernels.Tensor{m.short.newState(batch)}}
}

func (m *baseConv) Step(s *State, x, y []float32) {
	u, cv := x, make([]float32, len(x))
	if m.in != nil {
		u = make([]float32, len(x))
		m.in.step(x, u)
	}
	if m.long != nil {
		m.long.step(s.Tensors[0], s.Pos, u, cv)
	} else {
		m.short.step(s.Tensors[0], u, cv)
	}
	m.gate.step(x, y)
	d := m.c.D
	for i := range y {
		c := cv[i] + m.bias.Value.Data[i%d]
		if m.skips && m.long != nil {
			c += u[i]
		}
		y[i] *= c
		if m.skips {
			y[i] += x[i]
		}
	}
	s.Pos++
}

// depthwiseConv is (h ∗ x)_t = Σ_{j<K, j≤t} h_j ⊙ x_{t-j} for x [B, L, C] and
// h [K, C]:
//
//	parallel: one Toeplitz matrix per channel, T[t, s] = h[t-s] (a Gather of the
//	          filter rows), times x: one batched MatMul, [C, L, L] in memory
//	chunked:  short filters (K ≤ shortTaps) by kernels.CausalConv; longer ones
//	          as a block-Toeplitz product over chunks of c tokens: output
//	          chunk i is Σ_m T_m·x_{i-m} with the [c, c] blocks T_m[a, b] =
//	          h[m·c + a - b] (one Gather, [L/c, C, c, c]), one batched MatMul
//	          per block lag m that the filter reaches. The work is the
//	          Toeplitz product's, O(B·L²·C) for a filter as long as the
//	          sequence, but on GEMMs, with O(L·c·C) memory for the blocks
func depthwiseConv(g *kernels.Graph, x, h *kernels.Node, form Form, c int) *kernels.Node {
	b, l, ch := x.Shape[0], x.Shape[1], x.Shape[2]
	k := h.Shape[0]
	if form != Parallel && k <= shortTaps {
		return g.CausalConv(x, h)
	}
	if form == Parallel || c <= 0 || c > l {
		c = l
	}
	nc := (l + c - 1) / c
	lags := min(nc, (k+c-2)/c+1) // blocks m with some m·c + a - b < K
	// T_m[a, b] = h[m·c + a - b] where that is in [0, K), else the zero row at K.
	idx := kernels.NewInts(lags, c, c)
	for m := 0; m < lags; m++ {
		for a := 0; a < c; a++ {
			for bb := 0; bb < c; bb++ {
				j := m*c + a - bb
				if j < 0 || j >= k {
					j = k
				}
				idx.Ints[(m*c+a)*c+bb] = int32(j)
			}
		}
	}
	blocks := g.Gather(g.Pad(h, 0, 0, 1), g.Const("toeplitz_idx", idx)) // [lags, c, c, C]
	blocks = g.Transpose(blocks, 0, 3, 1, 2)                            // [lags, C, c, c]
	// x as [C, c, nc·B]: column (i, b) holds chunk i of sequence b.
	xs := g.Reshape(g.Transpose(g.Reshape(g.Pad(x, 1, 0, nc*c-l), b, nc, c, ch), 3, 2, 1, 0), ch, c, nc*b)
	var y *kernels.Node
	for m := 0; m < lags; m++ {
		tm := g.Reshape(g.Slice(blocks, 0, m, m+1), ch, c, c)
		ym := g.MatMul(tm, g.Slice(xs, 2, 0, (nc-m)*b), false, false) // chunks i-m → i
		ym = g.Pad(ym, 2, m*b, 0)
		if y == nil {
			y = ym
		} else {
			y = g.Add(y, ym)
		}
	}
	y = g.Transpose(g.Reshape(y, ch, c, nc, b), 3, 2, 1, 0) // [B, nc, c, C]
	return g.Slice(g.Reshape(y, b, nc*c, ch), 1, 0, l)
}

// shortTaps is the longest filter depthwiseConv's chunked form leaves to
// kernels.CausalConv (a direct loop over the taps).
const shortTaps = 8

// meanTaps is the number of filter taps a token sees, averaged over a
// sequence of L: Σ_t min(t+1, K) / L.
func meanTaps(k, L int) float64 {
	if L <= 0 {
		return float64(k)
	}
	var s float64
	for t := 0; t < L; t++ {
		s += float64(min(t+1, k))
	}
	return s / float64(L)
}

// filterNorm normalises the long filter's positions when the config names no
// longest sequence (Config.MaxLen = 0): positions are t/filterNorm and the
// filter has as many taps as the sequence.
const filterNorm = 1024

// filterBands are the frequencies of the positional features,
// cos/sin(2π·f·t/Lmax), beside t/Lmax itself (Hyena's complex exponential
// features with (emb_dim-1)/2 = 2 bands; its first band's frequency is 1e-4).
var filterBands = []float64{1e-4, 1}

// implicitFilter is Hyena's implicit long filter: h[t] = MLP(z(t)) ⊙
// exp(-|δ|·t/Lmax), with positional features z(t) = [t/Lmax, cos(2πft/Lmax),
// -sin(2πft/Lmax) for f in filterBands], an MLP of two hidden layers of
// `order` units, and fixed per-channel decay rates δ spread between
// ln(0.01)/1.5 and ln(0.01)/0.3 (Hyena's exponential modulation: at the
// last position the window is between 0.05 and 2e-7). Hyena's MLP uses a
// sine activation; kernels has none, so this one uses tanh (a documented
// departure: every op stays one the CUDA backend already lowers).
//
// The filter depends only on parameters and positions, so it is built once
// per graph ([K, D] for K = min(L, Lmax) taps) and used as a convolution
// kernel.
type implicitFilter struct {
	l1, l2, l3 *dense
	rate       []float64 // |δ_d|
	norm, taps int       // Lmax for positions; taps: Lmax, or 0 = as long as the sequence
	// The recurrent form's filter rows, kept while the weights they came
	// from are unchanged (a decoder computes its filter once).
	mu       sync.Mutex // guards the memo: Step may run on several goroutines
	memo     []float32
	memoFrom [][]float32
}

func newImplicitFilter(name string, d, order, maxLen int, rng *rand.Rand) *implicitFilter {
	f := &implicitFilter{norm: maxLen, taps: maxLen}
	if maxLen <= 0 {
		f.norm, f.taps = filterNorm, 0
	}
	e := 1 + 2*len(filterBands)
	f.l1 = newDense(name+".mlp1", e, order, true, 1/math.Sqrt(float64(e)), rng)
	f.l2 = newDense(name+".mlp2", order, order, true, 1/math.Sqrt(float64(order)), rng)
	f.l3 = newDense(name+".mlp3", order, d, false, 1/math.Sqrt(float64(order)), rng)
	for _, l := range []*dense{f.l1, f.l2} {
		l.B.Value.Uniform(rng, -0.5, 0.5)
	}
	for _, l := range []*dense{f.l1, f.l2, f.l3} {
		l.W.Decay = false // Hyena trains its filter without weight decay
	}
	lo, hi := math.Log(1e-2)/1.5, math.Log(1e-2)/0.3
	for i := 0; i < d; i++ {
		f.rate = append(f.rate, -(lo + (hi-lo)*float64(i)/float64(max(1, d-1))))
	}
	return f
}

func (f *implicitFilter) params() []*kernels.Param {
	return append(append(f.l1.params(), f.l2.params()...), f.l3.params()...)
}

// k is the number of taps for a sequence of L.
func (f *implicitFilter) k(L int) int {
	if f.taps > 0 {
		return min(L, f.taps)
	}
	return L
}

// features returns z(t) for t < k, [k, E].
func (f *implicitFilter) features(k int) *kernels.Tensor {
	e := 1 + 2*len(filterBands)
	z := kernels.New(k, e)
	for t := 0; t < k; t++ {
		p := float64(t) / float64(f.norm)
		row := z.Data[t*e : (t+1)*e]
		row[0] = float32(p)
		for i, fr := range filterBands {
			row[1+2*i] = float32(math.Cos(2 * math.Pi * fr * p))
			row[2+2*i] = float32(-math.Sin(2 * math.Pi * fr * p))
		}
	}
	return z
}

// window returns exp(-|δ_d|·t/Lmax), [k, D].
func (f *implicitFilter) window(k int) *kernels.Tensor {
	d := len(f.rate)
	w := kernels.New(k, d)
	for t := 0; t < k; t++ {
		for i, r := range f.rate {
			w.Data[t*d+i] = float32(math.Exp(-r * float64(t) / float64(f.norm)))
		}
	}
	return w
}

// build returns the filter h [K, D] for a sequence of L.
func (f *implicitFilter) build(g *kernels.Graph, L int) *kernels.Node {
	k := f.k(L)
	z := g.Const("filter_pos", f.features(k))
	h := g.Act(kernels.Tanh, f.l1.apply(g, z))
	h = g.Act(kernels.Tanh, f.l2.apply(g, h))
	return g.Mul(f.l3.apply(g, h), g.Const("filter_window", f.window(k)))
}

// rows returns the first k filter taps, [k·D], from the memo when the
// weights have not changed since it was computed.
func (f *implicitFilter) rows(k int) []float32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := len(f.rate)
	ps := f.params()
	fresh := len(f.memo) >= k*d && len(f.memoFrom) == len(ps)
	for i := 0; fresh && i < len(ps); i++ {
		fresh = slices.Equal(ps[i].Value.Data, f.memoFrom[i])
	}
	if fresh {
		return f.memo[:k*d]
	}
	want := f.taps // every tap the filter has, once
	if want == 0 {
		want = max(k, 2*len(f.memo)/d) // a filter as long as the sequence: grow by doubling
	}
	f.memo = f.computeRows(want)
	f.memoFrom = f.memoFrom[:0]
	for _, p := range ps {
		f.memoFrom = append(f.memoFrom, slices.Clone(p.Value.Data))
	}
	return f.memo[:k*d]
}

// computeRows evaluates the first k filter taps in plain Go, [k·D].
func (f *implicitFilter) computeRows(k int) []float32 {
	z, win := f.features(k), f.window(k)
	h1, h2 := make([]float32, k*f.l1.out), make([]float32, k*f.l2.out)
	out := make([]float32, k*f.l3.out)
	f.l1.step(z.Data, h1)
	for i, v := range h1 {
		h1[i] = kernels.Tanh.Eval(v)
	}
	f.l2.step(h1, h2)
	for i, v := range h2 {
		h2[i] = kernels.Tanh.Eval(v)
	}
	f.l3.step(h2, out)
	for i := range out {
		out[i] *= win.Data[i]
	}
	return out
}

// cacheBytes is the recurrent cache after L tokens: the last min(L, K-1)
// inputs of d channels (all L when the filter is as long as the sequence).
func (f *implicitFilter) cacheBytes(L, d int) int64 {
	n := L
	if f.taps > 0 {
		n = min(L, f.taps-1)
	}
	return int64(n*d) * 4
}

// step convolves one token per sequence, u [B, C] → y [B, C], with the
// cache c [n, B, C] of past inputs (time-major, newest last) at position
// pos, then appends u and drops what the filter no longer reaches.
func (f *implicitFilter) step(c *kernels.Tensor, pos int, u, y []float32) {
	d := len(f.rate)
	k := pos + 1
	if f.taps > 0 {
		k = min(k, f.taps)
	}
	h := f.rows(k)
	n, row := c.Shape[0], len(u)
	for i := range y {
		y[i] = h[i%d] * u[i]
	}
	for j := 1; j < k && j <= n; j++ { // lag j reads cache entry n-j
		past := c.Data[(n-j)*row : (n-j+1)*row]
		hj := h[j*d : (j+1)*d]
		for i := range y {
			y[i] += hj[i%d] * past[i]
		}
	}
	c.Data = append(c.Data, u...)
	c.Shape[0]++
	if f.taps > 0 && c.Shape[0] > f.taps-1 {
		c.Data = c.Data[row:]
		c.Shape[0]--
	}
}

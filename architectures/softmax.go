package architectures

import (
	"math"
	"math/rand/v2"

	"lab/kernels"
)

// attention is multi-head causal softmax attention, optionally restricted to
// a sliding window of the last `window` tokens (window 0 = full causal).
//
//	parallel/chunked: softmax(QKᵀ/√dh + causal mask)·V as one Attention op
//	                  (blocked over queries: no n×n matrix in memory; the
//	                  CUDA backend runs flash kernels)
//	recurrent:        a KV cache, growing by 2·D floats a token (capped at
//	                  the window for sliding-window attention)
type attention struct {
	p      qkvo
	c      Config
	window int
}

func init() {
	Register(Spec{
		Name: "softmax", Family: "softmax",
		Doc:          "multi-head causal softmax attention",
		StateFormula: "KV cache: 2·L·D floats",
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			return &attention{p: newQKVO("softmax", c, rng), c: c}, nil
		},
	})
	Register(Spec{
		Name: "swa", Family: "softmax",
		Doc:          "sliding-window causal softmax attention",
		StateFormula: "KV cache: 2·min(L, window)·D floats",
		Args:         []Arg{{Name: "window", Default: "64", Doc: "tokens each query sees, itself included"}},
		New: func(c Config, a Args, rng *rand.Rand) (Mixer, error) {
			w, err := a.Int("window", 1)
			if err != nil {
				return nil, err
			}
			if c.MaxLen > 0 && w > c.MaxLen {
				return nil, inputErr("mixer swa: window=%d: must be <= the longest sequence (%d)", w, c.MaxLen)
			}
			return &attention{p: newQKVO("swa", c, rng), c: c, window: w}, nil
		},
	})
}

func (m *attention) Params() []*kernels.Param { return m.p.params() }

func (m *attention) Build(g *kernels.Graph, x *kernels.Node, form Form) *kernels.Node {
	b, h := x.Shape[0], m.c.Heads
	q := splitHeads(g, m.p.q.apply(g, x), h)
	k := splitHeads(g, m.p.k.apply(g, x), h)
	v := splitHeads(g, m.p.v.apply(g, x), h)
	dh := q.Shape[2]
	a := g.Attention(q, k, v, float32(1/math.Sqrt(float64(dh))), m.window)
	o := mergeHeads(g, a, b, h)
	return m.p.o.apply(g, o)
}

// cached returns how many past tokens the recurrent form keeps after L.
func (m *attention) cached(L int) int {
	if m.window > 0 && L > m.window {
		return m.window
	}
	return L
}

func (m *attention) StateBytes(L int) int64 { return int64(2*m.cached(L)*m.c.D) * 4 }

func (m *attention) FLOPs(L int) float64 {
	var seen float64 // keys each query attends to, averaged over positions
	for t := 1; t <= L; t++ {
		seen += float64(m.cached(t))
	}
	seen /= float64(max(L, 1))
	return m.p.flops() + 4*float64(m.c.D)*seen
}

// NewState holds the K and V caches, [t, B, D] each (time-major, so a token
// is appended in place with amortised growth), t growing with the sequence.
func (m *attention) NewState(batch int) *State {
	return &State{Tensors: []*kernels.Tensor{kernels.New(0, batch, m.c.D), kernels.New(0, batch, m.c.D)}}
}

// push appends one token's rows [B, D] to a time-major cache and drops the
// oldest when the window is full.
func (m *attention) push(c *kernels.Tensor, row []float32) {
	c.Data = append(c.Data, row...)
	c.Shape[0]++
	if m.window > 0 && c.Shape[0] > m.window {
		c.Data = c.Data[len(row):]
		c.Shape[0]--
	}
}

func (m *attention) Step(s *State, x, y []float32) {
	d, h := m.c.D, m.c.Heads
	dh := d / h
	b := len(x) / d
	q, k, v := m.p.stepQKV(x)
	kc, vc := s.Tensors[0], s.Tensors[1]
	m.push(kc, k)
	m.push(vc, v)
	s.Pos++
	keep := kc.Shape[0]
	o := make([]float32, b*d)
	scale := float32(1 / math.Sqrt(float64(dh)))
	sc := make([]float32, keep)
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			off := bi*d + hh*dh
			qv := q[off : off+dh]
			for j := 0; j < keep; j++ {
				kv := kc.Data[j*b*d+off : j*b*d+off+dh]
				var dotp float32
				for e := range qv {
					dotp += qv[e] * kv[e]
				}
				sc[j] = dotp * scale
			}
			softmaxInPlace(sc)
			ov := o[off : off+dh]
			for j := 0; j < keep; j++ {
				vv := vc.Data[j*b*d+off : j*b*d+off+dh]
				for e := range ov {
					ov[e] += sc[j] * vv[e]
				}
			}
		}
	}
	m.p.o.step(o, y)
}

func softmaxInPlace(x []float32) {
	mx := x[0]
	for _, v := range x {
		mx = max(mx, v)
	}
	var s float32
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v - mx)))
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
}

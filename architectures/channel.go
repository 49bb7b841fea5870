package architectures

import (
	"fmt"
	"math/rand/v2"

	"lab/kernels"
)

// channelMixer mixes features within each position (the MLP half of a block).
type channelMixer interface {
	build(g *kernels.Graph, x *kernels.Node) *kernels.Node
	params() []*kernels.Param
	flops() float64
}

// mlp is x·W1 → GELU → ·W2, hidden width ratio·D.
type mlp struct{ up, down *dense }

// glu is SwiGLU: (silu(x·W1) ⊙ x·W3)·W2, hidden width ratio·D.
type glu struct{ gate, up, down *dense }

// rwkvCMix is RWKV channel mixing: token shift, then
// sigmoid(x_r W_r) ⊙ (relu(x_k W_k)² W_v), hidden width ratio·D.
type rwkvCMix struct {
	r, k, v  *dense
	muR, muK *kernels.Param
}

// identity is Zoology's "no MLP" (its state mixer torch.nn.Identity): the
// block's second half still adds its normalised input to the residual
// stream, x + norm2(x), with no weights of its own beyond the norm.
type identity struct{}

func (identity) build(g *kernels.Graph, x *kernels.Node) *kernels.Node { return x }
func (identity) params() []*kernels.Param                              { return nil }
func (identity) flops() float64                                        { return 0 }

// ChannelMixers names the channel mixers a spec may choose.
var ChannelMixers = []string{"mlp", "glu", "rwkv_cmix", "identity", "none"}

func newChannel(kind, name string, c Config, ratio int, rng *rand.Rand) (channelMixer, error) {
	hid := ratio * c.D
	switch kind {
	case "mlp":
		return &mlp{
			up:   newDense(name+".up", c.D, hid, true, initStd(false, c.Layers), rng),
			down: newDense(name+".down", hid, c.D, true, initStd(true, c.Layers), rng),
		}, nil
	case "glu":
		return &glu{
			gate: newDense(name+".gate", c.D, hid, false, initStd(false, c.Layers), rng),
			up:   newDense(name+".up", c.D, hid, false, initStd(false, c.Layers), rng),
			down: newDense(name+".down", hid, c.D, false, initStd(true, c.Layers), rng),
		}, nil
	case "rwkv_cmix":
		return &rwkvCMix{
			r:   newDense(name+".r", c.D, c.D, false, initStd(false, c.Layers), rng),
			k:   newDense(name+".k", c.D, hid, false, initStd(false, c.Layers), rng),
			v:   newDense(name+".v", hid, c.D, false, initStd(true, c.Layers), rng),
			muR: newMu(name+".mu_r", c.D, rng), muK: newMu(name+".mu_k", c.D, rng),
		}, nil
	case "identity":
		return identity{}, nil
	case "none":
		return nil, nil
	}
	return nil, inputErr("model.channel = %q: allowed: mlp, glu, rwkv_cmix, identity, none", kind)
}

func (m *mlp) build(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	return m.down.apply(g, g.Act(kernels.GELU, m.up.apply(g, x)))
}
func (m *mlp) params() []*kernels.Param { return append(m.up.params(), m.down.params()...) }
func (m *mlp) flops() float64           { return m.up.flops() + m.down.flops() }

func (m *glu) build(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	return m.down.apply(g, g.Mul(g.Act(kernels.SiLU, m.gate.apply(g, x)), m.up.apply(g, x)))
}
func (m *glu) params() []*kernels.Param {
	return append(append(m.gate.params(), m.up.params()...), m.down.params()...)
}
func (m *glu) flops() float64 { return m.gate.flops() + m.up.flops() + m.down.flops() }

func (m *rwkvCMix) build(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	diff := shiftDiff(g, x)
	r := g.Act(kernels.Sigmoid, m.r.apply(g, shiftMix(g, x, diff, m.muR)))
	k := g.Act(kernels.Square, g.Act(kernels.ReLU, m.k.apply(g, shiftMix(g, x, diff, m.muK))))
	return g.Mul(r, m.v.apply(g, k))
}
func (m *rwkvCMix) params() []*kernels.Param {
	return append(append(append(m.r.params(), m.k.params()...), m.v.params()...), m.muR, m.muK)
}
func (m *rwkvCMix) flops() float64 { return m.r.flops() + m.k.flops() + m.v.flops() }

// norm is a LayerNorm (gain and bias) or an RMSNorm (gain).
type norm struct {
	gain, bias *kernels.Param
}

// Norms names the normalisations a spec may choose.
var Norms = []string{"layernorm", "rmsnorm"}

const normEps = 1e-5

func newNorm(kind, name string, d int) (*norm, error) {
	n := &norm{gain: kernels.NewParam(name+".gain", kernels.New(d).Fill(1))}
	switch kind {
	case "layernorm":
		n.bias = kernels.NewParam(name+".bias", kernels.New(d))
	case "rmsnorm":
	default:
		return nil, inputErr("model.norm = %q: allowed: layernorm, rmsnorm", kind)
	}
	return n, nil
}

func (n *norm) build(g *kernels.Graph, x *kernels.Node) *kernels.Node {
	if n.bias == nil {
		return g.RMSNorm(x, g.Param(n.gain), normEps)
	}
	return g.LayerNorm(x, g.Param(n.gain), g.Param(n.bias), normEps)
}

func (n *norm) params() []*kernels.Param {
	if n.bias == nil {
		return []*kernels.Param{n.gain}
	}
	return []*kernels.Param{n.gain, n.bias}
}

func blockName(i int) string { return fmt.Sprintf("layer%d", i) }

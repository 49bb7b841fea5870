package architectures

import (
	"math/rand/v2"

	"lab/hybrid"
	"lab/kernels"
)

// ModelConfig describes the stack: token (+ learned position) embeddings,
// Layers pre-norm residual blocks of [norm, token mixer(s), residual, norm,
// channel mixer, residual], a final norm and the LM head: its own weight, or
// the token embedding (TieEmbeddings).
type ModelConfig struct {
	Vocab, D, Heads, Layers int
	MaxLen                  int    // longest sequence (position table size)
	Mix                     string // the layer-mix language (package hybrid)
	Channel                 string // mlp | glu | none
	MLPRatio                int
	Norm                    string // layernorm | rmsnorm
	Position                string // learned | none
	Chunk                   int
	// TieEmbeddings makes the LM head the token embedding (logits = x·Eᵀ).
	TieEmbeddings bool
	// EmbedDropout is the dropout probability after the embeddings, in
	// [0, 1); it acts only in the training loss (TrainLoss with a key).
	EmbedDropout float64
}

// Block is one residual layer; several mixers in a layer are summed.
type Block struct {
	Mixers  []Mixer
	Names   []string
	norm1   *norm
	norm2   *norm
	channel channelMixer
}

// Model is the full stack with its parameters.
type Model struct {
	Config ModelConfig
	Blocks []*Block
	tok    *kernels.Param
	pos    *kernels.Param
	final  *norm
	head   *dense
}

// NewModel parses cfg.Mix and initialises every parameter from seed.
func NewModel(cfg ModelConfig, seed uint64) (*Model, error) {
	switch {
	case cfg.Vocab <= 0:
		return nil, inputErr("task.vocab = %d: must be positive", cfg.Vocab)
	case cfg.D <= 0:
		return nil, inputErr("model.d_model = %d: must be positive", cfg.D)
	case cfg.Heads <= 0 || cfg.D%cfg.Heads != 0:
		return nil, inputErr("model.heads = %d: must be positive and divide d_model (%d)", cfg.Heads, cfg.D)
	case cfg.Layers <= 0:
		return nil, inputErr("model.layers = %d: must be positive", cfg.Layers)
	case cfg.MLPRatio <= 0 && cfg.Channel != "none":
		return nil, inputErr("model.mlp_ratio = %d: must be positive", cfg.MLPRatio)
	case cfg.Position != "learned" && cfg.Position != "none":
		return nil, inputErr("model.position = %q: allowed: learned, none", cfg.Position)
	case !(cfg.EmbedDropout >= 0 && cfg.EmbedDropout < 1):
		return nil, inputErr("model.embed_dropout = %v: must be in [0, 1)", cfg.EmbedDropout)
	}
	stack, err := hybrid.Parse(cfg.Mix)
	if err != nil {
		return nil, err
	}
	if stack, err = stack.Broadcast(cfg.Layers); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c6162))
	mc := Config{D: cfg.D, Heads: cfg.Heads, Chunk: cfg.Chunk, Layers: cfg.Layers, MaxLen: cfg.MaxLen}
	m := &Model{Config: cfg}
	m.tok = kernels.NewParam("tok_emb", kernels.New(cfg.Vocab, cfg.D).Randn(rng, 0.02))
	if cfg.Position == "learned" {
		m.pos = kernels.NewParam("pos_emb", kernels.New(cfg.MaxLen, cfg.D).Randn(rng, 0.02))
	}
	for i, layer := range stack {
		name := blockName(i)
		b := &Block{}
		if b.norm1, err = newNorm(cfg.Norm, name+".norm1", cfg.D); err != nil {
			return nil, err
		}
		for _, mx := range layer.Mixers {
			args := map[string]string{}
			for _, a := range mx.Args {
				args[a.Key] = a.Value
			}
			mix, err := NewMixer(mx.Name, args, mc, rng)
			if err != nil {
				return nil, err
			}
			b.Mixers = append(b.Mixers, mix)
			b.Names = append(b.Names, mx.Name)
		}
		if b.channel, err = newChannel(cfg.Channel, name+".channel", mc, cfg.MLPRatio, rng); err != nil {
			return nil, err
		}
		if b.channel != nil {
			if b.norm2, err = newNorm(cfg.Norm, name+".norm2", cfg.D); err != nil {
				return nil, err
			}
		}
		m.Blocks = append(m.Blocks, b)
	}
	if m.final, err = newNorm(cfg.Norm, "final_norm", cfg.D); err != nil {
		return nil, err
	}
	if !cfg.TieEmbeddings {
		m.head = newDense("lm_head", cfg.D, cfg.Vocab, false, 0.02, rng)
	}
	return m, nil
}

// Params lists every trainable tensor.
func (m *Model) Params() []*kernels.Param {
	ps := []*kernels.Param{m.tok}
	if m.pos != nil {
		ps = append(ps, m.pos)
	}
	for _, b := range m.Blocks {
		ps = append(ps, b.norm1.params()...)
		for _, mx := range b.Mixers {
			ps = append(ps, mx.Params()...)
		}
		if b.channel != nil {
			ps = append(ps, b.norm2.params()...)
			ps = append(ps, b.channel.params()...)
		}
	}
	ps = append(ps, m.final.params()...)
	if m.head == nil {
		return ps
	}
	return append(ps, m.head.params()...)
}

// ParamCount is the number of trainable scalars.
func (m *Model) ParamCount() int64 {
	var n int64
	for _, p := range m.Params() {
		n += int64(p.Value.Len())
	}
	return n
}

// Hidden builds the stack up to (not including) the final norm: ids [B, L]
// integer → [B, L, D].
func (m *Model) Hidden(g *kernels.Graph, ids *kernels.Node, form Form) *kernels.Node {
	return m.hidden(g, ids, nil, form)
}

// hidden is Hidden with embedding dropout when key (an integer input [1],
// the step's mask key) is not nil and the model has EmbedDropout.
func (m *Model) hidden(g *kernels.Graph, ids, key *kernels.Node, form Form) *kernels.Node {
	b, l := ids.Shape[0], ids.Shape[1]
	x := g.Gather(g.Param(m.tok), ids) // [B, L, D]
	if m.pos != nil {
		pos := g.Reshape(g.Slice(g.Param(m.pos), 0, 0, l), l*m.Config.D)
		x = g.Reshape(g.AddRowVec(g.Reshape(x, b, l*m.Config.D), pos), b, l, m.Config.D)
	}
	if key != nil && m.Config.EmbedDropout > 0 {
		x = g.Dropout(x, key, float32(m.Config.EmbedDropout))
	}
	for _, blk := range m.Blocks {
		h := blk.norm1.build(g, x)
		var mixed *kernels.Node
		for _, mx := range blk.Mixers {
			y := mx.Build(g, h, form)
			if mixed == nil {
				mixed = y
			} else {
				mixed = g.Add(mixed, y)
			}
		}
		x = g.Add(x, mixed)
		if blk.channel != nil {
			x = g.Add(x, blk.channel.build(g, blk.norm2.build(g, x)))
		}
	}
	return x
}

// Logits builds the LM head at the chosen positions only: ids [B, L] and
// at [K] (flat indices b·L+t) give logits [K, Vocab]. The final norm and the
// head act on each position alone, so computing them only where there is a
// target is exact and skips most of the head's work.
func (m *Model) Logits(g *kernels.Graph, ids, at *kernels.Node, form Form) *kernels.Node {
	x := m.headInput(g, ids, at, nil, form)
	if m.head == nil {
		return g.MatMul(x, g.Param(m.tok), false, true)
	}
	return m.head.apply(g, x)
}

// headInput is the final norm of the hidden state at positions at: [K, D].
func (m *Model) headInput(g *kernels.Graph, ids, at, key *kernels.Node, form Form) *kernels.Node {
	h := m.hidden(g, ids, key, form)
	b, l := ids.Shape[0], ids.Shape[1]
	rows := g.Gather(g.Reshape(h, b*l, m.Config.D), at)
	return m.final.build(g, rows)
}

// Loss builds the training loss: the mean cross-entropy of the LM head at
// positions at [K] against targets [K] (kernels.Ignore = no loss). It is
// the one place the head meets the loss: the head and the loss are one op
// (kernels.LinearCrossEntropy), which never holds the [K, Vocab] logits.
func (m *Model) Loss(g *kernels.Graph, ids, at, targets *kernels.Node, form Form) *kernels.Node {
	return m.TrainLoss(g, ids, at, targets, nil, form)
}

// TrainLoss is Loss with the training-only parts: embedding dropout under
// key, an integer input [1] the trainer sets to a new mask key every step
// (kernels.DropoutKey). With key nil, or no EmbedDropout, it is Loss.
func (m *Model) TrainLoss(g *kernels.Graph, ids, at, targets, key *kernels.Node, form Form) *kernels.Node {
	x := m.headInput(g, ids, at, key, form)
	if m.head == nil { // tied: the head is Eᵀ, [D, V]
		return g.LinearCrossEntropy(x, g.Transpose(g.Param(m.tok), 1, 0), targets)
	}
	if m.head.B != nil { // the fused op has no bias; the LM head is built without one
		return g.CrossEntropy(m.head.apply(g, x), targets)
	}
	return g.LinearCrossEntropy(x, g.Param(m.head.W), targets)
}

// NeedsKey reports whether TrainLoss uses a dropout key.
func (m *Model) NeedsKey() bool { return m.Config.EmbedDropout > 0 }

// StateBytes sums the recurrent state of every mixer for one sequence of L.
func (m *Model) StateBytes(L int) int64 {
	var n int64
	for _, b := range m.Blocks {
		for _, mx := range b.Mixers {
			n += mx.StateBytes(L)
		}
	}
	return n
}

// FLOPs is the forward cost per token at length L: mixers, channel mixers
// and the LM head (at every position, as in decoding).
func (m *Model) FLOPs(L int) float64 {
	f := 2 * float64(m.Config.D) * float64(m.Config.Vocab) // the LM head, tied or not
	for _, b := range m.Blocks {
		for _, mx := range b.Mixers {
			f += mx.FLOPs(L)
		}
		if b.channel != nil {
			f += b.channel.flops()
		}
	}
	return f
}

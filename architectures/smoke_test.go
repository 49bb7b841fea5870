package architectures

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"lab/kernels"
	"lab/tasks"
)

// mqarSmoke trains a tiny two-layer model with mixer mix on MQAR (L 32,
// vocab 32, 4 pairs) on the CPU for steps AdamW steps and returns the mean
// training loss over the first and the last 20 steps.
func mqarSmoke(t *testing.T, mix string, steps int) (first, last float64) {
	t.Helper()
	const batch, seqLen, vocab = 16, 32, 32
	task, err := tasks.New("mqar", map[string]float64{"seq_len": seqLen, "vocab": vocab, "kv_pairs": 4})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := task.Generate(steps*batch, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(ModelConfig{Vocab: vocab, D: 32, Heads: 2, Layers: 2, MaxLen: seqLen, Mix: mix,
		Channel: "mlp", MLPRatio: 2, Norm: "layernorm", Position: "learned", Chunk: 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	k := batch * task.TargetsPerExample()
	g := kernels.NewGraph()
	ids, at, tg := g.IntInput("ids", batch, seqLen), g.IntInput("at", k), g.IntInput("targets", k)
	params := m.Params()
	var loss *kernels.Node
	var grads []*kernels.Node
	if err := kernels.Catch(func() {
		loss = m.Loss(g, ids, at, tg, Chunked)
		nodes := make([]*kernels.Node, len(params))
		for i, p := range params {
			nodes[i] = g.Param(p)
		}
		grads = g.Grad(loss, nodes)
	}); err != nil {
		t.Fatal(err)
	}
	p, err := kernels.Compile(g, append([]*kernels.Node{loss}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	gt := make([]*kernels.Tensor, len(grads))
	for i, gn := range grads {
		gt[i] = p.Value(gn)
	}
	opt := kernels.NewOptimizer(kernels.AdamW{LR: 3e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.1,
		Clip: 1, Warmup: steps / 10, Steps: steps, MinLRRatio: 0.1}, params, gt)
	idb, atb, tgb := p.Value(ids).Ints, p.Value(at).Ints, p.Value(tg).Ints
	var losses []float64
	for s := 0; s < steps; s++ {
		n := 0
		for b := 0; b < batch; b++ {
			row := s*batch + b
			copy(idb[b*seqLen:(b+1)*seqLen], pool.Inputs[row*seqLen:(row+1)*seqLen])
			for j, v := range pool.Targets[row*seqLen : (row+1)*seqLen] {
				if v != tasks.Ignore {
					atb[n], tgb[n] = int32(b*seqLen+j), v
					n++
				}
			}
		}
		p.Run()
		l := float64(p.Value(loss).Data[0])
		if math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("%s: loss %v at step %d", mix, l, s)
		}
		losses = append(losses, l)
		opt.Step()
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	return mean(losses[:20]), mean(losses[len(losses)-20:])
}

// Each mixer of the Zoology and Based figures learns something on a tiny
// MQAR within a few hundred CPU steps: the training loss falls well below
// its start (ln 32 ≈ 3.47; 2.77 is knowing that answers are values).
func TestMQARSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("trains six tiny models (about 80 s on 2 cores; mamba about 40 s of it)")
	}
	for _, c := range []struct {
		mix   string
		steps int
	}{{"baseconv", 300}, {"baseconv(long=true)", 300}, {"mamba", 200}, {"h3", 300}, {"hyena", 300}, {"rwkv7", 300}} {
		mix := c.mix
		t.Run(mix, func(t *testing.T) {
			start := time.Now()
			first, last := mqarSmoke(t, mix, c.steps)
			t.Logf("%s: loss %.3f -> %.3f in %.1fs", mix, first, last, time.Since(start).Seconds())
			if last > first-0.5 {
				t.Errorf("%s: loss %.3f -> %.3f: did not fall by 0.5", mix, first, last)
			}
		})
	}
}

// The new mixers' arguments are checked with one-line input errors.
func TestFigureMixersBadInput(t *testing.T) {
	cfg := Config{D: 8, Heads: 2, MaxLen: 32}
	for _, c := range []struct {
		name string
		args map[string]string
	}{
		{"baseconv", map[string]string{"conv": "64"}}, {"baseconv", map[string]string{"long": "maybe"}},
		{"baseconv", map[string]string{"filter_order": "0"}}, {"hyena", map[string]string{"filter_order": "0"}},
		{"hyena", map[string]string{"conv": "0"}}, {"h3", map[string]string{"head_dim": "3"}},
		{"h3", map[string]string{"d_state": "0"}}, {"mamba", map[string]string{"scan": "fft"}},
		{"mamba", map[string]string{"expand": "0"}}, {"rwkv7", map[string]string{"rank": "0"}},
	} {
		_, err := NewMixer(c.name, c.args, cfg, rand.New(rand.NewPCG(1, 1)))
		var ie *InputError
		if err == nil || !asInput(err, &ie) {
			t.Errorf("%s %v: got %v, want an InputError", c.name, c.args, err)
		}
	}
}

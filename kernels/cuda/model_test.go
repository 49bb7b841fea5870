package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"lab/architectures"
	"lab/kernels"
)

// trainGraph is one model's training graph: logits at the target
// positions, masked cross-entropy, and the gradient of every parameter.
type trainGraph struct {
	m                 *architectures.Model
	g                 *kernels.Graph
	ids, at, tg, loss *kernels.Node
	key               *kernels.Node // the dropout key (nil without dropout)
	grads             []*kernels.Node
	params            []*kernels.Param
}

func newTrainGraph(t testing.TB, cfg architectures.ModelConfig, batch, L, K int) *trainGraph {
	t.Helper()
	m, err := architectures.NewModel(cfg, 5)
	must(t, err)
	tr := &trainGraph{m: m, g: kernels.NewGraph(), params: m.Params()}
	g := tr.g
	must(t, kernels.Catch(func() {
		tr.ids, tr.at, tr.tg = g.IntInput("ids", batch, L), g.IntInput("at", K), g.IntInput("targets", K)
		if m.NeedsKey() {
			tr.key = g.IntInput("dropout_key", 1)
		}
		tr.loss = m.TrainLoss(g, tr.ids, tr.at, tr.tg, tr.key, architectures.Chunked)
		nodes := make([]*kernels.Node, len(tr.params))
		for i, p := range tr.params {
			nodes[i] = g.Param(p)
		}
		tr.grads = g.Grad(tr.loss, nodes)
	}))
	return tr
}

// batchData draws token ids, the flat positions with a target (every
// position) and targets, one in ten kernels.Ignore.
func batchData(rng *rand.Rand, vocab, batch, L int) (ids, at, tg []int32) {
	ids, at, tg = make([]int32, batch*L), make([]int32, batch*L), make([]int32, batch*L)
	for i := range ids {
		ids[i], at[i], tg[i] = int32(rng.IntN(vocab)), int32(i), int32(rng.IntN(vocab))
		if rng.IntN(10) == 0 {
			tg[i] = kernels.Ignore
		}
	}
	return ids, at, tg
}

var testAdam = kernels.AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Clip: 1,
	Warmup: 2, Steps: 4, MinLRRatio: 0.1}

// The quickstart models train the same on the GPU as on the CPU: four
// AdamW steps from the same initial weights on the same random batches
// (two through Run and Optimizer.Step, eager then captured; two through
// TrainStep, eager then captured), GEMMs in plain float32. Losses, the
// last gradient norm and the final weights are compared. The Zoology
// recipe's model (tied embeddings, embedding dropout with a new key each
// step, no MLP) is among them.
func TestTrainingMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, c := range []struct {
		mix, channel string
		tied         bool
		dropout      float64
	}{{"softmax(conv=2)", "mlp", false, 0}, {"linear(feature=elu1, conv=2)", "mlp", false, 0}, {"softmax", "none", true, 0.1}} {
		mix := c.mix
		t.Run(fmt.Sprintf("%s tied=%v dropout=%v", mix, c.tied, c.dropout), func(t *testing.T) {
			cfg := architectures.ModelConfig{Vocab: 64, D: 32, Heads: 1, Layers: 2, MaxLen: 64, Mix: mix,
				Channel: c.channel, MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 16,
				TieEmbeddings: c.tied, EmbedDropout: c.dropout}
			const B, L = 4, 40 // L < MaxLen: the position table is sliced; 40 = 2.5 chunks: padding
			cpuT, gpuT := newTrainGraph(t, cfg, B, L, B*L), newTrainGraph(t, cfg, B, L, B*L)
			cpu, err := kernels.Compile(cpuT.g, append([]*kernels.Node{cpuT.loss}, cpuT.grads...)...)
			must(t, err)
			gt := make([]*kernels.Tensor, len(cpuT.grads))
			for i, gn := range cpuT.grads {
				gt[i] = cpu.Value(gn)
			}
			copt := kernels.NewOptimizer(testAdam, cpuT.params, gt)
			p, err := Compile(d, gpuT.g, append([]*kernels.Node{gpuT.loss}, gpuT.grads...)...)
			must(t, err)
			defer p.Free()
			must(t, p.SetTF32(false))
			o, err := NewOptimizer(p, testAdam, gpuT.params, gpuT.grads)
			must(t, err)
			defer o.Free()
			rng := rand.New(rand.NewPCG(11, 12))
			var cpuNorm float64
			for s := 0; s < 4; s++ {
				ids, at, tg := batchData(rng, cfg.Vocab, B, L)
				copy(cpu.Value(cpuT.ids).Ints, ids)
				copy(cpu.Value(cpuT.at).Ints, at)
				copy(cpu.Value(cpuT.tg).Ints, tg)
				if cpuT.key != nil {
					key := kernels.DropoutKey(9, s)
					cpu.Value(cpuT.key).Ints[0] = key
					must(t, p.SetInts(gpuT.key, []int32{key}))
				}
				cpu.Run()
				want := float64(cpu.Value(cpuT.loss).Data[0])
				var clr float64
				clr, cpuNorm = copt.Step()
				must(t, p.SetInts(gpuT.ids, ids))
				must(t, p.SetInts(gpuT.at, at))
				must(t, p.SetInts(gpuT.tg, tg))
				var lr float64
				if s < 2 {
					must(t, p.Run())
					lr, err = o.Step()
				} else {
					lr, err = o.TrainStep()
				}
				must(t, err)
				loss := make([]float32, 1)
				must(t, p.Read(gpuT.loss, loss))
				rel := math.Abs(float64(loss[0])-want) / math.Abs(want)
				t.Logf("step %d: loss cpu %.7f gpu %.7f (rel %.1e), lr %.2e", s, want, loss[0], rel, lr)
				if rel > 1e-5 || lr != clr || math.IsNaN(rel) {
					t.Fatalf("step %d: loss %v, want %v (tolerance 1e-5 relative); lr %v, want %v", s, loss[0], want, lr, clr)
				}
			}
			norm, err := o.Norm()
			must(t, err)
			if math.Abs(norm-cpuNorm) > 1e-5*cpuNorm {
				t.Fatalf("gradient norm %v, want %v", norm, cpuNorm)
			}
			must(t, p.DownloadParams())
			var num, den, worst float64
			for i, cp := range cpuT.params {
				gw, cw := gpuT.params[i].Value.Data, cp.Value.Data
				for j := range cw {
					d := math.Abs(float64(gw[j]) - float64(cw[j]))
					num += d * d
					den += float64(cw[j]) * float64(cw[j])
					worst = max(worst, d/(1+math.Abs(float64(cw[j]))))
					if !(d <= 1e-4*(1+math.Abs(float64(cw[j])))) {
						t.Fatalf("parameter %s[%d]: gpu %v, cpu %v (tolerance 1e-4*(1+|cpu|))", cp.Name, j, gw[j], cw[j])
					}
				}
			}
			rn := math.Sqrt(num / den)
			t.Logf("gradient norm cpu %.6f gpu %.6f; final weights: largest |d|/(1+|w|) %.2e, ||d||/||w|| %.2e", cpuNorm, norm, worst, rn)
			if rn > 1e-6 {
				t.Fatalf("final weights differ: ||gpu-cpu||/||cpu|| = %.2e (tolerance 1e-6)", rn)
			}
		})
	}
}

// The device AdamW gives the CPU's weights bit for bit when the gradients
// are equal: parameters of sizes that are and are not multiples of 4 (so
// the moment arrays of later ones are not 16-byte aligned) and longer
// than a chunk, with and without decay, gradients constant (the loss is
// sum(p ⊙ c) per parameter), three steps through Step and TrainStep. No
// clipping: the gradient norm is summed in another order on each side.
func TestOptimizerMatchesCPUBits(t *testing.T) {
	d, _ := gpu(t)
	adam := testAdam
	adam.Clip = 0
	sizes := []int{3, 1001, adamChunk + 7, 4096, 1, 2 * adamChunk}
	build := func() (*kernels.Graph, *kernels.Node, []*kernels.Node, []*kernels.Param) {
		rng := rand.New(rand.NewPCG(31, 32))
		g := kernels.NewGraph()
		var loss *kernels.Node
		var nodes []*kernels.Node
		var params []*kernels.Param
		must(t, kernels.Catch(func() {
			for i, n := range sizes {
				pr := kernels.NewParam(fmt.Sprint("p", i), kernels.FromData(randn(rng, n, 0, 1), n))
				pr.Decay = i%2 == 0
				x := g.Param(pr)
				term := g.SumAll(g.Mul(x, constOf(g, fmt.Sprint("c", i), randn(rng, n, 0, 0.3), n)))
				if loss == nil {
					loss = term
				} else {
					loss = g.Add(loss, term)
				}
				nodes, params = append(nodes, x), append(params, pr)
			}
		}))
		return g, loss, g.Grad(loss, nodes), params
	}
	cg, closs, cgrads, cparams := build()
	cpu, err := kernels.Compile(cg, append([]*kernels.Node{closs}, cgrads...)...)
	must(t, err)
	gt := make([]*kernels.Tensor, len(cgrads))
	for i, gn := range cgrads {
		gt[i] = cpu.Value(gn)
	}
	copt := kernels.NewOptimizer(adam, cparams, gt)
	g, loss, grads, params := build()
	p, err := Compile(d, g, append([]*kernels.Node{loss}, grads...)...)
	must(t, err)
	defer p.Free()
	o, err := NewOptimizer(p, adam, params, grads)
	must(t, err)
	defer o.Free()
	for s := 0; s < 3; s++ {
		cpu.Run()
		copt.Step()
		if s == 0 {
			must(t, p.Run())
			_, err = o.Step()
		} else {
			_, err = o.TrainStep()
		}
		must(t, err)
	}
	must(t, p.DownloadParams())
	for i, cp := range cparams {
		for j, w := range cp.Value.Data {
			if got := params[i].Value.Data[j]; math.Float32bits(got) != math.Float32bits(w) {
				t.Fatalf("parameter %d (size %d)[%d]: gpu %v, cpu %v", i, sizes[i], j, got, w)
			}
		}
	}
}

// Several programs on one device from several goroutines at once (lab run
// --workers N on one GPU): each compiles, captures and replays its own
// training step while the others upload inputs, read losses and capture
// theirs. Every goroutine's losses equal those of the same program run
// alone, bit for bit.
func TestConcurrentProgramsOneDevice(t *testing.T) {
	d, _ := gpu(t)
	cfg := architectures.ModelConfig{Vocab: 64, D: 32, Heads: 1, Layers: 2, MaxLen: 64, Mix: "softmax",
		Channel: "identity", MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 16,
		TieEmbeddings: true, EmbedDropout: 0.1}
	const B, L, steps, workers = 4, 40, 6, 6
	run := func(seed uint64) ([]float32, error) {
		tr := newTrainGraph(t, cfg, B, L, B*L)
		p, err := Compile(d, tr.g, append([]*kernels.Node{tr.loss}, tr.grads...)...)
		if err != nil {
			return nil, err
		}
		defer p.Free()
		o, err := NewOptimizer(p, testAdam, tr.params, tr.grads)
		if err != nil {
			return nil, err
		}
		defer o.Free()
		rng := rand.New(rand.NewPCG(seed, 1))
		var losses []float32
		for s := 0; s < steps; s++ {
			ids, at, tg := batchData(rng, cfg.Vocab, B, L)
			for _, in := range []struct {
				n *kernels.Node
				v []int32
			}{{tr.ids, ids}, {tr.at, at}, {tr.tg, tg}, {tr.key, []int32{kernels.DropoutKey(seed, s)}}} {
				if err := p.SetInts(in.n, in.v); err != nil {
					return nil, err
				}
			}
			if _, err := o.TrainStep(); err != nil {
				return nil, err
			}
			l := make([]float32, 1)
			if err := p.Read(tr.loss, l); err != nil {
				return nil, err
			}
			losses = append(losses, l[0])
		}
		return losses, nil
	}
	want := make([][]float32, workers)
	for w := range want {
		var err error
		want[w], err = run(uint64(w + 1))
		must(t, err)
	}
	got := make([][]float32, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[w], errs[w] = run(uint64(w + 1))
		}()
	}
	wg.Wait()
	for w := range got {
		must(t, errs[w])
		for s := range want[w] {
			if math.Float32bits(got[w][s]) != math.Float32bits(want[w][s]) {
				t.Fatalf("worker %d step %d: loss %v concurrently, %v alone", w, s, got[w][s], want[w][s])
			}
		}
	}
	t.Logf("%d programs x %d steps at once: losses equal to the programs run alone", workers, steps)
}

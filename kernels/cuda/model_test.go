package cuda

import (
	"math"
	"math/rand/v2"
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
		tr.loss = m.Loss(g, tr.ids, tr.at, tr.tg, architectures.Chunked)
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
// last gradient norm and the final weights are compared.
func TestTrainingMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, mix := range []string{"softmax(conv=2)", "linear(feature=elu1, conv=2)"} {
		t.Run(mix, func(t *testing.T) {
			cfg := architectures.ModelConfig{Vocab: 64, D: 32, Heads: 1, Layers: 2, MaxLen: 64, Mix: mix,
				Channel: "mlp", MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 16}
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

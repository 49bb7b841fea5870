package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"lab/architectures"
	"lab/kernels"
)

// mixerCases is every registered mixer with its defaults, plus hybrids by
// layer and inside a layer, so a mixer added to the registry is checked
// on the GPU without touching this file.
func mixerCases() []string {
	names := architectures.Names()
	return append(names, "gla, softmax", "linear + swa(window=8)", "mamba2(conv=4) + deltanet")
}

// Every mixer's loss and parameter gradients on the GPU (GEMMs in plain
// float32) match the CPU's on the same random batch: two layers, two heads
// (so heads are split and merged), L = 24 over chunks of 8 (three chunks),
// targets at every position, one in ten ignored. Bound: loss within 1e-5
// relative; each parameter's gradient within 1e-4 in relative L2 norm
// (the GPU sums in other orders than the CPU: reductions over rows, GEMM
// tiles).
func TestEveryMixerMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, mix := range mixerCases() {
		t.Run(mix, func(t *testing.T) {
			cfg := architectures.ModelConfig{Vocab: 48, D: 32, Heads: 2, Layers: 2, MaxLen: 64, Mix: mix,
				Channel: "mlp", MLPRatio: 2, Norm: "layernorm", Position: "learned", Chunk: 8}
			const B, L = 2, 24
			cpuT, gpuT := newTrainGraph(t, cfg, B, L, B*L), newTrainGraph(t, cfg, B, L, B*L)
			outs := append([]*kernels.Node{cpuT.loss}, cpuT.grads...)
			cpu, err := kernels.Compile(cpuT.g, outs...)
			must(t, err)
			p, err := Compile(d, gpuT.g, append([]*kernels.Node{gpuT.loss}, gpuT.grads...)...)
			must(t, err)
			defer p.Free()
			must(t, p.SetTF32(false))
			ids, at, tg := batchData(rand.New(rand.NewPCG(3, 4)), cfg.Vocab, B, L)
			copy(cpu.Value(cpuT.ids).Ints, ids)
			copy(cpu.Value(cpuT.at).Ints, at)
			copy(cpu.Value(cpuT.tg).Ints, tg)
			cpu.Run()
			must(t, p.SetInts(gpuT.ids, ids))
			must(t, p.SetInts(gpuT.at, at))
			must(t, p.SetInts(gpuT.tg, tg))
			for run := 0; run < 2; run++ { // eager, then captured
				must(t, p.Run())
				got := make([]float32, 1)
				must(t, p.Read(gpuT.loss, got))
				want := float64(cpu.Value(cpuT.loss).Data[0])
				if rel := math.Abs(float64(got[0])-want) / math.Abs(want); !(rel <= 1e-5) {
					t.Fatalf("run %d: loss gpu %v, cpu %v (rel %.1e > 1e-5)", run, got[0], want, rel)
				}
				worst, where := 0.0, ""
				for i, gn := range gpuT.grads {
					w := cpu.Value(cpuT.grads[i]).Data
					g := make([]float32, len(w))
					must(t, p.Read(gn, g))
					var num, den float64
					for j := range w {
						num += sq(float64(g[j]) - float64(w[j]))
						den += sq(float64(w[j]))
					}
					rel := math.Sqrt(num / math.Max(den, 1e-30))
					if den == 0 && num == 0 {
						rel = 0
					}
					if !(rel <= worst) {
						worst, where = rel, gpuT.params[i].Name
					}
				}
				if !(worst <= 1e-4) {
					t.Fatalf("run %d: gradient of %s differs: ||gpu-cpu||/||cpu|| = %.2e (bound 1e-4)", run, where, worst)
				}
				if run == 1 {
					t.Logf("loss %.6f; worst gradient %.1e (%s); planned %d KiB", want, worst, where, p.PlannedBytes>>10)
				}
			}
		})
	}
}

func sq(x float64) float64 { return x * x }

// TestMixerStepTimings prints ms per training step of every mixer family
// on the workload at d_model 128 (LAB_CUDA_BENCH=1; lengths from
// LAB_CUDA_BENCH_L, default "256,1024"), beside softmax, so "within 2x of
// softmax" can be read off.
func TestMixerStepTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	Ls := []int{256, 1024}
	if s := os.Getenv("LAB_CUDA_BENCH_L"); s != "" {
		Ls = nil
		for _, f := range strings.Split(s, ",") {
			var l int
			fmt.Sscan(f, &l)
			Ls = append(Ls, l)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nms per training step by mixer, d=128 (batch 64, vocab 8192, 2 layers, 1 head, TF32)\n%-16s", "mixer")
	for _, L := range Ls {
		fmt.Fprintf(&out, " %9s %6s", fmt.Sprintf("L=%d", L), "/soft")
	}
	fmt.Fprintln(&out)
	base := map[int]float64{}
	for _, mix := range append([]string{"softmax"}, architectures.Names()...) {
		if mix == "softmax" && len(base) > 0 {
			continue
		}
		fmt.Fprintf(&out, "%-16s", mix)
		for _, L := range Ls {
			b := newStepBench(t, d, mix, 128, L)
			ms, loss := b.time(t, 10)
			b.free()
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				t.Errorf("%s L=%d: loss %v", mix, L, loss)
			}
			if mix == "softmax" {
				base[L] = ms
			}
			fmt.Fprintf(&out, " %9.2f %6.2f", ms, ms/base[L])
		}
		fmt.Fprintln(&out)
	}
	fmt.Print(out.String())
}

// The cases above build on any machine (no GPU): a mixer that cannot be
// built at two heads and L = 24 fails here rather than only on the GPU run.
func TestMixerCasesBuild(t *testing.T) {
	for _, mix := range mixerCases() {
		cfg := architectures.ModelConfig{Vocab: 48, D: 32, Heads: 2, Layers: 2, MaxLen: 64, Mix: mix,
			Channel: "mlp", MLPRatio: 2, Norm: "layernorm", Position: "learned", Chunk: 8}
		tr := newTrainGraph(t, cfg, 2, 24, 48)
		if err := checkOps(tr.g, tr.g.Needed(append(tr.grads, tr.loss)...)); err != nil {
			t.Errorf("%s: %v", mix, err)
		}
	}
}

// TestMixerProfile prints, for each mixer in LAB_CUDA_PROFILE (separated
// by semicolons: mixer strings hold commas), the ops that take the most time in one training step at
// d=LAB_CUDA_PROFILE_D (default 128) and L=LAB_CUDA_PROFILE_L (default
// 256), launch by launch.
func TestMixerProfile(t *testing.T) {
	mixes := os.Getenv("LAB_CUDA_PROFILE")
	if mixes == "" {
		t.Skip("profiles run only with LAB_CUDA_PROFILE='mixer;...'")
	}
	L, D := 256, 128
	if s := os.Getenv("LAB_CUDA_PROFILE_L"); s != "" {
		fmt.Sscan(s, &L)
	}
	if s := os.Getenv("LAB_CUDA_PROFILE_D"); s != "" {
		fmt.Sscan(s, &D)
	}
	d, _ := gpu(t)
	for _, mix := range strings.Split(mixes, ";") {
		b := newStepBench(t, d, mix, D, L)
		_, err := b.o.TrainStep()
		must(t, err)
		b.writeProfile(t, os.Stdout, fmt.Sprintf("%s d=%d L=%d", mix, D, L), 20)
		b.free()
	}
}

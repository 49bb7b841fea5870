package cuda

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"lab/architectures"
	"lab/kernels"
)

// benchAdam is the optimizer of the timed steps.
var benchAdam = kernels.AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Clip: 1,
	Warmup: 10, Steps: 1000, MinLRRatio: 0.1}

// stepBench compiles the workload for one mixer, width and length:
// 2 layers of [pre-norm, mixer, residual, pre-norm, 4x GELU MLP,
// residual], token and learned position embeddings, final norm, untied LM
// head over a vocabulary of 8192 at every position, batch 64 (or B), one
// head, chunk 64, AdamW, TF32 GEMMs (LAB_CUDA_PRECISION=fp32|bf16 for
// another precision).
type stepBench struct {
	tr *trainGraph
	p  *Program
	o  *Optimizer
}

func newStepBench(t *testing.T, d *Device, mix string, D, L int) *stepBench {
	return newStepBenchBatch(t, d, mix, D, L, 64)
}

func newStepBenchBatch(t *testing.T, d *Device, mix string, D, L, B int) *stepBench {
	const V = 8192
	cfg := architectures.ModelConfig{Vocab: V, D: D, Heads: 1, Layers: 2, MaxLen: L, Mix: mix,
		Channel: "mlp", MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 64}
	tr := newTrainGraph(t, cfg, B, L, B*L)
	p, err := Compile(d, tr.g, append([]*kernels.Node{tr.loss}, tr.grads...)...)
	must(t, err)
	if s := os.Getenv("LAB_CUDA_PRECISION"); s != "" {
		pr, err := ParsePrecision(s)
		must(t, err)
		must(t, p.SetPrecision(pr))
	}
	o, err := NewOptimizer(p, benchAdam, tr.params, tr.grads)
	must(t, err)
	ids, at, tg := batchData(rand.New(rand.NewPCG(uint64(D), uint64(L))), V, B, L)
	must(t, p.SetInts(tr.ids, ids))
	must(t, p.SetInts(tr.at, at))
	must(t, p.SetInts(tr.tg, tg))
	return &stepBench{tr, p, o}
}

func (b *stepBench) free() {
	b.o.Free()
	b.p.Free()
}

// time returns the median milliseconds of reps captured training steps
// (TrainStep, one graph launch each), timed with device events after 3
// warm-up steps, and the loss after them.
func (b *stepBench) time(t *testing.T, reps int) (ms, loss float64) {
	ms = medianMS(t, b.p.d, b.p.s, 3, reps, func() error { _, err := b.o.TrainStep(); return err })
	l := make([]float32, 1)
	must(t, b.p.Read(b.tr.loss, l))
	return ms, float64(l[0])
}

// profile runs the schedule and the update once, launch by launch, with an
// event between every two nodes, and returns the milliseconds spent per op
// name (the update as "adamw"), and the total.
func (b *stepBench) profile(t *testing.T) (map[string]float64, map[string]int, float64) {
	s := b.p.s
	evs := make([]*Event, len(b.p.steps)+2)
	for i := range evs {
		evs[i] = newEvent(t, b.p.d)
	}
	must(t, b.p.Sync())
	for i, st := range b.p.steps {
		must(t, evs[i].Record(s))
		must(t, st.run())
	}
	must(t, evs[len(b.p.steps)].Record(s))
	must(t, b.o.record())
	must(t, evs[len(evs)-1].Record(s))
	must(t, evs[len(evs)-1].Sync())
	ms, count := map[string]float64{}, map[string]int{}
	total := 0.0
	for i := 1; i < len(evs); i++ {
		e, err := evs[i].Since(evs[i-1])
		must(t, err)
		name := "adamw"
		if i <= len(b.p.steps) {
			name = b.p.steps[i-1].n.Op.Name()
			if name == "matmul" {
				a := kernels.Describe(b.p.steps[i-1].n.Op)
				name = fmt.Sprintf("matmul(tA=%v,tB=%v)", a.Bools["trans_a"], a.Bools["trans_b"])
			}
		}
		ms[name] += float64(e)
		count[name]++
		total += float64(e)
	}
	return ms, count, total
}

// writeProfile writes the per-op profile of one step (b.profile), the ops
// in order of time, the top of them (top 0: all).
func (b *stepBench) writeProfile(t *testing.T, w io.Writer, title string, top int) {
	ms, count, total := b.profile(t)
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, c string) int { return int(math.Copysign(1, ms[c]-ms[a])) })
	if top > 0 {
		names = names[:min(top, len(names))]
	}
	fmt.Fprintf(w, "\nprofile %s, launch by launch: %.2f ms, planned %.2f GiB\n", title, total, float64(b.p.PlannedBytes)/(1<<30))
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %3d nodes %8.3f ms %5.1f%%\n", n, count[n], ms[n], 100*ms[n]/total)
	}
}

// TestStepTimings prints ms per training step for the workload
// (LAB_CUDA_BENCH=1; LAB_CUDA_BENCH_OUT names a file for a copy), and a
// per-op profile of two of the shapes.
func TestStepTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	var out strings.Builder
	for _, prof := range []struct {
		mix  string
		D, L int
	}{{"softmax", 128, 1024}, {"linear(feature=elu1)", 128, 1024}} {
		b := newStepBench(t, d, prof.mix, prof.D, prof.L)
		_, err := b.o.TrainStep() // warm: cuBLAS picks its kernels
		must(t, err)
		b.writeProfile(t, &out, fmt.Sprintf("%s d=%d L=%d", prof.mix, prof.D, prof.L), 0)
		b.free()
	}
	fmt.Fprintf(&out, "\nms per training step (TrainStep: one CUDA graph, median of 20; batch 64, vocab 8192, 2 layers, TF32)\n")
	fmt.Fprintf(&out, "%-22s %5s %9s %9s %9s\n", "mixer", "d", "L=64", "L=256", "L=1024")
	for _, mix := range []string{"softmax", "linear(feature=elu1)"} {
		for _, D := range []int{64, 128, 256} {
			fmt.Fprintf(&out, "%-22s %5d", mix, D)
			for _, L := range []int{64, 256, 1024} {
				b := newStepBench(t, d, mix, D, L)
				ms, loss := b.time(t, 20)
				b.free()
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					t.Errorf("%s d=%d L=%d: loss %v", mix, D, L, loss)
				}
				fmt.Fprintf(&out, " %9.2f", ms)
			}
			fmt.Fprintln(&out)
		}
	}
	fmt.Print(out.String())
	if f := os.Getenv("LAB_CUDA_BENCH_OUT"); f != "" {
		must(t, os.WriteFile(f, []byte(out.String()), 0o644))
	}
}

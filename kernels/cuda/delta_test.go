package cuda

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"lab/kernels"
)

// deltaShapes are (N, nc, c, dk, dv) of the scan tests: one chunk, ragged
// widths (dk % 4 != 0: the scalar path), more chunks than tiles, and the
// timing workload's widths (dk = dv = 128, c = 64).
var deltaShapes = [][5]int{{1, 1, 4, 3, 5}, {2, 3, 4, 8, 8}, {3, 5, 8, 3, 6}, {2, 4, 16, 12, 33}, {1, 7, 2, 1, 1},
	{2, 4, 64, 128, 128}, {8, 6, 16, 32, 40}}

// deltaCase builds DeltaScan's outputs and DeltaStates' states from fresh
// random inputs: tk, kd, gq uniform in ±0.5/√dk (the state stays of order
// one), decays in [0.5, 1].
func deltaCase(s [5]int) graphCase {
	n, nc, c, dk, dv := s[0], s[1], s[2], s[3], s[4]
	return graphCase{name: fmt.Sprint("delta_scan ", s), grad: true, build: func(g *kernels.Graph, ci *caseInputs) []*kernels.Node {
		a := 0.5 / math.Sqrt(float64(dk))
		tv, tk := ci.U(-1, 1, n, nc, c, dv), ci.U(-a, a, n, nc, c, dk)
		qkg, gq := ci.U(-0.5, 0.5, n, nc, c, c), ci.U(-a, a, n, nc, c, dk)
		kd, dec := ci.U(-a, a, n, nc, c, dk), ci.U(0.5, 1, n, nc)
		return []*kernels.Node{g.DeltaScan(tv, tk, qkg, gq, kd, dec), g.DeltaStates(tv, tk, kd, dec)}
	}}
}

// The scan (delta_states and its reverse delta_states_grad) and DeltaScan's
// batched GEMMs on the GPU (plain float32) against the CPU Program, outputs
// and the gradients of all six inputs, eager, captured and replayed runs on
// fresh inputs. Bound: |gpu - cpu| <= 1e-4·(1 + |cpu|): each state element
// sums up to c·dk = 8192 products per chunk over several chunks, with FMA
// contraction on the GPU and cuBLAS's tile order in the GEMMs.
func TestDeltaScanMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	defer func() { deltaNoStage = false }()
	for _, noStage := range []bool{false, true} {
		for _, s := range deltaShapes {
			gc := deltaCase(s)
			t.Run(fmt.Sprintf("%s/nostage=%v", strings.ReplaceAll(gc.name, " ", "_"), noStage), func(t *testing.T) {
				deltaNoStage = noStage
				w := checkCase(t, d, gc, 1e-4)
				t.Logf("largest |got-want|/(1+|want|): %.2e (tolerance 1e-4)", w)
			})
		}
	}
}

// The tile and kernel choice keep shared memory within bounds and narrow
// the tile for small batches (runs without a GPU).
func TestDeltaTile(t *testing.T) {
	for _, c := range []struct{ n, c, dk, dv, sms, want int }{
		{64, 64, 128, 128, 132, 16}, {8, 64, 128, 128, 132, 8}, {1000, 64, 128, 128, 132, 32},
		{4, 4, 3, 5, 132, 8}, {4, 4, 3, 1, 132, 1}, {64, 64, 512, 128, 132, 16}, {64, 64, 3000, 128, 132, 4}, {64, 64, 3100, 128, 132, 2},
		{1, 64, 20000, 4, 132, 0},
	} {
		got := deltaTile(c.n, c.c, c.dk, c.dv, c.sms)
		if got != c.want || (got > 0 && (c.dk+c.c)*got*4 > deltaSharedMax) || (got > 0 && deltaBlock%got != 0) {
			t.Errorf("deltaTile%v = %d, want %d", c, got, c.want)
		}
	}
	for _, c := range []struct {
		n, c, dk, dv int
		vec          bool
		t            int
		staged       bool
	}{
		{64, 64, 128, 128, true, 16, true}, {8, 64, 128, 128, true, 8, true}, {1000, 64, 128, 128, true, 16, true},
		{64, 64, 128, 128, false, 16, false}, {4, 64, 256, 64, true, 8, false}, {4, 32, 128, 64, true, 8, true}, {4, 64, 1024, 64, true, 8, false},
	} {
		tt, st := deltaPlan(c.n, c.c, c.dk, c.dv, 132, c.vec)
		if tt != c.t || st != c.staged || (st && deltaStagedBytes(c.c, c.dk, tt) > deltaSharedMax) {
			t.Errorf("deltaPlan%v = %d, %v", c, tt, st)
		}
	}
}

// TestDeltaScanTimings (LAB_CUDA_BENCH=1) times the scan kernels alone,
// launch by launch, in DeltaScan's forward and backward: the timing
// workload's shape (batch 64, L = 1024) and the long one (batch 8, L =
// 16384), one head of 128.
func TestDeltaScanTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	fmt.Printf("\ndelta scan kernels (c = 64, dk = dv = 128), ms launch by launch, median of 5\n")
	defer func() { deltaNoStage = false }()
	for _, v := range []struct {
		s       [5]int
		noStage bool
	}{{[5]int{64, 4, 64, 128, 128}, true}, {[5]int{64, 4, 64, 128, 128}, false}, {[5]int{64, 16, 64, 128, 128}, true},
		{[5]int{64, 16, 64, 128, 128}, false}, {[5]int{8, 256, 64, 128, 128}, true}, {[5]int{8, 256, 64, 128, 128}, false}} {
		s := v.s
		deltaNoStage = v.noStage
		gc := deltaCase(s)
		p := gradProgram(t, d, func(g *kernels.Graph, ci *caseInputs) *kernels.Node { return gc.build(g, ci)[0] })
		reps := make(map[string][]float64)
		var total []float64
		for rep := 0; rep < 5; rep++ {
			ms := profileSteps(t, p)
			sum := 0.0
			for k, v := range ms {
				reps[k] = append(reps[k], v)
				sum += v
			}
			total = append(total, sum)
		}
		fl := 2 * float64(s[0]*(s[1]-1)) * float64(2*s[2]*s[3]*s[4]) / 1e9 // GFLOP per scan
		med := func(v []float64) float64 { w := append([]float64(nil), v...); sortFloats(w); return w[len(w)/2] }
		fmt.Printf("%-17s N=%d nc=%d: delta_states %.3f ms, delta_states_grad %.3f ms (%.2f GFLOP each: %.1f / %.1f TFLOP/s); whole fwd+bwd %.3f ms\n",
			map[bool]string{true: "delta_scan", false: "delta_scan_staged"}[v.noStage], s[0], s[1], med(reps["delta_states"]), med(reps["delta_states_grad"]), fl,
			fl/med(reps["delta_states"]), fl/med(reps["delta_states_grad"]), med(total))
		p.Free()
	}
}

// profileSteps runs p's schedule once, launch by launch with an event
// between nodes, and returns milliseconds per op name.
func profileSteps(t *testing.T, p *Program) map[string]float64 {
	evs := make([]*Event, len(p.steps)+1)
	for i := range evs {
		evs[i] = newEvent(t, p.d)
	}
	must(t, p.Sync())
	for i, st := range p.steps {
		must(t, evs[i].Record(p.s))
		must(t, st.run())
	}
	must(t, evs[len(p.steps)].Record(p.s))
	must(t, evs[len(p.steps)].Sync())
	ms := map[string]float64{}
	for i := 1; i < len(evs); i++ {
		e, err := evs[i].Since(evs[i-1])
		must(t, err)
		ms[p.steps[i-1].n.Op.Name()] += float64(e)
	}
	return ms
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// TestDeltaLongSequence (LAB_CUDA_DELTA_LONG=1) trains deltanet and
// gated_deltanet on the workload at batch 8 and L = 4096, 8192,
// 16384 (d 128, one head, chunk 64, vocab 8192): ms per step, planned
// memory, and ms per 1000 tokens (flat if time grows linearly in L).
func TestDeltaLongSequence(t *testing.T) {
	if os.Getenv("LAB_CUDA_DELTA_LONG") == "" {
		t.Skip("long-sequence timings run only with LAB_CUDA_DELTA_LONG=1")
	}
	d, _ := gpu(t)
	const B, V, D = 8, 8192, 128
	fmt.Printf("\nms per training step at batch %d (d %d, vocab %d, 2 layers, 1 head, chunk 64, TF32)\n", B, D, V)
	for _, mix := range []string{"deltanet", "gated_deltanet"} {
		for _, L := range []int{4096, 8192, 16384} {
			b := newStepBenchBatch(t, d, mix, D, L, B)
			p := b.p
			ms, loss := b.time(t, 5)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				t.Errorf("%s L=%d: loss %v", mix, L, loss)
			}
			fmt.Printf("%-15s L=%-6d %8.2f ms  %6.3f ms per 1k tokens  planned %.2f GiB  loss %.3f\n", mix, L, ms,
				ms/float64(B*L)*1000, float64(p.PlannedBytes)/(1<<30), loss)
			b.free()
		}
	}
}

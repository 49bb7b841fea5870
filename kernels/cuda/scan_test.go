package cuda

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"lab/kernels"
)

// scanShapes are (N, L, dv, H) of the decay_scan tests: one step, lengths
// not a multiple of the unroll (16), one column, more threads than a block,
// and grouped decays (lg [N, L, H]; H = 0: lg [N, L]), as the chunked
// decay core's state scan uses them (few steps, many columns).
var scanShapes = [][4]int{{1, 1, 2, 0}, {3, 5, 2, 0}, {2, 17, 3, 0}, {4, 40, 1, 0}, {130, 33, 2, 0}, {7, 100, 5, 0},
	{3, 4, 96, 12}, {2, 19, 12, 3}, {5, 3, 64, 1}}

// scanDecays are the ranges of the log-decays: near 0 (long memory), RWKV's
// range, and so negative that every weight underflows.
var scanDecays = [][2]float64{{-0.05, 0}, {-3, -0.01}, {-120, -60}}

// decayScanCase: both scans of fresh random x and lg; gradients of x and lg
// through both (the reverse scan's own backward runs the forward one).
func decayScanCase(s [4]int, lg [2]float64) graphCase {
	n, l, dv, h := s[0], s[1], s[2], s[3]
	return graphCase{name: fmt.Sprint("decay_scan ", s, lg), grad: true, build: func(g *kernels.Graph, ci *caseInputs) []*kernels.Node {
		ls := []int{n, l}
		if h > 0 {
			ls = append(ls, h)
		}
		x, a := ci.F(n, l, dv), ci.U(lg[0], lg[1], ls...)
		return []*kernels.Node{g.DecayScan(x, a), g.DecayScanReverse(x, a)}
	}}
}

// decay_scan and decay_scan_reverse on the GPU against the CPU Program:
// outputs and the gradients of x and lg, eager, captured and replayed runs
// on fresh inputs. Bound: |gpu - cpu| <= 1e-4·(1 + |cpu|): the same
// recurrence in the same order, differing by FMA contraction and expf's
// last bits per step (the state forgets old errors at the decay rate, but
// near-unit decays keep up to L of them), and dlg's row sums of products
// of order-L terms may cancel.
func TestDecayScanMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, s := range scanShapes {
		for _, lg := range scanDecays {
			gc := decayScanCase(s, lg)
			t.Run(strings.ReplaceAll(gc.name, " ", "_"), func(t *testing.T) {
				w := checkCase(t, d, gc, 1e-4)
				t.Logf("largest |got-want|/(1+|want|): %.2e (tolerance 1e-4)", w)
			})
		}
	}
}

// TestDecayScanTimings (LAB_CUDA_BENCH=1) times decay_scan launch by
// launch in the forward and backward of rwkv4's WKV at the timing
// workload's shapes (batch 64 x d_model 128 channels, dv = 2).
func TestDecayScanTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	fmt.Printf("\ndecay_scan (N = 8192, dv = 2), ms launch by launch, median of 5\n")
	for _, l := range []int{256, 1024} {
		p := gradProgram(t, d, func(g *kernels.Graph, ci *caseInputs) *kernels.Node {
			return g.DecayScan(ci.F(8192, l, 2), ci.U(-3, -0.01, 8192, l))
		})
		reps := map[string][]float64{}
		for rep := 0; rep < 5; rep++ {
			for k, v := range profileSteps(t, p) {
				reps[k] = append(reps[k], v)
			}
		}
		med := func(v []float64) float64 { w := append([]float64(nil), v...); sortFloats(w); return w[len(w)/2] }
		mb := float64(8192*l*(2+2+1)*4) / 1e6 // x, y, lg once each
		fw, bw := med(reps["decay_scan"]), med(reps["decay_scan_reverse"])
		fmt.Printf("L=%-5d decay_scan %.3f ms (%.0f GB/s), decay_scan_reverse %.3f ms (%.0f GB/s)\n", l, fw, mb/fw, bw, mb/bw) // MB per ms = GB/s
		p.Free()
	}
}

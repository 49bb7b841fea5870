package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"lab/kernels"
)

// attnGraph is out = Attention(q, k, v) (or the composite chain) and the
// gradients of sum(out·R) with respect to q, k and v; q, k, v are inputs.
type attnGraph struct {
	g          *kernels.Graph
	q, k, v    *kernels.Node
	out        *kernels.Node
	dq, dk, dv *kernels.Node
	bh, l, dh  int
	composite  bool
	window     int
	scale      float32
}

func newAttnGraph(t testing.TB, bh, l, dh, window int, composite bool, seed uint64) *attnGraph {
	t.Helper()
	a := &attnGraph{g: kernels.NewGraph(), bh: bh, l: l, dh: dh, composite: composite, window: window,
		scale: float32(1 / math.Sqrt(float64(dh)))}
	g := a.g
	must(t, kernels.Catch(func() {
		a.q, a.k, a.v = g.Input("q", bh, l, dh), g.Input("k", bh, l, dh), g.Input("v", bh, l, dh)
		if composite {
			s := g.Scale(g.MatMul(a.q, a.k, false, true), a.scale)
			a.out = g.MatMul(g.Softmax(g.CausalMask(s, window, kernels.NegInf)), a.v, false, false)
		} else {
			a.out = g.Attention(a.q, a.k, a.v, a.scale, window)
		}
		r := constOf(g, "r", randn(rand.New(rand.NewPCG(seed, 3)), bh*l*dh, 0, 1), bh, l, dh)
		loss := g.SumAll(g.Mul(a.out, r))
		gs := g.Grad(loss, []*kernels.Node{a.q, a.k, a.v})
		a.dq, a.dk, a.dv = gs[0], gs[1], gs[2]
	}))
	return a
}

func (a *attnGraph) outputs() []*kernels.Node { return []*kernels.Node{a.out, a.dq, a.dk, a.dv} }

// Attention on the device matches the CPU op (itself tested against the
// composite graph in package kernels): output and the three gradients, on
// fresh random inputs, full and windowed, ragged L, several head sizes,
// exact (TF32 off: the SIMT kernels) and TF32 (the tensor-core kernels).
//
// Bounds: exact, |d| <= 2e-5·(1+|want|) per element (the same float32
// products summed in another order, exp/log of the device's libm); TF32,
// ‖d‖ <= 4e-3·‖want‖ + 1e-3·√n per output (inputs rounded to 10 mantissa
// bits: about 3e-4 relative per product, through two chained products for
// the gradients; the absolute term is dS = P∘(dP - D): dP from TF32
// products against D in float32 cancels to an error of ~3e-4·|dO||v|·scale
// per key whatever |dq| is, which shows when dq is ~0, as with one key
// seen) and |d| <= 0.05·(1+|want|) per element.
func TestAttentionMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	cases := []struct{ bh, l, dh, window int }{
		{2, 1, 8, 0},
		{3, 37, 8, 0},
		{2, 100, 16, 0},
		{2, 129, 32, 0},
		{2, 200, 64, 0},
		{1, 150, 128, 0},
		{1, 130, 256, 0},
		{2, 257, 64, 1},
		{2, 300, 32, 17},
		{1, 300, 64, 100},
		{1, 200, 128, 64},
		{2, 512, 128, 0}, // whole tiles, many stages
		{1, 384, 64, 48}, // window inside a block
		{1, 1000, 32, 0}, // ragged, long
		{2, 90, 24, 0},   // dh not a power of 2
		{1, 70, 20, 30},  // dh not a multiple of 8: SIMT even with TF32
	}
	for ci, c := range cases {
		for _, run := range []struct {
			path string
			tf32 bool
			old  bool   // attn_*_tc where attn_*_pipe would run
			bt   string // attn_*_pipe's rows per stage
		}{{"flash", false, false, ""}, {"flash", true, false, "32"}, {"flash", true, false, "64"}, {"flash", true, true, ""},
			{"scores", false, false, ""}, {"scores", true, false, ""}} {
			tf32 := run.tf32
			if (run.old || run.bt == "64") && !pipeHead(c.dh) {
				continue
			}
			// The scores path's GEMMs are TF32 whatever dh; flash falls
			// back to exact SIMT kernels when dh is not a multiple of 8.
			exact := !tf32 || (run.path == "flash" && c.dh%8 != 0)
			path := run.path
			if run.old {
				path = "flash-tc"
			} else if run.bt == "64" {
				path = "flash-w"
			}
			t.Run(fmt.Sprintf("%s_bh%d_L%d_dh%d_w%d_tf32=%v", path, c.bh, c.l, c.dh, c.window, tf32), func(t *testing.T) {
				t.Setenv("LAB_CUDA_ATTENTION", run.path)
				t.Setenv("LAB_CUDA_ATTN_BT", run.bt)
				if run.old {
					attnPipe = false
					defer func() { attnPipe = true }()
				}
				a := newAttnGraph(t, c.bh, c.l, c.dh, c.window, false, uint64(ci))
				outs := a.outputs()
				cpu, err := kernels.Compile(a.g, outs...)
				must(t, err)
				poisonPlanned = true
				dev, err := Compile(d, a.g, outs...)
				poisonPlanned = false
				must(t, err)
				defer dev.Free()
				must(t, dev.SetTF32(tf32))
				rng := rand.New(rand.NewPCG(uint64(ci), 11))
				for round := 0; round < 2; round++ { // eager, then captured
					for _, in := range []*kernels.Node{a.q, a.k, a.v} {
						x := randn(rng, in.Len(), 0, 1)
						copy(cpu.Value(in).Data, x)
						must(t, dev.SetFloats(in, x))
					}
					cpu.Run()
					must(t, dev.Run())
					for i, o := range outs {
						got := make([]float32, o.Len())
						must(t, dev.Read(o, got))
						want := cpu.Value(o).Data
						what := name([]string{"out", "dq", "dk", "dv"}[i], " round ", round)
						if exact {
							if w := within(t, what, got, want, 2e-5); round == 1 {
								t.Logf("%s: largest |d|/(1+|want|) = %.2g", what, w)
							}
							continue
						}
						within(t, what, got, want, 0.05)
						if r := attnRel(got, want); !(r <= 1) {
							t.Fatalf("%s: ‖d‖/(4e-3·‖want‖ + 1e-3·√n) = %.3g > 1", what, r)
						} else if round == 1 {
							t.Logf("%s: ‖d‖/(4e-3·‖want‖ + 1e-3·√n) = %.2g", what, r)
						}
					}
				}
			})
		}
	}
}

// attnRel is ‖got-want‖ / (4e-3·‖want‖ + 1e-3·√n): the TF32 bound's
// relative part and its absolute floor (see TestAttentionMatchesCPU).
func attnRel(got, want []float32) float64 {
	num, den := sqNorms(got, want)
	return math.Sqrt(num) / (4e-3*math.Sqrt(den) + 1e-3*math.Sqrt(float64(len(want))))
}

// attnTime returns the median milliseconds of forward (the attention
// node's step) and backward (attention_grad's step) over reps runs, each
// step between two events, and the planned bytes plus stash and scratch.
func attnTime(t *testing.T, d *Device, a *attnGraph, tf32 bool, reps int) (fwd, bwd float64, bytes int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	free0, _, err := d.MemInfo()
	must(t, err)
	p, err := Compile(d, a.g, a.dq, a.dk, a.dv)
	must(t, err)
	defer p.Free()
	free1, _, err := d.MemInfo()
	must(t, err)
	must(t, p.SetTF32(tf32))
	for _, in := range []*kernels.Node{a.q, a.k, a.v} {
		must(t, p.SetFloats(in, randn(rng, in.Len(), 0, 1)))
	}
	must(t, p.Run())
	must(t, p.Sync())
	// Forward: the steps of nodes made up to the attention node (or the
	// softmax·v product, which the gradients do not read and so is not
	// scheduled); backward: the rest up to the three gradients (slices
	// included). The schedule keeps the graph's order here.
	split := -1
	for i, st := range p.steps {
		if st.n.ID <= a.out.ID {
			split = i
		}
	}
	if split < 0 {
		t.Fatal("no forward step")
	}
	evs := []*Event{newEvent(t, d), newEvent(t, d), newEvent(t, d)}
	fs, bs := make([]float64, reps), make([]float64, reps)
	for r := 0; r < reps+2; r++ {
		must(t, evs[0].Record(p.s))
		for i, st := range p.steps {
			must(t, st.run())
			if i == split {
				must(t, evs[1].Record(p.s))
			}
		}
		must(t, evs[2].Record(p.s))
		must(t, evs[2].Sync())
		f, err := evs[1].Since(evs[0])
		must(t, err)
		b, err := evs[2].Since(evs[1])
		must(t, err)
		if r >= 2 {
			fs[r-2], bs[r-2] = float64(f), float64(b)
		}
	}
	slices.Sort(fs)
	slices.Sort(bs)
	return fs[reps/2], bs[reps/2], free0 - free1
}

// TestAttentionTimings (LAB_CUDA_BENCH=1) times, TF32, the composite graph
// (cuBLAS + fused masked softmax), the attn_*_tc kernels and (dh 32, 64,
// 128) attn_*_pipe at batch·heads 64, and both flash families at L =
// 16,384, batch 8. LAB_CUDA_BENCH_ATTN=long keeps only the long rows.
// TFLOP/s count the causal products: the forward 2·L²·dh per head (QKᵀ
// and PV, half of each seen), the backward 2.5 times that.
func TestAttentionTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, k := gpu(t)
	out := os.Stdout // row by row: a run cut short keeps what it measured
	fmt.Fprintf(out, "\nattention fwd / bwd ms (median of reps; bwd = everything after the output up to dq, dk, dv), TFLOP/s, device MiB\n")
	fmt.Fprintf(out, "%-4s %6s %4s %5s %-7s %8s %8s %7s %7s %7s\n", "BH", "L", "dh", "win", "path", "fwd", "bwd", "fwdTF", "bwdTF", "MiB")
	type row struct{ bh, l, dh, w, reps int }
	var rows []row
	if os.Getenv("LAB_CUDA_BENCH_ATTN") != "long" {
		for _, l := range []int{1024, 4096} {
			for _, dh := range []int{64, 128} {
				rows = append(rows, row{64, l, dh, 0, 10})
			}
		}
	}
	rows = append(rows, row{8, 16384, 128, 0, 5}, row{8, 16384, 128, 1024, 5}, row{8, 16384, 64, 0, 5})
	t.Setenv("LAB_CUDA_ATTENTION", "flash") // the op's rows time the flash kernels
	defer func() { attnPipe = true }()
	for _, r := range rows {
		for _, path := range []string{"compos", "tc", "pipe", "pipew"} {
			if path == "compos" && r.l > 4096 || strings.HasPrefix(path, "pipe") && !pipeHead(r.dh) {
				continue
			}
			attnPipe = strings.HasPrefix(path, "pipe")
			bt := "32"
			if path == "pipew" {
				bt = "64"
			}
			t.Setenv("LAB_CUDA_ATTN_BT", bt)
			a := newAttnGraph(t, r.bh, r.l, r.dh, r.w, path == "compos", 1)
			f, b, m := attnTime(t, d, a, true, r.reps)
			seen := float64(r.l) * float64(r.l) / 2 // causal pairs
			if r.w > 0 {
				seen = float64(r.l) * float64(r.w)
			}
			flops := 4 * float64(r.bh) * seen * float64(r.dh)
			fmt.Fprintf(out, "%-4d %6d %4d %5d %-7s %8.3f %8.3f %7.1f %7.1f %7.0f\n", r.bh, r.l, r.dh, r.w, path, f, b,
				flops/f/1e9, 2.5*flops/b/1e9, float64(m)/(1<<20))
		}
	}
	for _, kind := range []string{"fwd", "dq", "dkdv"} {
		for _, v := range []string{"pipe128", "pipe128w", "pipe64", "pipe64w", "pipe32", "tc16", "tc8"} {
			if f, err := k.Function("attn_" + kind + "_" + v); err == nil {
				fmt.Fprintf(out, "%s: %d registers, %d bytes local\n", f.Name, f.Regs, f.LocalBytes)
			}
		}
	}
}

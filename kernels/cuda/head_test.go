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

// headGraph is the fused LM head on h [K, D], w [D, V] and targets [K]:
// the loss and the gradients of h and w. scaled multiplies the loss by 1.7
// first, so the gradient's dy comes from an op (no fusion) instead of
// Grad's d_loss leaf. composite builds MatMul + CrossEntropy instead.
type headGraph struct {
	g                 *kernels.Graph
	tg, loss, dh, dw  *kernels.Node
	hp, wp            *kernels.Param
	k, d, v           int
	scaled, composite bool
}

func newHeadGraph(t testing.TB, seed uint64, k, d, v int, scaled, composite bool) *headGraph {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	hg := &headGraph{g: kernels.NewGraph(), k: k, d: d, v: v, scaled: scaled, composite: composite,
		hp: kernels.NewParam("h", kernels.New(k, d).Randn(rng, 1)),
		wp: kernels.NewParam("w", kernels.New(d, v).Randn(rng, 0.3))}
	g := hg.g
	must(t, kernels.Catch(func() {
		h, w := g.Param(hg.hp), g.Param(hg.wp)
		hg.tg = g.IntInput("t", k)
		if composite {
			hg.loss = g.CrossEntropy(g.MatMul(h, w, false, false), hg.tg)
		} else {
			hg.loss = g.LinearCrossEntropy(h, w, hg.tg)
		}
		l := hg.loss
		if scaled {
			l = g.Scale(l, 1.7)
		}
		gr := g.Grad(l, []*kernels.Node{h, w})
		hg.dh, hg.dw = gr[0], gr[1]
	}))
	return hg
}

func (hg *headGraph) outputs() []*kernels.Node { return []*kernels.Node{hg.loss, hg.dh, hg.dw} }

func headTargets(seed uint64, k, v int) []int32 {
	rng := rand.New(rand.NewPCG(seed, 12))
	tg := make([]int32, k)
	for i := range tg {
		tg[i] = int32(rng.IntN(v))
		if rng.IntN(8) == 0 {
			tg[i] = kernels.Ignore
		}
	}
	return tg
}

// cpu runs the graph with the CPU kernels: loss, dh, dw.
func (hg *headGraph) cpu(t testing.TB, tg []int32) [3][]float32 {
	p, err := kernels.Compile(hg.g, hg.outputs()...)
	must(t, err)
	copy(p.Value(hg.tg).Ints, tg)
	p.Run()
	var out [3][]float32
	for i, n := range hg.outputs() {
		out[i] = append([]float32(nil), p.Value(n).Data...)
	}
	return out
}

func readAll(t testing.TB, p *Program, nodes []*kernels.Node) [3][]float32 {
	var out [3][]float32
	for i, n := range nodes {
		out[i] = make([]float32, n.Len())
		must(t, p.Read(n, out[i]))
	}
	return out
}

// The device head matches the CPU op on fresh random inputs with Ignore
// targets, K not a multiple of the chunk, fused (dy = Grad's leaf) and not
// (dy from an op), dh in one GEMM and split over the vocabulary, warp and
// block row kernels, planned buffers poisoned with NaN. Three runs (eager,
// capturing, replayed) give the same bits. Bounds: with plain float32 GEMMs,
// loss |d| <= 1e-5·(1+|want|) and ‖d‖/‖want‖ <= 1e-5 for dh and dW (the
// GEMMs sum in another order than gonum: cuBLAS pedantic measured 4.5e-7 in
// NOTES.md); with TF32, 2e-3 (the GEMM bound of NOTES.md) for all three;
// with BF16 (bfloat16 operands, and bfloat16 logits and dlogits where the
// vector row kernel runs), 1e-3 on the loss and 1e-2 on the gradients.
func TestLinearCrossEntropyMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	oldScratch, oldSplit := headScratchBytes, headSplitK
	defer func() { headScratchBytes, headSplitK, poisonPlanned = oldScratch, oldSplit, false }()
	cases := []struct {
		k, dm, v, chunk, split int
		scaled                 bool
		prec                   Precision
	}{
		{300, 32, 200, 64, 1, false, FP32},  // warp rows, fused, 5 chunks (last of 44)
		{300, 32, 200, 64, 1, true, FP32},   // not fused: the forward and the backward each loop
		{257, 48, 1000, 50, 8, false, FP32}, // block rows, dh split 8 ways
		{257, 48, 1000, 50, 3, true, FP32},  // 3 does not divide 1000: one GEMM
		{1000, 64, 4096, 1000, 1, false, FP32},
		{1000, 64, 4096, 96, 4, false, TF32}, // TF32
		{33, 8, 70, 1, 1, false, FP32},       // one row per chunk; V % 4 != 0: three-pass warp kernel
		{40, 16, 1002, 16, 1, false, FP32},   // three-pass block kernel
		{40, 16, 1028, 16, 1, false, FP32},   // vec kernel, 64 threads, last float4s partly idle
		{300, 32, 200, 64, 1, false, BF16},   // BF16, vec kernel: bf16 logits, dlogits in place
		{300, 32, 200, 64, 1, true, BF16},    // and not fused
		{257, 48, 1000, 50, 8, false, BF16},  // BF16, dh split
		{33, 8, 70, 1, 1, false, BF16},       // BF16, warp kernel: dlogits to the bf16 slot
		{40, 16, 1002, 16, 1, false, BF16},   // BF16, block kernel
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("K%d_D%d_V%d_c%d_s%d_scaled%v_%v", c.k, c.dm, c.v, c.chunk, c.split, c.scaled, c.prec), func(t *testing.T) {
			headScratchBytes, headSplitK, poisonPlanned = c.chunk*4*c.v, c.split, true
			hg := newHeadGraph(t, uint64(i+1), c.k, c.dm, c.v, c.scaled, false)
			tg := headTargets(uint64(i+1), c.k, c.v)
			want := hg.cpu(t, tg)
			p, err := Compile(d, hg.g, hg.outputs()...)
			must(t, err)
			defer p.Free()
			must(t, p.SetPrecision(c.prec))
			must(t, p.SetInts(hg.tg, tg))
			var first [3][]float32
			for run := 0; run < 3; run++ {
				must(t, p.Run())
				got := readAll(t, p, hg.outputs())
				if run == 0 {
					first = got
					lossTol, gradTol := 1e-5, 1e-5
					switch c.prec {
					case TF32:
						lossTol, gradTol = 2e-3, 2e-3
					case BF16: // bf16 logits and operands: 2^-9 relative each (seen 2.5e-3)
						lossTol, gradTol = 1e-3, 1e-2
					}
					within(t, "loss", got[0], want[0], lossTol)
					rdh, rdw := relNorm(got[1], want[1]), relNorm(got[2], want[2])
					t.Logf("loss %v (CPU %v), dh %.2g, dW %.2g", got[0][0], want[0][0], rdh, rdw)
					if rdh > gradTol || rdw > gradTol {
						t.Fatalf("dh ‖d‖/‖want‖ %.3g, dW %.3g; bound %g", rdh, rdw, gradTol)
					}
					continue
				}
				for j := range got {
					if !slices.Equal(got[j], first[j]) {
						t.Fatalf("run %d: output %d differs from the first run", run, j)
					}
				}
			}
		})
	}
}

// A target outside [0, V) is reported by the next Read.
func TestLinearCrossEntropyBadTarget(t *testing.T) {
	d, _ := gpu(t)
	hg := newHeadGraph(t, 3, 20, 8, 30, false, false)
	tg := headTargets(3, 20, 30)
	tg[7] = 30
	p, err := Compile(d, hg.g, hg.outputs()...)
	must(t, err)
	defer p.Free()
	must(t, p.SetInts(hg.tg, tg))
	must(t, p.Run())
	if err := p.Read(hg.loss, make([]float32, 1)); err == nil || !strings.Contains(err.Error(), "30") {
		t.Fatalf("Read after a target of 30 with V=30: %v, want an index error", err)
	}
}

// fuse moves the head's gradient before its loss when dy is a leaf, and
// leaves both alone when dy comes from an op.
func TestHeadFusion(t *testing.T) {
	for _, scaled := range []bool{false, true} {
		hg := newHeadGraph(t, 1, 10, 4, 6, scaled, false)
		p := &Program{Graph: hg.g, Outputs: hg.outputs()}
		f := p.fuse(hg.g.Needed(hg.outputs()...))
		var order []string
		for _, id := range f.order {
			if n := hg.g.Nodes[id]; n.Kind() == kernels.LeafOp && strings.HasPrefix(n.Op.Name(), "linear_cross_entropy") {
				order = append(order, n.Op.Name())
			}
		}
		want := "linear_cross_entropy_grad linear_cross_entropy"
		if scaled {
			want = "linear_cross_entropy linear_cross_entropy_grad"
		}
		if got := strings.Join(order, " "); got != want {
			t.Errorf("scaled=%v: order %q, want %q", scaled, got, want)
		}
		if _, ok := f.lower[hg.loss.ID]; ok == scaled {
			t.Errorf("scaled=%v: loss node fused = %v", scaled, ok)
		}
	}
}

// TestHeadTimings (LAB_CUDA_BENCH=1) times loss + dh + dW at the issue's
// LM-head size (K = 65536 rows, D = 128, V = 8192, TF32): the fused head
// per chunk size and dh split, against MatMul + CrossEntropy.
func TestHeadTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, _ := gpu(t)
	const k, dm, v = 65536, 128, 8192
	oldScratch, oldSplit := headScratchBytes, headSplitK
	defer func() { headScratchBytes, headSplitK = oldScratch, oldSplit }()
	tg := headTargets(1, k, v)
	flops := 3 * 2 * float64(k) * dm * v
	time := func(composite bool) (float64, float64) {
		hg := newHeadGraph(t, 1, k, dm, v, false, composite)
		p, err := Compile(d, hg.g, hg.outputs()...)
		must(t, err)
		defer p.Free()
		must(t, p.SetInts(hg.tg, tg))
		ms := medianMS(t, d, p.s, 3, 10, p.Run)
		l := make([]float32, 1)
		must(t, p.Read(hg.loss, l))
		return ms, float64(l[0])
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nLM head K=%d D=%d V=%d, loss + dh + dW, TF32, median of 10 captured runs\n", k, dm, v)
	fmt.Fprintf(&out, "%-47s %8s %8s %10s\n", "variant", "ms", "TFLOP/s", "loss")
	ms, loss := time(true)
	fmt.Fprintf(&out, "%-47s %8.3f %8.1f %10.5f\n", "MatMul + CrossEntropy", ms, flops/ms/1e9, loss)
	oldVec := headVec
	defer func() { headVec = oldVec }()
	for _, c := range []struct {
		mib, split int
		vec        bool
	}{{16, 1, true}, {32, 1, true}, {64, 1, true}, {128, 1, true}, {256, 1, true}, {512, 1, true}, {256, 8, true}, {256, 1, false}} {
		headScratchBytes, headSplitK, headVec = c.mib<<20, c.split, c.vec
		ms, loss := time(false)
		fmt.Fprintf(&out, "fused, %3d MiB (%4d rows), split %d, vec %-5v %8.3f %8.1f %10.5f\n", c.mib, (c.mib<<20)/(4*v), c.split, c.vec,
			ms, flops/ms/1e9, loss)
		if math.IsNaN(loss) {
			t.Errorf("NaN loss: %+v", c)
		}
	}
	fmt.Print(out.String())
}

// TestHeadPieces (LAB_CUDA_BENCH=1) times each piece of the fused head's
// chunk loop on its own, summed over all K = 65536 rows (D = 128, V = 8192,
// TF32): each loop captured as a CUDA graph, median of 5 replays. The
// transposed GEMMs (dhᵀ = W·dlᵀ, dWᵀ = dlᵀ·h) are the same products with
// the output stored the other way, to see which shape cuBLAS runs faster.
func TestHeadPieces(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, k := gpu(t)
	const K, D, V = 65536, 128, 8192
	rng := rand.New(rand.NewPCG(1, 2))
	h, w := upload(t, d, randn(rng, K*D, 0, 1)), upload(t, d, randn(rng, D*V, 0, 0.3))
	tg := uploadInts(t, d, headTargets(1, K, V))
	dy, cnt := upload(t, d, []float32{1}), uploadInts(t, d, []int32{K})
	loss, errBuf := poisoned(t, d, K), poisoned(t, d, 2)
	must(t, d.Fill32(nil, errBuf, 0))
	const maxC = 4096
	logits, part := poisoned(t, d, maxC*V), poisoned(t, d, 8*maxC*D)
	dh, dw := poisoned(t, d, K*D), poisoned(t, d, D*V)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	b, err := d.NewBLAS()
	must(t, err)
	defer b.Close()
	must(t, b.SetStream(s))
	timeLoop := func(c int, piece func(r0, rows int) error) float64 {
		cg, err := d.Capture(s, func() error {
			for r0 := 0; r0 < K; r0 += c {
				if err := piece(r0, min(c, K-r0)); err != nil {
					return err
				}
			}
			return nil
		})
		must(t, err)
		defer cg.Close()
		return medianMS(t, d, s, 1, 5, func() error { return cg.Launch(s) })
	}
	row := func(name string, threads int) func(r0, rows int) error {
		f, err := k.Function(name)
		must(t, err)
		return func(r0, rows int) error {
			return f.Launch(s, Dim3{X: rows}, Dim3{X: threads}, 0, logits, tg.Slice(r0, r0+rows), dy, cnt,
				loss.Slice(r0, r0+rows), int64(rows), int32(V), int32(1), errBuf, Buffer{})
		}
	}
	sumParts, err := k.Function("sum_parts")
	must(t, err)
	pieces := []struct {
		name string
		f    func(r0, rows int) error
	}{
		{"fwd", func(r0, rows int) error {
			return b.Gemm(false, false, rows, V, D, 1, h.Slice(r0*D, (r0+rows)*D), D, w, V, 0, logits, V)
		}},
		{"row3p", row("lmhead_xent_block", 512)},
		{"vec256", row("lmhead_xent_vec", 256)},
		{"vec512", row("lmhead_xent_vec", 512)},
		{"dh", func(r0, rows int) error {
			return b.Gemm(false, true, rows, D, V, 1, logits, V, w, V, 0, dh.Slice(r0*D, (r0+rows)*D), D)
		}},
		{"dh/8", func(r0, rows int) error {
			if err := b.GemmStridedBatched(false, true, rows, D, V/8, 1, logits, V, V/8, w, V, V/8, 0, part, D, int64(rows*D), 8); err != nil {
				return err
			}
			return sumParts.Launch(s, k.ewGrid(int64(rows*D)), Dim3{X: ewBlock}, 0, part, dh.Slice(r0*D, (r0+rows)*D), int32(8), int64(rows*D))
		}},
		{"dhT", func(r0, rows int) error {
			return b.Gemm(false, true, D, rows, V, 1, w, V, logits, V, 0, dh, rows)
		}},
		{"dW", func(r0, rows int) error {
			return b.Gemm(true, false, D, V, rows, 1, h.Slice(r0*D, (r0+rows)*D), D, logits, V, 1, dw, V)
		}},
		{"dWT", func(r0, rows int) error {
			return b.Gemm(true, false, V, D, rows, 1, logits, V, h.Slice(r0*D, (r0+rows)*D), D, 1, dw, D)
		}},
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nhead pieces, ms summed over K=%d rows (D=%d, V=%d, TF32), per chunk rows\n%6s", K, D, V, "rows")
	for _, p := range pieces {
		fmt.Fprintf(&out, " %7s", p.name)
	}
	fmt.Fprintln(&out)
	for _, c := range []int{512, 1024, 2048, 4096} {
		fmt.Fprintf(&out, "%6d", c)
		for _, p := range pieces {
			fmt.Fprintf(&out, " %7.3f", timeLoop(c, p.f))
		}
		fmt.Fprintln(&out)
	}
	fmt.Print(out.String())
}

package cuda

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"lab/kernels"
)

// TestTimings measures each kernel on the GPU with device events (median of
// repeated runs after warm-up, on random data larger than L2) and prints a
// table: the numbers NOTES.md records. It runs only with LAB_CUDA_BENCH=1;
// LAB_CUDA_BENCH_OUT names a file for a copy of the table.
func TestTimings(t *testing.T) {
	if os.Getenv("LAB_CUDA_BENCH") == "" {
		t.Skip("timings run only with LAB_CUDA_BENCH=1")
	}
	d, k := gpu(t)
	defer func() { k.rowMode, k.rowThreads = 0, 0 }()
	blas := newBLAS(t, d)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	must(t, blas.SetStream(s))
	defer blas.SetStream(nil)
	rng := rand.New(rand.NewPCG(41, 42))

	// median times f (queued on s) over reps runs after 3 warm-ups.
	median := func(reps int, f func() error) float64 { return medianMS(t, d, s, 3, reps, f) }
	type row struct {
		op, shape string
		ms        float64
		rate      string
	}
	var rows []row
	var copyGBs float64
	bw := func(op, shape string, bytes float64, f func() error) {
		ms := median(20, f)
		gbs := bytes / ms / 1e6
		rate := fmt.Sprintf("%.0f GB/s", gbs)
		if copyGBs > 0 {
			rate += fmt.Sprintf(" (%.0f%% of copy)", 100*gbs/copyGBs)
		}
		rows = append(rows, row{op, shape, ms, rate})
		if op == "copy d2d" {
			copyGBs = gbs
		}
	}
	flops := func(op, shape string, fl float64, f func() error) {
		ms := median(10, f)
		rows = append(rows, row{op, shape, ms, fmt.Sprintf("%.1f TFLOP/s", fl/ms/1e9)})
	}
	rnd := func(n int, mean, std float64) Buffer { return upload(t, d, randn(rng, n, mean, std)) }

	// Ceiling: device-to-device copy of 1 GiB, read + write.
	const big = 1 << 28
	src, dst := rnd(big, 0, 1), poisoned(t, d, big)
	bw("copy d2d", "1 GiB", 2*4*big, func() error { return d.CopyAsync(s, dst, src) })

	const n = 1 << 26 // 256 MiB per operand
	a, b, y := src.Slice(0, n), src.Slice(n, 2*n), dst.Slice(0, n)
	bw("add", "64M", 12*n, func() error { return k.Binary(s, Add, y, a, b, n) })
	bw("add (scalar path)", "64M-1", 12*(n-1), func() error { return k.Binary(s, Add, y, a, b, n-1) })
	bw("affine", "64M", 8*n, func() error { return k.Affine(s, y, a, n, 2, 1) })
	for _, f := range []kernels.Activation{kernels.GELU, kernels.Exp, kernels.Softplus} {
		bw("act "+f.String(), "64M", 8*n, func() error { return k.Act(s, f, y, a, n) })
	}
	bw("act_grad gelu", "64M", 12*n, func() error { return k.ActGrad(s, kernels.GELU, y, a, b, n) })

	// Row kernels: the automatic choice, then each variant by hand (warp per
	// row; block per row of 128, 256, 512 threads) for softmax and layer norm.
	for _, sh := range [][2]int{{1 << 19, 128}, {1 << 18, 256}, {1 << 17, 512}, {1 << 16, 1024}, {1 << 15, 2048}, {1 << 13, 8192}} {
		r, c := sh[0], sh[1]
		shape := fmt.Sprintf("%dx%d", r, c)
		g, bb := rnd(c, 1, 0.1), rnd(c, 0, 0.1)
		variants := []struct {
			tag           string
			mode, threads int
		}{{" auto", 0, 0}, {" warp/row", 1, 0}, {" block128", 2, 128}, {" block256", 2, 256}, {" block512", 2, 512}}
		for _, v := range variants {
			k.rowMode, k.rowThreads = v.mode, v.threads
			bw("softmax"+v.tag, shape, 8*float64(r*c), func() error { return k.Softmax(s, y, a, r, c) })
			bw("layernorm"+v.tag, shape, 8*float64(r*c), func() error { return k.Norm(s, y, a, g, bb, r, c, 1e-5, false) })
			if v.mode == 0 {
				bw("rmsnorm"+v.tag, shape, 8*float64(r*c), func() error { return k.Norm(s, y, a, g, Buffer{}, r, c, 1e-5, true) })
			}
		}
		k.rowMode, k.rowThreads = 0, 0
	}

	// Embedding gather: 64K rows of 1024 from a 50257-row table.
	const R, C, nIdx = 50257, 1024, 1 << 16
	idx := make([]int32, nIdx)
	for i := range idx {
		idx[i] = int32(rng.IntN(R))
	}
	ib := uploadInts(t, d, idx)
	table := src.Slice(0, R*C)
	bw("gather", fmt.Sprintf("%d of %dx%d", nIdx, R, C), 2*4*float64(nIdx*C), func() error {
		return k.Gather(s, y, table, ib, nIdx, R, C, Buffer{})
	})

	// Cross-entropy: 8192 positions over a 32768 vocabulary (1 GiB of logits).
	const K, V = 8192, 32768
	tg := make([]int32, K)
	for i := range tg {
		tg[i] = int32(rng.IntN(V))
	}
	tb, scratch, out := uploadInts(t, d, tg), poisoned(t, d, K), poisoned(t, d, 1)
	bw("cross_entropy", fmt.Sprintf("%dx%d", K, V), 4*float64(K*V), func() error {
		return k.CrossEntropy(s, out, scratch, src, tb, K, V, Buffer{})
	})

	// GEMM ceilings: TF32 and plain float32.
	for _, tf32 := range []bool{true, false} {
		must(t, blas.SetTF32(tf32))
		mode := map[bool]string{true: "tf32", false: "fp32"}[tf32]
		for _, m := range []int{4096, 8192} {
			A, B, Cm := src.Slice(0, m*m), src.Slice(m*m, 2*m*m), dst.Slice(0, m*m)
			flops("sgemm "+mode, fmt.Sprintf("%d^3", m), 2*float64(m)*float64(m)*float64(m), func() error {
				return blas.Gemm(false, false, m, m, m, 1, A, m, B, m, 0, Cm, m)
			})
		}
		// Attention-like scores: 128 heads of [1024, 64]·[64, 1024].
		const bh, L, hd = 128, 1024, 64
		q, kk := src.Slice(0, bh*L*hd), src.Slice(bh*L*hd, 2*bh*L*hd)
		flops("sgemm batched "+mode, "128x1024x1024x64 (q·kT)", 2*bh*L*L*hd, func() error {
			return blas.GemmStridedBatched(false, true, L, L, hd, 1, q, hd, L*hd, kk, hd, L*hd, 0, dst, L, L*L, bh)
		})
	}
	must(t, blas.SetTF32(true))

	// Launch overhead: 200 small launches queued one by one, against one
	// graph replay of the same 200.
	small := src.Slice(0, 4096)
	ys := dst.Slice(0, 4096)
	seq := func() error {
		for i := 0; i < 200; i++ {
			if err := k.Affine(s, ys, small, 4096, 1.0001, 0); err != nil {
				return err
			}
		}
		return nil
	}
	ms := median(20, seq)
	rows = append(rows, row{"200 launches, stream", "4096 each", ms, fmt.Sprintf("%.2f us/kernel", 1000*ms/200)})
	g, err := d.Capture(s, seq)
	must(t, err)
	defer g.Close()
	ms = median(20, func() error { return g.Launch(s) })
	rows = append(rows, row{"200 launches, graph", "4096 each", ms, fmt.Sprintf("%.2f us/kernel", 1000*ms/200)})

	// Compile: all sources into an empty cache, then from the cache.
	t.Setenv("LAB_CUDA_CACHE", t.TempDir())
	for _, what := range []string{"compile", "cached"} {
		t0 := time.Now()
		k2, err := d.LoadKernels()
		must(t, err)
		ms := float64(time.Since(t0).Microseconds()) / 1000
		k2.Close()
		rows = append(rows, row{"LoadKernels, " + what, "all .cu", ms, "host wall time"})
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "device: %s (cc %d.%d, %d SMs), driver %d\n", d.Info.Name, d.Info.Major, d.Info.Minor, d.Info.SMs, d.Info.DriverVersion)
	fmt.Fprintf(&sb, "%-28s %-28s %10s  %s\n", "op", "shape", "ms", "rate")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-28s %-28s %10.3f  %s\n", r.op, r.shape, r.ms, r.rate)
	}
	io.WriteString(os.Stdout, sb.String())
	if p := os.Getenv("LAB_CUDA_BENCH_OUT"); p != "" {
		must(t, os.WriteFile(p, []byte(sb.String()), 0o644))
	}
}

// medianMS runs f (which queues work on s) warm times, then times reps
// runs with device events and returns the median milliseconds.
func medianMS(t testing.TB, d *Device, s *Stream, warm, reps int, f func() error) float64 {
	t.Helper()
	start, stop := newEvent(t, d), newEvent(t, d)
	for i := 0; i < warm; i++ {
		must(t, f())
	}
	ms := make([]float64, reps)
	for i := range ms {
		must(t, start.Record(s))
		must(t, f())
		must(t, stop.Record(s))
		must(t, stop.Sync())
		e, err := stop.Since(start)
		must(t, err)
		ms[i] = float64(e)
	}
	slices.Sort(ms)
	return ms[reps/2]
}

func newEvent(t testing.TB, d *Device) *Event {
	t.Helper()
	e, err := d.NewEvent()
	must(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

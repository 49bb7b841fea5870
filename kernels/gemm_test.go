package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"lab/kernels/internal/openblas"
)

// gemmRef is the obviously-correct twin of sgemm: a float64 triple loop.
// It also returns, per element of C, the bound scale |alpha|·Σ|a·b| +
// |beta·c| that rounding errors are measured against.
func gemmRef(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for l := 0; l < k; l++ {
				ai, bi := i*lda+l, l*ldb+j
				if tA {
					ai = l*lda + i
				}
				if tB {
					bi = j*ldb + l
				}
				x, y := a[ai], b[bi]
				s += float64(x) * float64(y)
				abs += math.Abs(float64(x) * float64(y))
			}
			want[i*n+j] = float64(alpha) * s
			scale[i*n+j] = math.Abs(float64(alpha)) * abs
			if beta != 0 {
				want[i*n+j] += float64(beta) * float64(c[i*ldc+j])
				scale[i*n+j] += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
		}
	}
	return want, scale
}

// gemmTol bounds |sgemm - gemmRef| / (|alpha|·Σ|a·b| + |beta·c|) per
// element. float32 rounding of a k-term sum is at most about k·2⁻²⁴ of
// that scale and typically √k·2⁻²⁴; for k ≤ 2,100 the blocked FMA sums
// measure below 1e-6.
const gemmTol = 1e-5

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// paths runs f with the C GEMM (where it runs here) and with gonum's.
func paths(t *testing.T, f func(t *testing.T)) {
	old := useNative
	defer func() { useNative = old }()
	for _, native := range []bool{true, false} {
		if native && !nativeGemm {
			t.Log("the C GEMM does not run here (no cgo, not x86-64, or no AVX2+FMA): gonum only")
			continue
		}
		useNative = native
		name := "gonum"
		if native {
			name = "native"
		}
		t.Run(name, f)
	}
}

// sgemm against the float64 triple loop on fresh random inputs: every
// transpose, odd sizes, padded strides, alpha and beta, a C that must not
// be read when beta is 0, and stride padding that must not be written.
func TestSgemmMatchesReference(t *testing.T) {
	type gcase struct {
		m, n, k     int
		alpha, beta float32
		pad         int // extra columns in every stride
	}
	var cases []gcase
	sizes := []int{1, 3, 17, 63, 65, 129}
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				cases = append(cases, gcase{m, n, k, 1, 0, 0})
			}
		}
	}
	cases = append(cases,
		gcase{17, 65, 129, 1.5, 0.5, 3}, gcase{129, 3, 63, -1, 1, 7}, gcase{200, 150, 300, 1, 0, 1},
		gcase{32, 32, 2048, 1, 0, 0}, gcase{32, 128, 2049, 1, 1, 0}, gcase{7, 2100, 5, 1, 0, 2}, // k and n past one block
		gcase{520, 40, 33, 1, 0, 0}, gcase{9, 33, 600, 1, 0.5, 1}, // A packed (rows of A or Aᵀ over 512 apart)
		gcase{3, 5, 0, 1, 0.5, 0}, gcase{4, 4, 9, 0, 2, 0}, // k = 0 and alpha = 0 only scale C
	)
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(18, 1))
		worst := 0.0
		for _, c := range cases {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				tA, tB := tr[0], tr[1]
				ra, ca := c.m, c.k
				if tA {
					ra, ca = c.k, c.m
				}
				rb, cb := c.k, c.n
				if tB {
					rb, cb = c.n, c.k
				}
				lda, ldb, ldc := max(ca+c.pad, 1), max(cb+c.pad, 1), c.n+c.pad
				a, b := randSlice(rng, ra*lda), randSlice(rng, rb*ldb)
				cm := randSlice(rng, c.m*ldc)
				if c.beta == 0 {
					for i := range cm {
						cm[i] = float32(math.NaN()) // must not be read
					}
				}
				want, scale := gemmRef(tA, tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
				got := append([]float32(nil), cm...)
				sgemm(tA, tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
				for i := 0; i < c.m; i++ {
					for j := 0; j < ldc; j++ {
						g := got[i*ldc+j]
						if j >= c.n {
							if math.Float32bits(g) != math.Float32bits(cm[i*ldc+j]) {
								t.Fatalf("%+v tA=%v tB=%v: wrote C[%d,%d] past n", c, tA, tB, i, j)
							}
							continue
						}
						w, s := want[i*c.n+j], scale[i*c.n+j]
						e := math.Abs(float64(g) - w)
						if !(e <= gemmTol*s) {
							t.Fatalf("%+v tA=%v tB=%v: C[%d,%d] = %v, want %v (scale %v)", c, tA, tB, i, j, g, w, s)
						}
						if s > 0 {
							worst = max(worst, e/s)
						}
					}
				}
			}
		}
		t.Logf("%d cases x 4 transposes: largest error %.2g of |alpha|·Σ|a·b| + |beta·c| (bound %g)", len(cases), worst, gemmTol)
	})
}

// The MatMul op on both GEMM paths, one and two goroutines, against the
// triple loop: batched products, transposes, odd sizes, a 2-D weight with
// folded leading dims, split-K weight gradients, tiny batched products.
func TestMatMulPathsMatchNaive(t *testing.T) {
	threads := Threads()
	defer SetThreads(threads)
	cases := []struct {
		batch, m, k, n int
		tA, tB         bool
	}{
		{1, 256, 256, 256, false, false}, {1, 129, 65, 63, true, true}, {3, 17, 129, 65, false, true},
		{2, 65, 63, 129, true, false}, {5, 1, 3, 17, false, false}, {64, 16, 16, 8, true, false},
		{1, 32, 2048, 32, true, false}, {1, 32, 2048, 128, true, false}, {1, 128, 2049, 32, true, false},
		{2, 32, 1030, 17, true, true}, {1, 2048, 32, 128, false, false}, {1, 2048, 128, 32, false, true},
		{4, 64, 64, 32, false, false}, {32, 64, 32, 64, false, true}, {3, 1, 600, 1, true, false},
	}
	paths(t, func(t *testing.T) {
		for _, th := range []int{1, 2} {
			SetThreads(th)
			rng := rand.New(rand.NewPCG(18, 2))
			for _, c := range cases {
				as := []int{c.batch, c.m, c.k}
				if c.tA {
					as = []int{c.batch, c.k, c.m}
				}
				bs := []int{c.batch, c.k, c.n}
				if c.tB {
					bs = []int{c.batch, c.n, c.k}
				}
				a, b := New(as...).Randn(rng, 1), New(bs...).Randn(rng, 1)
				g := NewGraph()
				y := g.MatMul(g.Const("a", a), g.Const("b", b), c.tA, c.tB)
				p, err := Compile(g, y)
				if err != nil {
					t.Fatal(err)
				}
				p.Run()
				checkMatMul(t, fmt.Sprintf("%+v threads=%d", c, th), p.Value(y).Data, a, b, c.tA, c.tB, c.k)
			}
			// x [B, L, D] · W [D, N]: the leading dims fold into M.
			x, w := New(3, 65, 17).Randn(rng, 1), New(17, 33).Randn(rng, 1)
			g := NewGraph()
			y := g.MatMul(g.Const("x", x), g.Const("w", w), false, false)
			p, err := Compile(g, y)
			if err != nil {
				t.Fatal(err)
			}
			p.Run()
			checkMatMul(t, "fold", p.Value(y).Data, FromData(x.Data, 1, 195, 17), FromData(w.Data, 1, 17, 33), false, false, 17)
		}
	})
}

func checkMatMul(t *testing.T, what string, got []float32, a, b *Tensor, tA, tB bool, k int) {
	t.Helper()
	want := naiveMatMul(a, b, tA, tB)
	// float32 sums of k products of N(0,1) entries: within 1e-5·k of 1+|want|.
	for i, w := range want {
		if d := math.Abs(float64(got[i] - w)); !(d <= 1e-5*(1+math.Abs(float64(w)))*float64(k)) {
			t.Fatalf("%s: element %d: got %v want %v", what, i, got[i], w)
		}
	}
}

// gemmShapes are the products BenchmarkGEMM times: the README's 256³, larger
// squares, and the shapes of a quickstart training step (d_model 32, MLP
// 128, batch 32 x 64 tokens): layer forwards and input gradients (M =
// 2,048), weight gradients (K = 2,048, M and N in the tens), batched
// per-sequence products.
var gemmShapes = []struct {
	batch, m, n, k int
	tA, tB         bool
}{
	{1, 256, 256, 256, false, false}, {1, 256, 256, 256, false, true}, {1, 256, 256, 256, true, false},
	{1, 512, 512, 512, false, false},
	{1, 32, 32, 2048, true, false}, {1, 32, 128, 2048, true, false}, {1, 128, 32, 2048, true, false},
	{1, 64, 64, 2048, true, false},
	{1, 2048, 32, 32, false, false}, {1, 2048, 128, 32, false, false}, {1, 2048, 32, 128, false, true},
	{32, 64, 64, 32, false, true}, {32, 64, 32, 64, false, false},
}

// BenchmarkGEMM times float32 GEMMs through the MatMul op (the pool's
// split included) on the C kernel ("lab") and on gonum's path ("gonum"),
// and cblas_sgemm of OpenBLAS ("openblas", opened at run time when
// installed, on as many threads as lab), in one run, in GFLOP/s:
//
//	go test -run XXX -bench GEMM -count 5 ./kernels
func BenchmarkGEMM(b *testing.B) {
	for _, s := range gemmShapes {
		tr := map[bool]string{false: "N", true: "T"}
		name := fmt.Sprintf("%dx%dx%dx%d_%s%s", s.batch, s.m, s.n, s.k, tr[s.tA], tr[s.tB])
		if s.batch == 1 {
			name = fmt.Sprintf("%dx%dx%d_%s%s", s.m, s.n, s.k, tr[s.tA], tr[s.tB])
		}
		rng := rand.New(rand.NewPCG(1, 1))
		as := []int{s.batch, s.m, s.k}
		if s.tA {
			as = []int{s.batch, s.k, s.m}
		}
		bs := []int{s.batch, s.k, s.n}
		if s.tB {
			bs = []int{s.batch, s.n, s.k}
		}
		a, bt := New(as...).Randn(rng, 1), New(bs...).Randn(rng, 1)
		flops := 2 * float64(s.batch*s.m*s.n*s.k)
		for _, path := range []string{"lab", "openblas", "gonum"} {
			b.Run(name+"/"+path, func(b *testing.B) {
				run := func() {}
				switch path {
				case "lab", "gonum":
					if path == "lab" && !nativeGemm {
						b.Skip("the C GEMM does not run here")
					}
					old := useNative
					useNative = path == "lab"
					defer func() { useNative = old }()
					g := NewGraph()
					y := g.MatMul(g.Const("a", a), g.Const("b", bt), s.tA, s.tB)
					p, err := Compile(g, y)
					if err != nil {
						b.Fatal(err)
					}
					run = p.Run
				case "openblas":
					if err := openblas.Open(); err != nil {
						b.Skip(err)
					}
					openblas.SetThreads(Threads())
					c := make([]float32, s.batch*s.m*s.n)
					lda, ldb := as[2], bs[2]
					sa, sb, sc := as[1]*as[2], bs[1]*bs[2], s.m*s.n
					run = func() {
						for i := 0; i < s.batch; i++ {
							openblas.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a.Data[i*sa:], lda, bt.Data[i*sb:], ldb, 0, c[i*sc:], s.n)
						}
					}
				}
				run()
				b.ReportAllocs()
				cpu0 := cpuSeconds()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.StopTimer()
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				// Per second of CPU time of the process (all its threads): the
				// rate per busy core, which other processes on a shared
				// machine disturb less than the wall-clock rate.
				if cpu := cpuSeconds() - cpu0; cpu > 0 {
					b.ReportMetric(flops*float64(b.N)/cpu/1e9, "GFLOP/cpu-s")
				}
			})
		}
	}
}

// cpuSeconds is the user and system time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

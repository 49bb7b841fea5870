package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The AVX2 activations against Activation.Eval and Deriv (float64 math, the
// slow twins) on fresh random inputs over [-12, 12], wider ones, and the
// values where things go wrong (0, ±Inf, NaN, the exponential's ends).
// Bound: within 4e-7 of 1 + |f| (a few float32 roundings).
func TestNativeActivationsMatchEval(t *testing.T) {
	if !useNative {
		t.Skip("the C kernels do not run here")
	}
	rng := rand.New(rand.NewPCG(18, 3))
	x := []float32{0, 1, -1, 88, 88.5, -87, -88, -100, 100, 1e-30, -1e-30, 5e3, -5e3,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for len(x) < 4099 { // not a multiple of 8: the masked tail runs
		s := 12.0
		if len(x)%5 == 0 {
			s = 200
		}
		x = append(x, float32(s*(2*rng.Float64()-1)))
	}
	d := randSlice(rng, len(x))
	y := make([]float32, len(x))
	worst := 0.0
	check := func(what string, i int, got, want float32) {
		if math.IsNaN(float64(want)) || math.IsNaN(float64(got)) {
			if math.IsNaN(float64(want)) != math.IsNaN(float64(got)) {
				t.Fatalf("%s(%v): got %v, want %v", what, x[i], got, want)
			}
			return
		}
		if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
			if got != want {
				t.Fatalf("%s(%v): got %v, want %v", what, x[i], got, want)
			}
			return
		}
		e := math.Abs(float64(got-want)) / (1 + math.Abs(float64(want)))
		worst = max(worst, e)
		if e > 4e-7 {
			t.Fatalf("%s(%v): got %v, want %v", what, x[i], got, want)
		}
	}
	for _, a := range []Activation{GELU, SiLU, ELU1, Exp, Sigmoid, Softplus} {
		for _, n := range []int{len(x), 7, 8, 13} {
			xs := x[:n]
			if nativeAct(a, xs, nil, y) {
				for i, v := range xs {
					check(a.String(), i, y[i], a.Eval(v))
				}
			} else if a != Softplus { // softplus: the gradient only
				t.Fatalf("%v: no native kernel", a)
			}
			if !nativeAct(a, xs, d, y) {
				t.Fatalf("%v: no native gradient", a)
			}
			for i, v := range xs {
				check(a.String()+"'", i, y[i], d[i]*a.Deriv(v))
			}
		}
	}
	t.Logf("largest error %.2g of 1+|f|", worst)
}

// The AVX2 softmax against softmaxRowGo: rows of 1 to 70, -Inf entries,
// rows that are all -Inf, large spreads. Bound: within 1e-6 of 1.
func TestNativeSoftmaxMatchesGo(t *testing.T) {
	if !useNative {
		t.Skip("the C kernels do not run here")
	}
	rng := rand.New(rand.NewPCG(18, 4))
	worst := 0.0
	for c := 1; c <= 70; c++ {
		rows := 5
		x := make([]float32, rows*c)
		for i := range x {
			x[i] = float32(30 * rng.NormFloat64())
			if rng.IntN(4) == 0 {
				x[i] = float32(math.Inf(-1))
			}
		}
		for j := 0; j < c; j++ {
			x[2*c+j] = float32(math.Inf(-1)) // row 2: all -Inf
		}
		want, got := make([]float32, len(x)), make([]float32, len(x))
		for r := 0; r < rows; r++ {
			softmaxRowGo(x[r*c:(r+1)*c], want[r*c:(r+1)*c])
		}
		nativeSoftmaxRows(x, got, c)
		for i := range want {
			e := math.Abs(float64(got[i] - want[i]))
			worst = max(worst, e)
			if !(e <= 1e-6) {
				t.Fatalf("c=%d element %d: got %v, want %v", c, i, got[i], want[i])
			}
		}
		copy(got, x) // in place
		nativeSoftmaxRows(got, got, c)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("c=%d in place: element %d: got %v, want %v", c, i, got[i], want[i])
			}
		}
	}
	t.Logf("largest error %.2g", worst)
}

// Bias adds, row-vector products and column sums on the AVX2 path give the
// Go loops' bits exactly (one rounding per add or product, the rows summed in
// the same order), over odd widths and both thread counts.
func TestNativeRowOpsMatchGoBits(t *testing.T) {
	if !nativeGemm {
		t.Skip("the C kernels do not run here")
	}
	old, threads := useNative, Threads()
	defer func() { useNative = old; SetThreads(threads) }()
	rng := rand.New(rand.NewPCG(18, 5))
	for _, c := range []int{1, 7, 8, 9, 32, 33, 130} {
		for _, nr := range []int{1, 5, 300} {
			x, v := New(nr, c).Randn(rng, 1), New(c).Randn(rng, 1)
			run := func(native bool, th int) [][]float32 {
				useNative = native
				SetThreads(th)
				g := NewGraph()
				xn, vn := g.Const("x", x), g.Const("v", v)
				outs := []*Node{g.AddRowVec(xn, vn), g.MulRowVec(xn, vn), g.SumRows(xn)}
				p, err := Compile(g, outs...)
				if err != nil {
					t.Fatal(err)
				}
				p.Run()
				var res [][]float32
				for _, o := range outs {
					res = append(res, append([]float32(nil), p.Value(o).Data...))
				}
				return res
			}
			for _, th := range []int{1, 2} {
				want, got := run(false, th), run(true, th)
				for k := range want {
					for i := range want[k] {
						if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
							t.Fatalf("c=%d rows=%d threads=%d output %d element %d: got %v, want %v", c, nr, th, k, i, got[k][i], want[k][i])
						}
					}
				}
			}
		}
	}
}

// Layer norm and RMS norm, value and gradient, on the AVX2 path against the
// Go loops (the twins): odd widths, rows far from zero mean, both goroutine
// counts. Bound: within 2e-6 of 1 + |Go's value| (float32 sums in another
// order); measured 5e-8 for widths of 7 and more, 1.2e-6 for an RMS norm of
// width 1, whose gradient inv·d·(1 - xh²) cancels.
func TestNativeNormMatchesGo(t *testing.T) {
	if !nativeGemm {
		t.Skip("the C kernels do not run here")
	}
	old, threads := useNative, Threads()
	defer func() { useNative = old; SetThreads(threads) }()
	rng := rand.New(rand.NewPCG(18, 6))
	worst := 0.0
	for _, rms := range []bool{false, true} {
		for _, c := range []int{1, 7, 8, 9, 32, 33, 130} {
			nr := 37
			x, dy := New(nr, c).Randn(rng, 2), New(nr, c).Randn(rng, 1)
			for i := range x.Data {
				x.Data[i] += float32(i%5) * 3 // rows off zero mean
			}
			run := func(native bool, th int) [][]float32 {
				useNative = native
				SetThreads(th)
				g := NewGraph()
				xn := g.Const("x", x)
				o := normalize{rms, 1e-5}
				y := g.Apply(o, x.Shape, xn)
				dx := g.Apply(normalizeGrad(o), x.Shape, xn, g.Const("dy", dy))
				p, err := Compile(g, y, dx)
				if err != nil {
					t.Fatal(err)
				}
				p.Run()
				return [][]float32{append([]float32(nil), p.Value(y).Data...), append([]float32(nil), p.Value(dx).Data...)}
			}
			for _, th := range []int{1, 2} {
				want, got := run(false, th), run(true, th)
				for k := range want {
					for i, w := range want[k] {
						e := math.Abs(float64(got[k][i]-w)) / (1 + math.Abs(float64(w)))
						worst = max(worst, e)
						if !(e <= 2e-6) {
							t.Fatalf("rms=%v c=%d output %d element %d: got %v, want %v", rms, c, k, i, got[k][i], w)
						}
					}
				}
			}
		}
	}
	t.Logf("largest error %.2g of 1+|value|", worst)
}

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The mask drops close to a fraction p, scales the rest by 1/(1-p), is the
// same for the same key, differs between keys, and the gradient is the
// mask itself (checked against finite differences).
func TestDropout(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    float32
		n    int
	}{{"p0", 0, 1000}, {"p0.1", 0.1, 50000}, {"p0.5", 0.5, 50000}, {"p0.9", 0.9, 50000}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := New(tc.n).Uniform(rng, 1, 2)
			g := NewGraph()
			key := g.IntInput("key", 1)
			y := g.Dropout(g.Const("x", x), key, tc.p)
			p, err := Compile(g, y)
			if err != nil {
				t.Fatal(err)
			}
			run := func(k int32) []float32 {
				p.Value(key).Ints[0] = k
				p.Run()
				return append([]float32(nil), p.Value(y).Data...)
			}
			a, b, c := run(DropoutKey(7, 0)), run(DropoutKey(7, 0)), run(DropoutKey(7, 1))
			dropped, differ := 0, 0
			scale := DropoutScale(tc.p)
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("element %d: %v then %v under the same key", i, a[i], b[i])
				}
				if a[i] == 0 {
					dropped++
				} else if a[i] != x.Data[i]*scale {
					t.Fatalf("element %d kept as %v, want %v", i, a[i], x.Data[i]*scale)
				}
				if (a[i] == 0) != (c[i] == 0) {
					differ++
				}
			}
			frac := float64(dropped) / float64(tc.n)
			// 5 standard deviations of a binomial fraction.
			tol := 5 * math.Sqrt(float64(tc.p)*(1-float64(tc.p))/float64(tc.n))
			if math.Abs(frac-float64(tc.p)) > tol+1e-12 {
				t.Errorf("dropped %.4f of the elements, want %.2f ± %.4f", frac, tc.p, tol)
			}
			if tc.p > 0 && differ == 0 {
				t.Errorf("keys of step 0 and step 1 drew the same mask")
			}
		})
	}
}

func TestDropoutGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := rp(rng, "a", 6, 7)
	key := NewInts(1)
	key.Ints[0] = DropoutKey(1, 5)
	e, err := GradCheck(1, []*Param{a}, 1e-2, 0, func(g *Graph) *Node {
		return g.Dropout(g.Param(a), g.Const("key", key), 0.3)
	})
	if err != nil {
		t.Fatal(err)
	}
	if e > gradTol {
		t.Errorf("gradient error %.3g > %.3g", e, gradTol)
	}
}

// DropoutThreshold saturates and is exact at the ends.
func TestDropoutThreshold(t *testing.T) {
	for _, tc := range []struct {
		p    float32
		want uint32
	}{{0, 0}, {0.5, 1 << 31}, {0.25, 1 << 30}, {0.99999999, math.MaxUint32}} {
		if got := DropoutThreshold(tc.p); got != tc.want {
			t.Errorf("DropoutThreshold(%v) = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func BenchmarkDropout(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := NewGraph()
	key := g.IntInput("key", 1)
	y := g.Dropout(g.Const("x", New(1<<20).Randn(rng, 1)), key, 0.1)
	p, err := Compile(g, y)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8 << 20)
	for i := 0; i < b.N; i++ {
		p.Value(key).Ints[0] = DropoutKey(1, i)
		p.Run()
	}
}

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// decayScanParallel is DecayScan's slow twin: the quadratic exclusive
// decayed form RWKV-4 used before the op existed (architectures'
// decayParallel with q = k = 1, dk = 1): scores exp(bq_t - b_s) for s < t
// from the exclusive and inclusive cumulative log-decays, times x. The
// reverse direction runs it on the time-flipped inputs. Grouped decays
// (lg [N, L, H]) run it per group of columns and concatenate.
func decayScanParallel(g *Graph, x, lg *Node, reverse bool) *Node {
	n, l := lg.Shape[0], lg.Shape[1]
	if len(lg.Shape) == 3 {
		h := lg.Shape[2]
		w := x.Shape[2] / h
		parts := make([]*Node, h)
		for k := range parts {
			lk := g.Reshape(g.Slice(lg, 2, k, k+1), n, l)
			parts[k] = decayScanParallel(g, g.Slice(x, 2, k*w, (k+1)*w), lk, reverse)
		}
		return g.Concat(2, parts...)
	}
	if reverse {
		x, lg = flipTime(g, x), flipTime(g, lg)
	}
	b := g.Reshape(g.CumSum(lg, 1, false, false), n, l, 1)
	bq := g.Reshape(g.CumSum(lg, 1, true, false), n, l, 1)
	ones := g.Const("ones", New(n, l, 1).Fill(1))
	y := g.MatMul(g.DecayScores(ones, ones, bq, b, true), x, false, false)
	if reverse {
		y = flipTime(g, y)
	}
	return y
}

// flipTime reverses axis 1 by concatenating its slices in reverse order.
func flipTime(g *Graph, x *Node) *Node {
	l := x.Shape[1]
	parts := make([]*Node, l)
	for t := range parts {
		parts[t] = g.Slice(x, 1, l-1-t, l-t)
	}
	return g.Concat(1, parts...)
}

type decayScanCase struct {
	n, l, dv int
	lo, hi   float64 // log-decays uniform in [lo, hi]
	h        int     // groups of columns with their own decay (lg [N, L, h]); 0: lg [N, L]
}

func decayScanParams(rng *rand.Rand, c decayScanCase) []*Param {
	x := New(c.n, c.l, c.dv).Randn(rng, 1)
	lg := New(c.n, c.l)
	if c.h > 0 {
		lg = New(c.n, c.l, c.h)
	}
	for i := range lg.Data {
		lg.Data[i] = float32(c.lo + (c.hi-c.lo)*rng.Float64())
	}
	return []*Param{NewParam("x", x), NewParam("lg", lg)}
}

// evalDecayScan returns [y, dx, dlg] for the loss sum(y·R), R seeded.
func evalDecayScan(t *testing.T, ps []*Param, seed uint64, build func(g *Graph, x, lg *Node) *Node) [][]float32 {
	t.Helper()
	g := NewGraph()
	x, lg := g.Param(ps[0]), g.Param(ps[1])
	var outs []*Node
	if err := Catch(func() {
		y := build(g, x, lg)
		r := g.Const("r", New(y.Shape...).Randn(rand.New(rand.NewPCG(seed, 7)), 1))
		outs = append([]*Node{y}, g.Grad(g.SumAll(g.Mul(y, r)), []*Node{x, lg})...)
	}); err != nil {
		t.Fatal(err)
	}
	return runOutputs(t, g, outs, nil)
}

// DecayScan (both directions) against the quadratic twin: output and the
// gradients of x and lg on fresh random inputs, ragged lengths (1 included),
// decays from near 0 to very negative (every weight underflows). Bound:
// |fast - twin| <= 1e-5·(1 + max|twin|) per tensor: the twin rounds
// exp(Σ lg) once per pair and sums up to L terms, the scan multiplies L
// rounded factors. Both paths run (the C scan of decay_amd64.c: a decay per
// column eight at a time with a masked tail, or per group of columns).
func TestDecayScanMatchesParallel(t *testing.T) { paths(t, testDecayScanMatchesParallel) }

func testDecayScanMatchesParallel(t *testing.T) {
	cases := []decayScanCase{{1, 1, 2, -1, 0, 0}, {2, 5, 2, -0.1, 0, 0}, {3, 17, 3, -2, -0.01, 0}, {2, 33, 1, -30, -5, 0},
		{1, 64, 2, -0.05, 0, 0}, {4, 9, 5, -100, -50, 0}, {2, 40, 2, -8, 0, 0},
		{2, 5, 6, -2, 0, 3}, {3, 17, 8, -0.1, 0, 4}, {1, 33, 4, -30, -5, 4}, {2, 9, 3, -1, 0, 1},
		{2, 13, 19, -2, 0, 19}, {1, 21, 16, -0.5, 0, 16}, {2, 7, 24, -1, 0, 3}, {2, 9, 20, -1, 0, 2}}
	names := []string{"y", "dx", "dlg"}
	for ci, c := range cases {
		for _, rev := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/reverse=%v", c, rev), func(t *testing.T) {
				ps := decayScanParams(rand.New(rand.NewPCG(uint64(ci), 21)), c)
				fast := evalDecayScan(t, ps, uint64(ci), func(g *Graph, x, lg *Node) *Node { return g.decayScan(x, lg, rev) })
				slow := evalDecayScan(t, ps, uint64(ci), func(g *Graph, x, lg *Node) *Node { return decayScanParallel(g, x, lg, rev) })
				for i := range fast {
					if d := scaledDiff(fast[i], slow[i]); !(d <= 1e-5) {
						t.Errorf("%s: max |fast - parallel| / (1 + max|parallel|) = %.2e > 1e-5", names[i], d)
					}
				}
			})
		}
	}
}

// The recurrence written out by hand on a tiny case: y_0 = 0, y_1 = x_0,
// y_2 = e^{lg_1}·x_0 + x_1 (lg_0 unused); reverse: y_2 = 0, y_1 = x_2,
// y_0 = e^{lg_1}·x_2 + x_1.
func TestDecayScanByHand(t *testing.T) {
	g := NewGraph()
	x := g.Const("x", FromData([]float32{1, 2, 3}, 1, 3, 1))
	lg := g.Const("lg", FromData([]float32{5, float32(math.Log(0.5)), -1}, 1, 3))
	fw, rv := g.DecayScan(x, lg), g.DecayScanReverse(x, lg)
	p, err := Compile(g, fw, rv)
	if err != nil {
		t.Fatal(err)
	}
	p.Run()
	for _, c := range []struct {
		got  []float32
		want []float32
	}{{p.Value(fw).Data, []float32{0, 1, 2.5}}, {p.Value(rv).Data, []float32{3.5, 3, 0}}} {
		for i, w := range c.want {
			if math.Abs(float64(c.got[i]-w)) > 1e-6 {
				t.Errorf("got %v, want %v", c.got, c.want)
				break
			}
		}
	}
}

// Gradients of DecayScan against central finite differences.
func TestDecayScanGradCheck(t *testing.T) {
	for i, c := range []decayScanCase{{2, 7, 2, -1, 0, 0}, {1, 12, 3, -3, -0.1, 0}, {2, 6, 4, -2, 0, 2}} {
		for _, rev := range []bool{false, true} {
			ps := decayScanParams(rand.New(rand.NewPCG(uint64(i), 3)), c)
			rel, err := GradCheck(uint64(i), ps, 1e-3, 12, func(g *Graph) *Node {
				return g.decayScan(g.Param(ps[0]), g.Param(ps[1]), rev)
			})
			if err != nil {
				t.Fatal(err)
			}
			if !(rel <= 2e-2) {
				t.Errorf("%v reverse=%v: gradient error %.2e of the largest gradient (bound 2e-2)", c, rev, rel)
			}
		}
	}
}

func TestDecayScanShapes(t *testing.T) {
	for _, c := range []struct{ x, lg []int }{{[]int{2, 3}, []int{2, 3}}, {[]int{2, 3, 1}, []int{2, 4}},
		{[]int{2, 3, 3}, []int{2, 3, 2}}, {[]int{2, 3, 4}, []int{2, 4, 2}}, {[]int{2, 3, 1}, []int{2, 3, 1, 1}}} {
		g := NewGraph()
		if err := Catch(func() { g.DecayScan(g.Const("x", New(c.x...)), g.Const("lg", New(c.lg...))) }); err == nil {
			t.Errorf("DecayScan(%v, %v): no error", c.x, c.lg)
		}
	}
}

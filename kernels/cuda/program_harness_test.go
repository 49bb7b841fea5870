package cuda

import (
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// graphCase builds a small graph whose outputs the device Program and the
// CPU Program must agree on.
type graphCase struct {
	name string
	// build declares inputs through c and returns the outputs to compare.
	build func(g *kernels.Graph, c *caseInputs) []*kernels.Node
	// grad adds the gradient of sum(out_i * R_i) (R_i random constants)
	// with respect to every float input, so the backward ops run too.
	grad bool
	// tol, when set, replaces graphTol, with the reason beside the case.
	tol float64
}

// caseInputs declares graph inputs and draws their values.
type caseInputs struct {
	gr     *kernels.Graph
	rng    *rand.Rand
	floats []*kernels.Node
	ints   []*kernels.Node
	fill   map[*kernels.Node]func() ([]float32, []int32)
}

// F declares a float input of normal values.
func (c *caseInputs) F(shape ...int) *kernels.Node { return c.uniformOr(false, 0, 0, shape) }

// U declares a float input uniform in [lo, hi).
func (c *caseInputs) U(lo, hi float64, shape ...int) *kernels.Node {
	return c.uniformOr(true, lo, hi, shape)
}

func (c *caseInputs) uniformOr(u bool, lo, hi float64, shape []int) *kernels.Node {
	n := c.g().Input("x", shape...)
	c.floats = append(c.floats, n)
	c.fill[n] = func() ([]float32, []int32) {
		if u {
			return uniform(c.rng, n.Len(), lo, hi), nil
		}
		return randn(c.rng, n.Len(), 0, 1), nil
	}
	return n
}

// I declares an integer input with values in [0, hi); every ignoreEvery-th
// value (when > 0) is kernels.Ignore.
func (c *caseInputs) I(hi, ignoreEvery int, shape ...int) *kernels.Node {
	n := c.g().IntInput("i", shape...)
	c.ints = append(c.ints, n)
	c.fill[n] = func() ([]float32, []int32) {
		v := make([]int32, n.Len())
		for i := range v {
			v[i] = int32(c.rng.IntN(hi))
			if ignoreEvery > 0 && c.rng.IntN(ignoreEvery) == 0 {
				v[i] = kernels.Ignore
			}
		}
		return nil, v
	}
	return n
}

// Skewed declares an integer input in [0, hi) where a share zero of the
// values are 0 (a filler token) and the rest uniform: one row of
// scatter_add's output gathers most positions.
func (c *caseInputs) Skewed(hi int, zero float64, shape ...int) *kernels.Node {
	n := c.g().IntInput("i", shape...)
	c.ints = append(c.ints, n)
	c.fill[n] = func() ([]float32, []int32) {
		v := make([]int32, n.Len())
		for i := range v {
			if c.rng.Float64() >= zero {
				v[i] = int32(c.rng.IntN(hi))
			}
		}
		return nil, v
	}
	return n
}

func (c *caseInputs) g() *kernels.Graph { return c.gr }

// checkCase compiles the case for both backends and compares three runs on
// fresh inputs: the eager first run, the run that captures the CUDA graph,
// and a replay. It returns the largest |got-want|/(1+|want|).
func checkCase(t *testing.T, d *Device, gc graphCase, tol float64) float64 {
	t.Helper()
	g := kernels.NewGraph()
	c := &caseInputs{gr: g, rng: rand.New(rand.NewPCG(7, uint64(len(gc.name)))), fill: map[*kernels.Node]func() ([]float32, []int32){}}
	var outs []*kernels.Node
	must(t, kernels.Catch(func() {
		outs = gc.build(g, c)
		if !gc.grad {
			return
		}
		var loss *kernels.Node
		for i, y := range outs {
			r := constOf(g, "r", randn(c.rng, y.Len(), 0, 1), y.Shape...)
			term := g.SumAll(g.Mul(y, r))
			if i == 0 {
				loss = term
			} else {
				loss = g.Add(loss, term)
			}
		}
		outs = append(outs, g.Grad(loss, c.floats)...)
	}))
	cpu, err := kernels.Compile(g, outs...)
	must(t, err)
	poisonPlanned = true
	dev, err := Compile(d, g, outs...)
	poisonPlanned = false
	must(t, err)
	defer dev.Free()
	must(t, dev.SetTF32(false))
	needed := map[int]bool{}
	for _, id := range g.Needed(outs...) {
		needed[id] = true
	}
	worst := 0.0
	for round := 0; round < 3; round++ {
		// Declaration order (not map order), so a case draws the same
		// inputs on every run.
		for _, n := range append(append([]*kernels.Node{}, c.floats...), c.ints...) {
			if !needed[n.ID] {
				continue
			}
			fv, iv := c.fill[n]()
			if iv != nil {
				copy(cpu.Value(n).Ints, iv)
				must(t, dev.SetInts(n, iv))
			} else {
				copy(cpu.Value(n).Data, fv)
				must(t, dev.SetFloats(n, fv))
			}
		}
		cpu.Run()
		must(t, dev.Run())
		for i, o := range outs {
			got := make([]float32, o.Len())
			must(t, dev.Read(o, got))
			worst = max(worst, within(t, name(gc.name, " round ", round, " output ", i, " ", o), got, cpu.Value(o).Data, tol))
		}
	}
	return worst
}

// gradProgram compiles, for the output y that build declares through ci
// (seeded 1, 2), the loss sum(y ⊙ r) with r a random constant and the
// gradients of every float input, fills the inputs and runs it once.
// Timings use it.
func gradProgram(t testing.TB, d *Device, build func(g *kernels.Graph, ci *caseInputs) *kernels.Node) *Program {
	g := kernels.NewGraph()
	ci := &caseInputs{gr: g, rng: rand.New(rand.NewPCG(1, 2)), fill: map[*kernels.Node]func() ([]float32, []int32){}}
	var outs []*kernels.Node
	must(t, kernels.Catch(func() {
		y := build(g, ci)
		loss := g.SumAll(g.Mul(y, constOf(g, "r", randn(ci.rng, y.Len(), 0, 1), y.Shape...)))
		outs = append([]*kernels.Node{loss}, g.Grad(loss, ci.floats)...)
	}))
	p, err := Compile(d, g, outs...)
	must(t, err)
	for n, f := range ci.fill {
		v, _ := f()
		must(t, p.SetFloats(n, v))
	}
	must(t, p.Run())
	return p
}

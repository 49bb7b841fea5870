package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// mlpGraph builds y = gelu(x·W1 + b1)·W2 + b2 over x [rows, din] (through a
// reshape to [2, rows/2, ...] and back, as the model's 3-D activations do),
// the loss sum(y ⊙ c) for a fixed random c, and the gradients of every
// parameter (x included). Inputs are drawn from seed, so two calls build
// the same values.
func mlpGraph(t testing.TB, rows, din, hidden, dout int, seed uint64) (g *kernels.Graph, outs []*kernels.Node) {
	rng := rand.New(rand.NewPCG(seed, 7))
	g = kernels.NewGraph()
	param := func(name string, std float64, shape ...int) *kernels.Node {
		return g.Param(kernels.NewParam(name, kernels.New(shape...).Randn(rng, std)))
	}
	must(t, kernels.Catch(func() {
		x := param("x", 1, rows, din)
		w1, b1 := param("w1", 1/math.Sqrt(float64(din)), din, hidden), param("b1", 0.5, hidden)
		w2, b2 := param("w2", 1/math.Sqrt(float64(hidden)), hidden, dout), param("b2", 0.5, dout)
		h := g.Reshape(g.MatMul(x, w1, false, false), 2, rows/2, hidden)
		a := g.Act(kernels.GELU, g.AddRowVec(h, b1))
		y := g.AddRowVec(g.Reshape(g.MatMul(g.Reshape(a, rows, hidden), w2, false, false), 2, rows/2, dout), b2)
		c := constOf(g, "c", randn(rng, rows*dout, 0, 1), 2, rows/2, dout)
		loss := g.SumAll(g.Mul(y, c))
		outs = append([]*kernels.Node{loss}, g.Grad(loss, []*kernels.Node{x, w1, b1, w2, b2})...)
	}))
	return g, outs
}

// fuseGemms on the MLP's training graph: with hidden a multiple of 8, the
// GELU form forward and backward, the second bias forward and its gradient
// beside W2's; with hidden 100 (no aux leading dimension cuBLASLt takes),
// two bias epilogues and two bias gradients beside their weights'; with no
// cuBLASLt, nothing; without LAB_CUDA_LT=1, nothing.
func TestFuseGemms(t *testing.T) {
	t.Setenv("LAB_CUDA_LT", "1")
	for _, c := range []struct {
		name   string
		hidden int
		lt     bool
		want   map[Epilogue]int
	}{
		{"gelu forms", 64, true, map[Epilogue]int{EpiGELUBias: 1, EpiBias: 1, EpiDGELUBGrad: 1, EpiBGradB: 1}},
		{"hidden 100", 100, true, map[Epilogue]int{EpiBias: 2, EpiBGradB: 2}},
		{"no cuBLASLt", 64, false, map[Epilogue]int{}},
	} {
		g, outs := mlpGraph(t, 8, 16, c.hidden, 12, 1)
		got := map[Epilogue]int{}
		p := &Program{Graph: g, Outputs: outs}
		if c.lt {
			p.ltOK = func(s LtShape) bool { got[s.Epi]++; return true }
		}
		f := p.fuse(g.Needed(outs...))
		if len(got) != len(c.want) {
			t.Errorf("%s: epilogues %v, want %v", c.name, got, c.want)
		}
		for e, n := range c.want {
			if got[e] != n {
				t.Errorf("%s: %d %v epilogues, want %d (all: %v)", c.name, got[e], e, n, got)
			}
		}
		for _, id := range g.Needed(outs...) {
			n := g.Nodes[id]
			if opNamed(n, "matmul") && len(n.Shape) == 2 && !f.skip[id] && f.lower[id] == nil && c.lt {
				a := kernels.Describe(n.Op)
				if !a.Bools["trans_a"] && !a.Bools["trans_b"] {
					t.Errorf("%s: forward matmul %v still runs alone", c.name, n)
				}
			}
			if !c.lt && (f.lower[id] != nil || f.skip[id]) && (opNamed(n, "matmul") || opNamed(n, "gelu")) {
				t.Errorf("%s: %v fused without cuBLASLt", c.name, n)
			}
		}
	}
	t.Setenv("LAB_CUDA_LT", "")
	g, outs := mlpGraph(t, 8, 16, 64, 12, 1)
	p := &Program{Graph: g, Outputs: outs, ltOK: func(LtShape) bool { t.Error("fusions are off by default, yet cuBLASLt was asked"); return true }}
	p.fuse(g.Needed(outs...))
}

// TestEpilogueGemmsMatchCPU runs the MLP's loss and gradients with the
// cuBLASLt epilogues (LAB_CUDA_LT=1) at each precision against the CPU (tolerances as for
// the whole model: FP32 1e-5, TF32 5e-3, BF16 3e-2 of ‖d‖/‖cpu‖ per
// output) and, in FP32, against the same program with the fusions off.
func TestEpilogueGemmsMatchCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, c := range []struct{ rows, din, hidden, dout, fused int }{
		{300, 64, 256, 64, 4}, {1000, 48, 136, 40, 4}, {64, 32, 100, 24, 4},
	} {
		cg, couts := mlpGraph(t, c.rows, c.din, c.hidden, c.dout, 3)
		cpu, err := kernels.Compile(cg, couts...)
		must(t, err)
		cpu.Run()
		run := func(p *Program, outs []*kernels.Node) [][]float32 {
			must(t, p.Run())
			var vs [][]float32
			for _, n := range outs {
				v := make([]float32, n.Len())
				must(t, p.Read(n, v))
				vs = append(vs, v)
			}
			return vs
		}
		t.Setenv("LAB_CUDA_LT", "")
		ug, uouts := mlpGraph(t, c.rows, c.din, c.hidden, c.dout, 3)
		up, err := Compile(d, ug, uouts...)
		must(t, err)
		must(t, up.SetPrecision(FP32))
		unfused := run(up, uouts)
		up.Free()
		t.Setenv("LAB_CUDA_LT", "1")
		g, outs := mlpGraph(t, c.rows, c.din, c.hidden, c.dout, 3)
		p, err := Compile(d, g, outs...)
		must(t, err)
		if p.ltFused != c.fused {
			t.Fatalf("%v: %d epilogue GEMMs, want %d (refused: %q)", c, p.ltFused, c.fused, p.ltRefused)
		}
		for _, pr := range []Precision{FP32, TF32, BF16} {
			must(t, p.SetPrecision(pr))
			got := run(p, outs)
			tol := map[Precision]float64{FP32: 1e-5, TF32: 5e-3, BF16: 3e-2}[pr]
			for i, n := range couts {
				e := relNorm(got[i], cpu.Value(n).Data)
				if !(e <= tol) {
					t.Errorf("%v %v: output %d (%v): ||d||/||cpu|| %.2e > %.0e", c, pr, i, n.Shape, e, tol)
				}
				if pr == FP32 {
					if u := relNorm(got[i], unfused[i]); !(u <= 1e-5) {
						t.Errorf("%v: output %d: fused and unfused FP32 differ by %.2e", c, i, u)
					}
				}
			}
		}
		p.Free()
	}
}

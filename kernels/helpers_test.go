package kernels

import (
	"math"
	"testing"
)

// runOutputs compiles outs, lets set fill inputs (nil: none), runs the
// program once and returns a copy of each output's values.
func runOutputs(t testing.TB, g *Graph, outs []*Node, set func(p *Program)) [][]float32 {
	t.Helper()
	p, err := Compile(g, outs...)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(p)
	}
	p.Run()
	res := make([][]float32, len(outs))
	for i, o := range outs {
		res[i] = append([]float32(nil), p.Value(o).Data...)
	}
	return res
}

// scaledDiff is max|got-want| / (1 + max|want|); NaN or Inf gives +Inf.
func scaledDiff(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) || math.IsNaN(w) || math.IsInf(w, 0) {
			return math.Inf(1)
		}
		d = max(d, math.Abs(g-w))
		m = max(m, math.Abs(w))
	}
	return d / (1 + m)
}

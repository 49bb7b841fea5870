package architectures

import (
	"math"
	"testing"
)

// The old inits (c_init=unit, shift_init=identity) pass the form and
// gradient checks.
func TestH3Variants(t *testing.T) {
	checkVariants(t, []mixerCase{
		{"h3", "h3/unit", map[string]string{"c_init": "unit"}},
		{"h3", "h3/unit-heads", map[string]string{"c_init": "unit", "head_dim": "4", "d_state": "3", "shift": "2"}},
		{"h3", "h3/identity-shift", map[string]string{"shift_init": "identity"}},
		{"h3", "h3/old", map[string]string{"shift_init": "identity", "c_init": "unit"}},
	})
}

// By default the shift filter's taps past the first are U(±1/√shift).
func TestH3ShiftInit(t *testing.T) {
	c := Config{D: 8, Heads: 1, Layers: 2}
	w := initMixer[*h3](t, "h3", map[string]string{"shift": "4", "d_state": "2"}, c, 7, 8).shift.w.Value.Data
	for i := c.D; i < len(w); i++ {
		if math.Abs(float64(w[i])) > 0.5 {
			t.Fatalf("shift tap %d = %g outside ±0.5", i/c.D, w[i])
		}
	}
}

// The default C is c_init=unit's C times S4D's zero-order-hold factor
// (1 - e^λ)/(n+1) for the same draws.
func TestH3ZOHInit(t *testing.T) {
	c := Config{D: 8, Heads: 1, Layers: 2}
	build := func(args map[string]string) *h3 { return initMixer[*h3](t, "h3", args, c, 3, 4) }
	zoh, unit := build(map[string]string{"d_state": "4"}), build(map[string]string{"d_state": "4", "c_init": "unit"})
	for i, w := range zoh.logRate.Value.Data {
		n := i % zoh.n
		lam := -math.Exp(float64(w))
		want := float64(unit.cOut.Value.Data[i]) * -math.Expm1(lam) / float64(n+1)
		if got := float64(zoh.cOut.Value.Data[i]); math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("C[%d] = %g, want %g", i, got, want)
		}
	}
}

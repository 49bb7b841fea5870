package architectures

import (
	"math"
	"testing"
)

// short_init=identity (the old layer) passes the form and gradient checks.
func TestHyenaVariants(t *testing.T) {
	checkVariants(t, []mixerCase{{"hyena", "hyena/identity", map[string]string{"short_init": "identity"}}})
}

// By default the short filters' taps are U(±1/√conv), not near the identity.
func TestHyenaShortInit(t *testing.T) {
	c := Config{D: 8, Heads: 1, Layers: 2, MaxLen: 16}
	h := initMixer[*hyena](t, "hyena", map[string]string{"conv": "4"}, c, 5, 6)
	bd := 1 / math.Sqrt(4)
	for _, sc := range []*shortConv{h.c1, h.c2, h.cv} {
		var tap0 float64
		for i, v := range sc.w.Value.Data {
			if math.Abs(float64(v)) > bd {
				t.Fatalf("%s: tap %d = %g outside ±%g", sc.w.Name, i/c.D, v, bd)
			}
			if i < c.D {
				tap0 += float64(v) / float64(c.D)
			}
		}
		if tap0 > 0.5 {
			t.Errorf("%s: tap 0 averages %g: still near the identity", sc.w.Name, tap0)
		}
	}
}

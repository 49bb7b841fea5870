package architectures

import (
	"testing"

	"lab/kernels"
)

// init=normal (the old layer) passes the form and gradient checks.
func TestRWKV4Variants(t *testing.T) {
	checkVariants(t, []mixerCase{{"rwkv4", "rwkv4/normal", map[string]string{"init": "normal"}}})
}

// rwkv4's default init is RWKV-4's: k, r and o start at zero, v does not,
// and the bonus zigzags around log 0.3; init=normal keeps the old N(0, 0.02).
func TestRWKV4Init(t *testing.T) {
	c := Config{D: 8, Heads: 1, Layers: 2}
	build := func(args map[string]string) *rwkv4 { return initMixer[*rwkv4](t, "rwkv4", args, c, 1, 2) }
	nonzero := func(p *kernels.Param) bool {
		for _, v := range p.Value.Data {
			if v != 0 {
				return true
			}
		}
		return false
	}
	m := build(nil)
	for _, d := range []*dense{m.r, m.k, m.o} {
		if nonzero(d.W) {
			t.Errorf("%s: not zero at init", d.W.Name)
		}
	}
	if !nonzero(m.v.W) {
		t.Error("rwkv4.v: zero at init")
	}
	if u0, u1 := m.bonus.Value.Data[0], m.bonus.Value.Data[1]; u0 == u1 {
		t.Errorf("bonus has no zigzag: u0 = u1 = %v", u0)
	}
	old := build(map[string]string{"init": "normal"})
	for _, d := range []*dense{old.r, old.k, old.v, old.o} {
		if !nonzero(d.W) {
			t.Errorf("init=normal: %s zero at init", d.W.Name)
		}
	}
}

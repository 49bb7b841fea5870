package bench

import (
	"testing"
	"time"
)

// Mixers meant to be linear in L stay so: forward+backward at 4x the length
// takes well under 16x the time (a quadratic form would take ~16x). The
// bound, 8x, leaves room for noise on a shared machine; the best of three
// measurements at each length is used. h3, hyena and baseconv(long=true)
// are left out: their long convolutions are block-Toeplitz GEMMs over
// chunks in lab (O(L²·D) work, no FFT op), so they are not linear in L
// (measured 7.0x and 7.2x for 4x the length from L 1,024).
func TestLinearInLength(t *testing.T) {
	mixers := []string{"swa(window=64)", "linear", "retnet", "rwkv4", "gla", "mamba", "mamba2",
		"rwkv6", "rwkv7", "deltanet", "gated_deltanet", "based", "baseconv", "conv"}
	const short, long = 1024, 4096
	if testing.Short() {
		mixers = []string{"swa(window=64)", "linear", "mamba2", "deltanet"}
	}
	for _, name := range mixers {
		t.Run(name, func(t *testing.T) {
			best := map[int]float64{}
			for rep := 0; rep < 3; rep++ {
				rows, err := Measure(Config{Mixers: []string{name}, Lengths: []int{short, long}, DModel: 16, Heads: 2, Batch: 1,
					Chunk: 64, MaxMem: 1 << 30, MinTime: 20 * time.Millisecond, Seed: 1, Kinds: []string{"forward_backward"}})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r.Metric == "time" && (best[r.SeqLen] == 0 || r.Value < best[r.SeqLen]) {
						best[r.SeqLen] = r.Value
					}
				}
			}
			ratio := best[long] / best[short]
			t.Logf("%s: %.3f ms at L %d, %.3f ms at L %d: %.1fx", name, best[short], short, best[long], long, ratio)
			if ratio > 8 {
				t.Errorf("%s: %.1fx the time for 4x the length (%.3f -> %.3f ms): no longer linear in L", name, ratio, best[short], best[long])
			}
		})
	}
}

package bench

import (
	"testing"
	"time"
)

// The quadratic wall, measured small: softmax's decode state grows with L,
// linear attention's does not; every mixer gets every row kind.
func TestMeasure(t *testing.T) {
	rows, err := Measure(Config{Mixers: []string{"softmax", "linear", "mamba2", "swa(window=16)"}, Lengths: []int{16, 64}, DModel: 16, Heads: 2,
		Batch: 2, Chunk: 8, MaxMem: 1 << 30, MinTime: time.Millisecond, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]map[int]float64{}
	kinds := map[string]int{}
	for _, r := range rows {
		kinds[r.Kind+"/"+r.Metric]++
		if r.Value <= 0 {
			t.Errorf("%+v: non-positive value", r)
		}
		if r.Kind == "decode" && r.Metric == "state" {
			if state[r.Mixer] == nil {
				state[r.Mixer] = map[int]float64{}
			}
			state[r.Mixer][r.SeqLen] = r.Value
		}
	}
	for _, k := range []string{"forward/time", "forward_backward/time", "prefill/memory", "decode/time", "decode/state"} {
		if kinds[k] != 8 {
			t.Errorf("%s: %d rows, want 8", k, kinds[k])
		}
	}
	if state["softmax"][64] != 4*state["softmax"][16] {
		t.Errorf("KV cache does not grow linearly: %v", state["softmax"])
	}
	if state["swa(window=16)"][64] != state["swa(window=16)"][16] {
		t.Errorf("sliding-window cache grows past its window: %v", state["swa(window=16)"])
	}
	if state["linear"][64] != state["linear"][16] {
		t.Errorf("linear state changes with L: %v", state["linear"])
	}
}

// A shape with a buffer over MaxMem is reported, not run. (Since attention
// is one fused op, softmax no longer holds L×L scores: the wall here is a
// [4, 4096, 8] activation of 512 KiB against 256 KiB.)
func TestMemoryWall(t *testing.T) {
	rows, err := Measure(Config{Mixers: []string{"softmax"}, Lengths: []int{4096}, DModel: 8, Heads: 1, Batch: 4, Chunk: 64, MaxMem: 1 << 18, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Metric != "needs_bytes" {
		t.Fatalf("softmax at L=4096 under 256 KiB: %+v", rows[0])
	}
	if _, err := Measure(Config{Mixers: []string{"softmax, linear"}, Lengths: []int{8}, DModel: 8, Heads: 1}); err == nil {
		t.Fatal("a stack was accepted")
	}
}

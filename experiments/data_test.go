package experiments

import (
	"sync"
	"testing"

	"lab/tasks"
)

// Trials asking for the same task, size and seed share one generated pool
// (generated once even when asked at the same time); any difference in
// parameters, size or seed gives another pool with the task's own data.
func TestDataCacheShares(t *testing.T) {
	mk := func(params map[string]float64) tasks.Task {
		tk, err := tasks.New("mqar", params)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	c := newDataCache()
	a := mk(map[string]float64{"seq_len": 32, "kv_pairs": 4, "vocab": 64})
	var wg sync.WaitGroup
	got := make([]*tasks.Batch, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.generate(a, 50, 7)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("call %d got another pool", i)
		}
	}
	same := mk(map[string]float64{"vocab": 64, "kv_pairs": 4, "seq_len": 32})
	if b, _ := c.generate(same, 50, 7); b != got[0] {
		t.Fatal("the same parameters in another order gave another pool")
	}
	for name, tc := range map[string]struct {
		tk   tasks.Task
		n    int
		seed uint64
	}{
		"params": {mk(map[string]float64{"seq_len": 32, "kv_pairs": 2, "vocab": 64}), 50, 7},
		"size":   {a, 51, 7},
		"seed":   {a, 50, 8},
	} {
		b, err := c.generate(tc.tk, tc.n, tc.seed)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tc.tk.Generate(tc.n, tc.seed)
		if b == got[0] || b.N != want.N || b.Inputs[0] != want.Inputs[0] || b.Inputs[len(b.Inputs)-1] != want.Inputs[len(want.Inputs)-1] {
			t.Fatalf("%s: shared the pool or differs from the task's own data", name)
		}
	}
}

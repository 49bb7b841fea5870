package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestForCoversEachIndexOnce runs For from several runners at once, with
// parts that end at once, parts slower than the spin (so the caller sleeps
// and the last part wakes it), and thread counts raised and lowered: every
// index must be visited exactly once and For must return only after all of
// its parts.
func TestForCoversEachIndexOnce(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	cases := []struct {
		threads, runners, n, grain int
		sleep                      time.Duration
	}{
		{1, 1, 100, 1, 0},
		{2, 1, 100, 1, 0},
		{2, 3, 1000, 7, 0},
		{4, 2, 64, 1, 0},
		{2, 2, 4, 1, 2 * spinFor},
		{3, 1, 9, 1, spinFor / 2},
		{1, 2, 10, 1, 0}, // lowered again: the extra helpers must not spin or steal
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("threads=%d runners=%d n=%d sleep=%v", c.threads, c.runners, c.n, c.sleep), func(t *testing.T) {
			SetThreads(c.threads)
			var wg sync.WaitGroup
			for r := 0; r < c.runners; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var run Runner
					for rep := 0; rep < 20; rep++ {
						seen := make([]atomic.Int32, c.n)
						run.For(c.n, c.grain, func(lo, hi int) {
							if c.sleep > 0 {
								time.Sleep(c.sleep)
							}
							for i := lo; i < hi; i++ {
								seen[i].Add(1)
							}
						})
						for i := range seen {
							if got := seen[i].Load(); got != 1 {
								t.Errorf("rep %d: index %d visited %d times when For returned", rep, i, got)
								return
							}
						}
						if c.sleep > 0 && rep >= 2 {
							break
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkForHandoff times a For of two equal parts that each spin for a
// fixed time: with two threads it should take one part's time, not two.
func BenchmarkForHandoff(b *testing.B) {
	for _, d := range []time.Duration{0, 10 * time.Microsecond, 50 * time.Microsecond} {
		b.Run(d.String(), func(b *testing.B) {
			var r Runner
			body := func(lo, hi int) {
				for t := time.Now(); time.Since(t) < d; {
				}
			}
			for i := 0; i < b.N; i++ {
				r.For(2, 1, body)
			}
		})
	}
}

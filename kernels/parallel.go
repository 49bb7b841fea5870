package kernels

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workers is the process-wide pool that CPU kernels share. Work is handed to
// it as (body, lo, hi) triples; bodies are bound once at compile time, so a
// steady-state step allocates nothing.
//
// Hand-offs spin before they sleep. Waking a goroutine that sleeps on a
// channel puts it in the waker's run-next slot, and another core's idle
// thread takes it from there only after a sleep of its own (Go's scheduler
// naps before stealing a running P's next goroutine; on Linux the nap is
// rounded up to the timer slack, 50 µs): a product cut in two halves of
// 50 µs took 105 µs, the halves one after the other (kernels/NOTES.md). So
// a helper that has finished a job polls for the next one for a while before
// it sleeps, and a caller waits for its parts by polling (running queued
// parts itself meanwhile) before it sleeps; neither wake then goes through
// the run-next slot.
var workers = newPool(kernelThreads())

// kernelThreads is the pool's size: GOMAXPROCS, at most the CPU count. Where
// the C kernels run and GOMAXPROCS is not set in the environment, it also
// gives Go one more P than there are CPUs. A cgo call counts as a system
// call, and when every P is in one, Go's monitor thread takes a P away from
// a long GEMM and starts a thread to look for work with it, a third thread
// on two cores that then parks, and the GEMM's return must find a P again.
// With one P spare Go leaves the calls alone: the quickstart step went from
// 11.9 to 10.0 ms (softmax) and 13.1 to 12.1 ms (linear), 8 alternations
// (kernels/NOTES.md, "The pool's hand-off"). The pool still runs at most one goroutine per CPU.
func kernelThreads() int {
	n := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	if useNative && os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) == runtime.NumCPU() {
		runtime.GOMAXPROCS(runtime.NumCPU() + 1)
	}
	return n
}

// spinFor is how long an idle helper or a waiting caller polls before it
// sleeps: a few hand-offs' worth of the scheduler's nap, and short beside
// the gaps between training steps.
const spinFor = 200 * time.Microsecond

type job struct {
	body   func(lo, hi int)
	lo, hi int
	r      *Runner
}

type pool struct {
	// n is Threads(), read on every For and after every job, so atomic;
	// mu orders SetThreads calls and guards helpers.
	n    atomic.Int32
	jobs chan job
	mu   sync.Mutex
	// helpers is how many helper goroutines exist (they never exit); only
	// the first n-1 of them spin.
	helpers int
}

func newPool(n int) *pool {
	if n < 1 {
		n = 1
	}
	p := &pool{jobs: make(chan job, 64)}
	p.n.Store(int32(n))
	p.grow(n)
	return p
}

// grow starts helpers until there are n-1 of them. The caller holds mu or
// owns p alone.
func (p *pool) grow(n int) {
	for ; p.helpers < n-1; p.helpers++ {
		go p.helper(p.helpers)
	}
}

// helper runs jobs for ever: it polls for spinFor after each job, then
// sleeps on the channel. Helper i spins only while i < Threads()-1, so that
// no more goroutines spin than the kernels may use after SetThreads lowers
// the count.
func (p *pool) helper(i int) {
	for {
		j, ok := job{}, false
		if i < p.threads()-1 {
			j, ok = p.poll(spinFor)
		}
		if !ok {
			j = <-p.jobs
		}
		j.run()
	}
}

func (p *pool) threads() int { return int(p.n.Load()) }

// poll takes a queued job, trying for up to d.
func (p *pool) poll(d time.Duration) (job, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case j := <-p.jobs:
			return j, true
		default:
		}
		if i&63 == 63 {
			// Let a goroutine readied onto this P run (the run-next slot
			// is not stolen quickly), and check the clock.
			runtime.Gosched()
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > d {
				return job{}, false
			}
		}
	}
}

func (j job) run() {
	j.body(j.lo, j.hi)
	j.r.done()
}

// SetThreads limits how many goroutines the CPU kernels use (at least 1).
// Parallel trials give each worker its share of the cores this way.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	workers.grow(n)
	workers.n.Store(int32(n))
}

// Threads reports the number of goroutines CPU kernels use.
func Threads() int { return workers.threads() }

// Runner counts the outstanding parts of one executing program's loop, so
// several programs may run at once on the shared pool.
type Runner struct {
	pending atomic.Int64
	// asleep is 1 while the caller sleeps on wake (or is about to); the
	// part that ends the loop then sends on wake.
	asleep atomic.Int32
	wake   chan struct{}
	once   sync.Once
}

func (r *Runner) done() {
	if r.pending.Add(-1) == 0 && r.asleep.CompareAndSwap(1, 0) {
		r.wake <- struct{}{}
	}
}

// For runs body over [0, n) split into at most Threads() parts of at least
// grain items each. The caller runs one part itself. Bodies must not call For.
func (r *Runner) For(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	parts := workers.threads()
	if grain < 1 {
		grain = 1
	}
	if m := n / grain; m < parts {
		parts = m
	}
	if parts <= 1 {
		body(0, n)
		return
	}
	r.once.Do(func() { r.wake = make(chan struct{}, 1) })
	step := (n + parts - 1) / parts
	for lo := step; lo < n; lo += step {
		hi := min(lo+step, n)
		r.pending.Add(1)
		workers.jobs <- job{body: body, lo: lo, hi: hi, r: r}
	}
	body(0, step)
	r.wait()
}

// wait returns when every part handed out has run. It runs queued parts
// (its own or another program's) while it waits, polls for spinFor, and
// then sleeps until the last part wakes it.
func (r *Runner) wait() {
	var start time.Time
	for i := 0; r.pending.Load() != 0; i++ {
		select {
		case j := <-workers.jobs:
			j.run()
			continue
		default:
		}
		if i&63 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				break
			}
		}
	}
	if r.pending.Load() == 0 {
		return
	}
	r.asleep.Store(1)
	if r.pending.Load() == 0 && r.asleep.CompareAndSwap(1, 0) {
		return // every part ended before the last of them looked at asleep
	}
	<-r.wake
}

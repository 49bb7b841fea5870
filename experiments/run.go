package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"lab/kernels/cuda"
	"lab/store"
)

// Options control a sweep run.
type Options struct {
	DB *store.DB
	// Device is where trials train: "cpu" (or ""), "cuda", "cuda:N", or a
	// list of GPUs "cuda:0,cuda:1" that train one trial each at a time
	// (see ParseDevice).
	Device string
	// Precision is how GEMMs multiply on CUDA: TF32 (the zero value),
	// FP32 (plain float32, losses within about 1e-6 of the CPU's) or BF16
	// (bfloat16 operands, float32 sums; see cuda.Precision).
	Precision cuda.Precision
	// NewProgress makes the reporter of one trial; nil: silent. With
	// Workers > 1 several trials report at once.
	NewProgress func() Reporter
	// Resume skips trials already done in the database and continues
	// unfinished ones from their last checkpoint.
	Resume bool
	// Workers is how many trials train at once (default 1; on CUDA at
	// least one per listed GPU). On the CPU they share the kernels' worker
	// pool; on CUDA worker w trains on GPU w mod the number listed, each
	// trial on its own streams, so small models fill a GPU together.
	Workers int
	// Trials restricts the sweep to these trial indices (Slurm array tasks);
	// nil means all.
	Trials []int
	// MaxMem refuses, before anything is written, a trial estimated to
	// need more than this many bytes (see PriceSpec); 0: the machine's
	// MemAvailable.
	MaxMem int64
	// CheckpointDir holds <run id>.safetensors; default <db>.ckpt.
	CheckpointDir string
	// Context cancels the sweep: running trials save a checkpoint and are
	// marked cancelled.
	Context context.Context

	// backends, when set (tests), replace the ones Device names.
	backends []backend
	// data shares generated task data among the sweep's trials (set by Run).
	data *dataCache
}

// Outcome is one trial's ending.
type Outcome struct {
	Trial      Trial
	RunID      string
	Device     string // where it trained (the run row's device)
	Status     string // done, failed, diverged, cancelled, skipped (done earlier), not started (NotStarted)
	Results    []store.Result
	Params     int64
	StateBytes int64
	StepMS     float64
	Wall       time.Duration
	ResumedAt  int // step a resumed trial continued from (0: from scratch)
	Err        error
}

// MaxWorkers bounds Options.Workers (--workers).
const MaxWorkers = 256

// heartbeatEvery is how often a training run refreshes its heartbeat.
const heartbeatEvery = 5 * time.Second

// staleAfter is how long a running run may go without a heartbeat before a
// new `lab run` marks it interrupted (a variable for tests).
var staleAfter = 30 * time.Second

// Run prepares every trial of the spec (so bad input writes nothing), marks
// runs whose process died as interrupted, then trains the trials (Workers at
// a time), logging each to the database. A trial that fails, diverges or is
// cancelled is recorded and the sweep goes on.
func Run(spec *Spec, opt Options) ([]Outcome, error) {
	dev, err := ParseDevice(opt.Device)
	if err != nil {
		return nil, err
	}
	if opt.Workers < 0 || opt.Workers > MaxWorkers {
		return nil, &SpecError{Field: "--workers", Value: fmt.Sprint(opt.Workers), Allowed: fmt.Sprintf("an integer in [1, %d]", MaxWorkers)}
	}
	trials, err := spec.Expand()
	if err != nil {
		return nil, err
	}
	if opt.Trials != nil {
		if trials, err = SelectTrials(trials, opt.Trials); err != nil {
			return nil, err
		}
	}
	prepared := make([]*Prepared, len(trials))
	for i, t := range trials {
		if prepared[i], err = PrepareWithin(t, opt.MaxMem); err != nil {
			return nil, err
		}
	}
	if opt.Context == nil {
		opt.Context = context.Background()
	}
	if opt.CheckpointDir == "" {
		opt.CheckpointDir = opt.DB.Path() + ".ckpt"
	}
	opt.data = newDataCache()
	backends := opt.backends
	workers := max(1, opt.Workers)
	if backends == nil {
		// Every GPU is found and opened before the database is touched: a
		// missing library or device fails the command with nothing written.
		if backends, err = openBackends(dev, opt.Precision); err != nil {
			return nil, err
		}
		defer closeBackends(backends)
	}
	if dev.CUDA || opt.backends != nil {
		workers = max(workers, len(backends))
	}
	if err := checkDevices(prepared, backends, opt.MaxMem); err != nil {
		return nil, err
	}
	if _, err := opt.DB.MarkStale(staleAfter); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return runAll(prepared, backends, workers, host, opt), nil
}

// openBackends opens the devices dev lists (the CPU: one backend shared by
// every worker).
func openBackends(dev DeviceSpec, prec cuda.Precision) ([]backend, error) {
	if !dev.CUDA {
		return []backend{cpuBackend{}}, nil
	}
	infos, err := dev.Probe()
	if err != nil {
		return nil, err
	}
	var bs []backend
	for _, info := range infos {
		b, err := openCUDA(info, prec)
		if err != nil {
			closeBackends(bs)
			return nil, err
		}
		bs = append(bs, b)
	}
	return bs, nil
}

func closeBackends(bs []backend) {
	for _, b := range bs {
		b.close()
	}
}

// SelectTrials returns the trials at the given indices of a sweep, in the
// order given, or a *SpecError naming the first index outside it. Callers
// that open a database check their indices with it first, so an index past
// the grid writes nothing.
func SelectTrials(trials []Trial, idx []int) ([]Trial, error) {
	var keep []Trial
	seen := map[int]bool{}
	for _, i := range idx {
		if i < 0 || i >= len(trials) {
			return nil, &SpecError{Field: "--trial", Value: fmt.Sprint(i), Allowed: fmt.Sprintf("the spec has trials 0..%d", len(trials)-1)}
		}
		if seen[i] {
			return nil, &SpecError{Field: "--trial", Value: fmt.Sprint(i), Allowed: "each index at most once (this one is given twice)"}
		}
		seen[i] = true
		keep = append(keep, trials[i])
	}
	return keep, nil
}

// runAll trains the trials on workers goroutines, worker w on backend
// w mod len(backends), each taking the next trial in order. A worker whose
// device is left unusable by a failed trial (a GPU fault) stops; the
// others take the remaining trials. Trials no worker could take are
// reported failed (with no run row: --resume trains them later), or
// cancelled when the context ended.
func runAll(prepared []*Prepared, backends []backend, workers int, host string, opt Options) []Outcome {
	outs := make([]Outcome, len(prepared))
	var mu sync.Mutex
	next := 0
	var lost []string
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(prepared) || opt.Context.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		b := backends[w%len(backends)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				outs[i] = runTrial(prepared[i], i, len(prepared), host, b, opt)
				if outs[i].Status != "failed" {
					continue
				}
				if err := b.healthy(); err != nil {
					mu.Lock()
					lost = append(lost, err.Error())
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := next; i < len(prepared); i++ {
		if opt.Context.Err() != nil {
			outs[i] = Outcome{Trial: prepared[i].Trial, Status: NotStarted, Err: opt.Context.Err()}
			continue
		}
		outs[i] = Outcome{Trial: prepared[i].Trial, Status: "failed",
			Err: fmt.Errorf("not run: no device left (%s)", strings.Join(lost, "; "))}
	}
	return outs
}

// runTrial finds or creates the trial's run row and trains it.
func runTrial(p *Prepared, idx, n int, host string, b backend, opt Options) Outcome {
	t := p.Trial
	s := t.Spec
	nr := store.NewRun{
		SpecName: s.Name, TrialIndex: t.Index, TrialName: t.Name, TrialKey: t.Key(), Config: s.JSON(),
		Device: b.label(), Host: host, Params: p.Model.ParamCount(), StateBytes: p.Model.StateBytes(p.Train.SeqLen()),
		FLOPsPerToken: p.Model.FLOPs(p.Train.SeqLen()),
	}
	if opt.Resume {
		// One write transaction decides who trains the trial, so processes
		// resuming one sweep at once train each trial exactly once; a run
		// whose owner on this host is gone is taken over now, under its id.
		self := store.Self()
		self.Host = host
		c, err := opt.DB.ClaimTrial(nr, self, staleAfter)
		// Another host's owner is alive only as far as its heartbeat says:
		// a requeued Slurm task on a new node waits for its predecessor's
		// heartbeat to go stale, then takes the run over.
		for wait := time.Now().Add(staleAfter + heartbeatEvery); err == nil && c.Busy && c.Remote && time.Now().Before(wait); {
			select {
			case <-opt.Context.Done():
				return Outcome{Trial: t, Status: NotStarted, Err: opt.Context.Err()}
			case <-time.After(time.Second):
			}
			c, err = opt.DB.ClaimTrial(nr, self, staleAfter)
		}
		if err != nil {
			return Outcome{Trial: t, Status: "failed", Err: err}
		}
		switch {
		case c.Done != nil:
			r := c.Done
			return Outcome{Trial: t, RunID: r.ID, Device: r.Device, Status: "skipped", Results: r.Results, Params: r.Params, StateBytes: r.StateBytes, StepMS: r.StepTimeMS}
		case c.Busy:
			return Outcome{Trial: t, Status: "skipped", Err: fmt.Errorf("another live process is training it")}
		case c.Reopened:
			ckpt := filepath.Join(opt.CheckpointDir, c.RunID+".safetensors")
			if _, err := os.Stat(ckpt); err != nil {
				ckpt = ""
			}
			return train(p, c.RunID, ckpt, idx, n, b, opt)
		}
		return train(p, c.RunID, "", idx, n, b, opt)
	}
	id, err := opt.DB.CreateRun(nr)
	if err != nil {
		return Outcome{Trial: t, Status: "failed", Err: err}
	}
	return train(p, id, "", idx, n, b, opt)
}

// NotStarted is the status of a trial the sweep never began because it was
// cancelled first: it has no run row and no run id (--resume trains it).
const NotStarted = "not started"

// Summary counts outcomes by status, e.g. "3 done, 1 diverged".
func Summary(outs []Outcome) string {
	order := []string{"done", "skipped", "failed", "diverged", "interrupted", "cancelled", NotStarted}
	count := map[string]int{}
	for _, o := range outs {
		count[o.Status]++
	}
	s := fmt.Sprintf("%d trials:", len(outs))
	for _, k := range order {
		if count[k] > 0 {
			s += fmt.Sprintf(" %d %s", count[k], k)
		}
	}
	return s
}

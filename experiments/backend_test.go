package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"lab/kernels"
	"lab/kernels/cuda"
	"lab/store"
)

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // canonical form; "" means an error
		idx  []int
	}{
		{"", "cpu", nil},
		{"cpu", "cpu", nil},
		{" cpu ", "cpu", nil},
		{"cuda", "cuda:0", []int{0}},
		{"cuda:0", "cuda:0", []int{0}},
		{"cuda:3", "cuda:3", []int{3}},
		{"cuda:1,cuda:0", "cuda:1,cuda:0", []int{1, 0}},
		{"cuda:0, cuda:2", "cuda:0,cuda:2", []int{0, 2}},
		{"gpu", "", nil},
		{"CUDA", "", nil},
		{"cuda:", "", nil},
		{"cuda:x", "", nil},
		{"cuda:-1", "", nil},
		{"cuda:+1", "", nil},
		{"cuda:1.5", "", nil},
		{"cuda:0,cuda:0", "", nil},
		{"cuda,cuda:0", "", nil},
		{"cuda:0,", "", nil},
		{"cpu,cuda:0", "", nil},
		{"cuda:0;cuda:1", "", nil},
	} {
		d, err := ParseDevice(c.in)
		if c.want == "" {
			var se *SpecError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "--device") || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseDevice(%q) = %v, %v: want a one-line *SpecError naming --device", c.in, d, err)
			}
			continue
		}
		if err != nil || d.String() != c.want || fmt.Sprint(d.Indices) != fmt.Sprint(c.idx) {
			t.Errorf("ParseDevice(%q) = %v %v, %v; want %s %v", c.in, d, d.Indices, err, c.want, c.idx)
		}
	}
}

func TestDeviceLabel(t *testing.T) {
	info := cuda.DeviceInfo{Index: 1, Name: "NVIDIA H100 80GB HBM3"}
	if got := DeviceLabel(info, cuda.TF32); got != "cuda:1 (NVIDIA H100 80GB HBM3)" {
		t.Errorf("label %q", got)
	}
	if got := DeviceLabel(info, cuda.FP32); got != "cuda:1 (NVIDIA H100 80GB HBM3, fp32)" {
		t.Errorf("label %q", got)
	}
	if got := DeviceLabel(info, cuda.BF16); got != "cuda:1 (NVIDIA H100 80GB HBM3, bf16)" {
		t.Errorf("label %q", got)
	}
}

// Without CUDA, Probe names the library it could not load and touches
// nothing; Run fails before the database is written to.
func TestCUDAWithoutGPU(t *testing.T) {
	if _, err := cuda.Devices(); err == nil {
		t.Skip("a CUDA device is present")
	}
	d, _ := ParseDevice("cuda")
	if _, err := d.Probe(); err == nil || !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("Probe: %v, want the missing libcuda.so.1 named", err)
	}
	db := openDB(t, filepath.Join(t.TempDir(), "lab.sqlite"))
	o := opts(t, db)
	o.Device = "cuda:0"
	if _, err := Run(tinySpec(t), o); err == nil || !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("Run: %v", err)
	}
	if runs, _ := db.Runs(store.Filter{}); len(runs) != 0 {
		t.Fatalf("%d runs written without a device", len(runs))
	}
}

// deviceLike is a CPU backend that behaves as a GPU does towards the
// trainer: each program keeps its own copy of the weights (and the
// trainer of the AdamW moments), and the shared host tensors hold NaN
// whenever a program is not running. A trainer that forgot to pull weights
// before a checkpoint or an evaluation, or to push them after a restore,
// would save or score NaN. It can also fail like a device: at a given
// training step of a given trial, once (an error the device survives) or
// for good (a lost context: every later call fails).
type deviceLike struct {
	name   string
	failN  int32 // the failN-th trial this backend compiles fails at step failAt; 0 never
	failAt int
	sticky bool
	broken atomic.Bool
	trials atomic.Int32 // trials compiled so far
}

var errFault = errors.New("cuda: cuGraphLaunch: CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered")

func (b *deviceLike) label() string { return b.name }
func (b *deviceLike) close() error  { return nil }
func (b *deviceLike) healthy() error {
	if b.broken.Load() {
		return fmt.Errorf("%s is unusable after a fault: %w", b.name, errFault)
	}
	return nil
}

// weights is a program's private copy of the parameters.
type weights struct {
	params []*kernels.Param
	own    [][]float32
}

func newWeights(params []*kernels.Param) *weights {
	w := &weights{params: params}
	for _, p := range params {
		w.own = append(w.own, append([]float32(nil), p.Value.Data...))
	}
	return w
}

// enter puts the private weights into the host tensors for a run; leave
// takes them back and poisons the host tensors.
func (w *weights) enter() {
	for i, p := range w.params {
		copy(p.Value.Data, w.own[i])
	}
}

func (w *weights) leave() {
	for i, p := range w.params {
		copy(w.own[i], p.Value.Data)
		for j := range p.Value.Data {
			p.Value.Data[j] = float32(math.NaN())
		}
	}
}

func (w *weights) pull() {
	for i, p := range w.params {
		copy(p.Value.Data, w.own[i])
	}
}

func (w *weights) push() {
	for i, p := range w.params {
		copy(w.own[i], p.Value.Data)
	}
}

func graphParams(g *kernels.Graph) []*kernels.Param {
	var ps []*kernels.Param
	seen := map[*kernels.Param]bool{}
	for _, n := range g.Nodes {
		if p, ok := n.IsParam(); ok && !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

func (b *deviceLike) compileEval(g *kernels.Graph, outputs ...*kernels.Node) (evalProgram, error) {
	if b.broken.Load() {
		return nil, errFault
	}
	p, err := cpuBackend{}.compileEval(g, outputs...)
	if err != nil {
		return nil, err
	}
	return &likeEval{p, newWeights(graphParams(g))}, nil
}

type likeEval struct {
	evalProgram
	w *weights
}

func (e *likeEval) run() error {
	e.w.enter()
	defer e.w.leave()
	return e.evalProgram.run()
}

func (e *likeEval) pushParams() error { e.w.push(); return nil }

func (b *deviceLike) compileTrain(g *kernels.Graph, loss *kernels.Node, params []*kernels.Param, grads []*kernels.Node, cfg kernels.AdamW) (trainProgram, error) {
	if b.broken.Load() {
		return nil, errFault
	}
	p, err := cpuBackend{}.compileTrain(g, loss, params, grads, cfg)
	if err != nil {
		return nil, err
	}
	w := newWeights(params)
	w.leave()
	return &likeTrain{trainProgram: p, b: b, w: w, n: b.trials.Add(1)}, nil
}

type likeTrain struct {
	trainProgram
	b     *deviceLike
	w     *weights
	n     int32 // which trial of the backend
	steps int
}

func (t *likeTrain) train() (float64, error) {
	if t.b.broken.Load() {
		return 0, errFault
	}
	t.steps++
	if t.n == t.b.failN && t.steps == t.b.failAt {
		t.b.broken.Store(t.b.sticky)
		return 0, fmt.Errorf("%s: training step: %w", t.b.name, errFault)
	}
	t.w.enter()
	defer t.w.leave()
	return t.trainProgram.train()
}

func (t *likeTrain) pullParams() error { t.w.pull(); return nil }
func (t *likeTrain) pushParams() error { t.w.push(); return nil }

// optState returns copies, as a device's does.
func (t *likeTrain) optState() (m, v [][]float32, steps int, err error) {
	cm, cv, steps, _ := t.trainProgram.optState()
	for i := range cm {
		m = append(m, append([]float32(nil), cm[i]...))
		v = append(v, append([]float32(nil), cv[i]...))
	}
	return m, v, steps, nil
}

const threeTrials = `name: three
task: {name: mqar, vocab: 32, seq_len: 16, kv_pairs: 2, train_examples: 64}
eval:
  - {seq_len: 16, kv_pairs: 2, examples: 40}
model: {d_model: 8, heads: 2, layers: 1, mixer: softmax}
train: {batch: 8, steps: 30, eval_every: 10, checkpoint_every: 5}
sweep:
  seed: [1, 2, 3]
`

func sweepSpec(t *testing.T, src string) *Spec {
	t.Helper()
	s, err := Parse([]byte(src), "three.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A backend whose weights live apart from the host tensors trains, scores
// and checkpoints exactly as the CPU does; a run resumed on it from a CPU
// checkpoint, and one resumed on the CPU from its checkpoint, end with the
// CPU's numbers.
func TestDeviceLikeBackendMatchesCPU(t *testing.T) {
	want := map[string]store.Result{}
	db := openDB(t, filepath.Join(t.TempDir(), "cpu.sqlite"))
	outs, err := Run(sweepSpec(t, threeTrials), opts(t, db))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Status != "done" || o.Device != "cpu" {
			t.Fatalf("cpu: %+v", o)
		}
		want[o.Trial.Name] = o.Results[0]
	}
	check := func(what string, outs []Outcome) {
		t.Helper()
		for _, o := range outs {
			w := want[o.Trial.Name]
			if o.Status != "done" || o.Results[0].Accuracy != w.Accuracy || o.Results[0].Loss != w.Loss {
				t.Fatalf("%s: trial %s: %s %v/%v, cpu %v/%v (%v)", what, o.Trial.Name, o.Status, o.Results[0].Accuracy, o.Results[0].Loss, w.Accuracy, w.Loss, o.Err)
			}
		}
	}
	dev := &deviceLike{name: "cuda:0 (fake)"}
	db2 := openDB(t, filepath.Join(t.TempDir(), "dev.sqlite"))
	o := opts(t, db2)
	o.backends = []backend{dev}
	outs, err = Run(sweepSpec(t, threeTrials), o)
	if err != nil {
		t.Fatal(err)
	}
	check("device-like", outs)
	runs, _ := db2.Runs(store.Filter{})
	for _, r := range runs {
		if r.Device != "cuda:0 (fake)" {
			t.Fatalf("run row device %q", r.Device)
		}
	}
	// Cancel at step 17 on one backend, resume on the other.
	for _, c := range []struct {
		name          string
		first, second []backend
	}{{"cpu then device", []backend{cpuBackend{}}, []backend{&deviceLike{name: "d"}}},
		{"device then cpu", []backend{&deviceLike{name: "d"}}, []backend{cpuBackend{}}}} {
		s := sweepSpec(t, strings.Replace(threeTrials, "seed: [1, 2, 3]", "seed: [2]", 1))
		db3 := openDB(t, filepath.Join(t.TempDir(), "x.sqlite"))
		ctx, cancel := context.WithCancel(context.Background())
		o := opts(t, db3)
		o.Context, o.backends = ctx, c.first
		o.NewProgress = func() Reporter { return cancelAt{17, cancel} }
		if outs, err := Run(s, o); err != nil || outs[0].Status != "cancelled" {
			t.Fatalf("%s: %v %+v", c.name, err, outs)
		}
		o = opts(t, db3)
		o.Resume, o.backends = true, c.second
		outs, err := Run(s, o)
		if err != nil || outs[0].ResumedAt != 17 {
			t.Fatalf("%s: resume: %v %+v", c.name, err, outs)
		}
		check(c.name, outs)
	}
}

// Faults: a trial whose step fails is marked failed in the database with
// the error; the other trials and the database are intact. After a fault
// the device survives, its worker goes on; after one that loses the
// device, the worker stops and the other device takes the remaining
// trials, or, with no device left, they are reported not run (no row, so
// --resume trains them later).
func TestDeviceFaults(t *testing.T) {
	for _, c := range []struct {
		name    string
		sticky  bool
		devices int
		done    int // trials done
		rows    int // run rows written
	}{
		{"device survives", false, 1, 2, 3},
		{"device lost, one device", true, 1, 1, 2},
		{"device lost, another device goes on", true, 2, 2, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "lab.sqlite"))
			// One device: its second trial (seed=2) fails at step 7. Two
			// devices: the first trial device 0 takes fails.
			bad := &deviceLike{name: "cuda:0 (fake)", failN: 2, failAt: 7, sticky: c.sticky}
			bs := []backend{bad}
			if c.devices == 2 {
				bad.failN = 1
				bs = append(bs, &deviceLike{name: "cuda:1 (fake)"})
			}
			o := opts(t, db)
			o.backends = bs
			spec := threeTrials
			outs, err := Run(sweepSpec(t, spec), o)
			if err != nil {
				t.Fatal(err)
			}
			done, failed := 0, 0
			for _, o := range outs {
				switch o.Status {
				case "done":
					done++
				case "failed":
					failed++
					if !strings.Contains(o.Err.Error(), "CUDA_ERROR_ILLEGAL_ADDRESS") {
						t.Errorf("trial %s failed with %v, want the fault named", o.Trial.Name, o.Err)
					}
				}
			}
			if done != c.done || failed != 3-c.done {
				t.Fatalf("%d done, %d failed; want %d done: %+v", done, failed, c.done, outs)
			}
			runs, err := db.Runs(store.Filter{})
			if err != nil || len(runs) != c.rows {
				t.Fatalf("%d run rows (%v), want %d", len(runs), err, c.rows)
			}
			for _, r := range runs {
				if r.Status == "failed" && !strings.Contains(r.Error, "CUDA_ERROR_ILLEGAL_ADDRESS") {
					t.Fatalf("failed run's stored error %q does not name the fault", r.Error)
				}
				if r.Status != "failed" && r.Status != "done" {
					t.Fatalf("run %s status %s", r.TrialName, r.Status)
				}
			}
			if !c.sticky {
				return
			}
			// --resume on a healthy device trains what is left, from the
			// failed trial's checkpoint.
			o = opts(t, db)
			o.Resume, o.backends = true, []backend{&deviceLike{name: "cuda:0 (fake)"}}
			outs, err = Run(sweepSpec(t, spec), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				if o.Status != "done" && o.Status != "skipped" {
					t.Fatalf("resume: %+v", o)
				}
			}
		})
	}
}

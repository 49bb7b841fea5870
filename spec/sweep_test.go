package spec

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func expand(t *testing.T, s *Spec) []Trial {
	t.Helper()
	trials, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return trials
}

func TestExpandNoSweep(t *testing.T) {
	s := mustLoad(t, "testdata/full.yaml")
	trials := expand(t, s)
	if len(trials) != 1 || trials[0].Name != "base" || trials[0].Index != 0 || trials[0].Overrides != nil {
		t.Fatalf("%+v", trials)
	}
	// The trial is the spec itself.
	got := trials[0].Spec
	if string(got.JSON()) != string(s.JSON()) || got.Model.Stack.String() != s.Model.Stack.String() || len(got.Model.Stack) != 4 {
		t.Errorf("trial differs from spec:\n%s\n%s", got.JSON(), s.JSON())
	}
}

func TestExpandGrid(t *testing.T) {
	s := mustLoad(t, "testdata/grid.yaml")
	if len(s.Sweep) != 2 || s.Sweep[0].Key != "model.mixer" || s.Sweep[1].Key != "train.lr" || s.Sweep[1].Line != 8 {
		t.Fatalf("sweep %+v", s.Sweep)
	}
	trials := expand(t, s)
	want := []struct {
		name  string
		mixer string
		lr    float64
	}{
		{"mixer=softmax,lr=0.001", "softmax", 1e-3},
		{"mixer=softmax,lr=0.003", "softmax", 3e-3},
		{"mixer=linear(feature=elu1),lr=0.001", "linear(feature=elu1)", 1e-3},
		{"mixer=linear(feature=elu1),lr=0.003", "linear(feature=elu1)", 3e-3},
	}
	if len(trials) != len(want) {
		t.Fatalf("%d trials, want %d", len(trials), len(want))
	}
	keys := map[string]bool{}
	for i, tr := range trials {
		w := want[i]
		if tr.Index != i || tr.Name != w.name || tr.Spec.Model.Mixer != w.mixer || tr.Spec.Train.LR != w.lr {
			t.Errorf("trial %d: %d %q mixer %q lr %g, want %+v", i, tr.Index, tr.Name, tr.Spec.Model.Mixer, tr.Spec.Train.LR, w)
		}
		ov := []Override{{"model.mixer", w.mixer}, {"train.lr", w.lr}}
		if !reflect.DeepEqual(tr.Overrides, ov) {
			t.Errorf("trial %d overrides %+v, want %+v", i, tr.Overrides, ov)
		}
		if tr.Spec.Sweep != nil || len(tr.Spec.Model.Stack) != 2 || tr.Spec.Model.Heads != 2 || tr.Spec.Train.Batch != 64 {
			t.Errorf("trial %d spec %+v", i, tr.Spec)
		}
		keys[tr.Key()] = true
	}
	if len(keys) != 4 {
		t.Errorf("%d distinct keys for 4 trials", len(keys))
	}
}

func TestExpandPlacement(t *testing.T) {
	s := mustLoad(t, "testdata/placement.yaml")
	if p := s.Sweep[0].Place; p == nil || *p != (Placement{Place: "softmax", Among: "gla", K: 1, Layers: 4}) {
		t.Fatalf("placement %+v", s.Sweep[0])
	}
	trials := expand(t, s)
	if len(trials) != 4*2 {
		t.Fatalf("%d trials, want C(4,1)*2 = 8", len(trials))
	}
	mixes := []string{"softmax, gla*3", "gla, softmax, gla*2", "gla*2, softmax, gla", "gla*3, softmax"}
	for i, tr := range trials {
		mix, seed := mixes[i/2], uint64(i%2+1)
		name := fmt.Sprintf("mixer=%q,seed=%d", mix, seed)
		if tr.Name != name || tr.Spec.Model.Mixer != mix || tr.Spec.Model.Layers != 4 || tr.Spec.Seed != seed || len(tr.Spec.Model.Stack) != 4 {
			t.Errorf("trial %d: %q mixer %q layers %d seed %d, want %s", i, tr.Name, tr.Spec.Model.Mixer, tr.Spec.Model.Layers, tr.Spec.Seed, name)
		}
		ov := []Override{{"model.mixer", mix}, {"model.layers", 4}, {"seed", int(seed)}}
		if !reflect.DeepEqual(tr.Overrides, ov) {
			t.Errorf("trial %d overrides %+v", i, tr.Overrides)
		}
	}
	for _, c := range []struct{ k, layers, n int }{{2, 4, 6}, {3, 6, 20}, {6, 6, 1}} {
		src := fmt.Sprintf("name: p\ntask: {name: mqar}\nmodel: {d_model: 8, mixer: gla}\ntrain: {steps: 10}\nsweep:\n  model.mixer: {place: softmax, among: gla, k: %d, layers: %d}\n", c.k, c.layers)
		s, err := Parse([]byte(src), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(expand(t, s)); n != c.n {
			t.Errorf("k=%d layers=%d: %d trials, want C(%d,%d) = %d", c.k, c.layers, n, c.layers, c.k, c.n)
		}
	}
}

// TestExpandDerivedDefaults checks that defaults computed from other fields
// follow the swept values.
func TestExpandDerivedDefaults(t *testing.T) {
	src := `name: d
task: {name: mqar, vocab: 64, seq_len: 64, kv_pairs: 4}
model: {d_model: 16, mixer: softmax}
train: {steps: 100, eval_examples: 50}
sweep:
  train.steps: [100, 2000]
  task.seq_len: [64, 128]
  train.eval_examples: [50, 70]
`
	s, err := Parse([]byte(src), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range expand(t, s) {
		sp := tr.Spec
		if sp.Train.EvalEvery != sp.Train.Steps/10 {
			t.Errorf("%s: eval_every %d", tr.Name, sp.Train.EvalEvery)
		}
		wantName := fmt.Sprintf("L%g_kv4", sp.Task.Params["seq_len"])
		if len(sp.Eval) != 1 || sp.Eval[0].Name != wantName || sp.Eval[0].Examples != sp.Train.EvalExamples {
			t.Errorf("%s: eval %+v, want one set %s of %d", tr.Name, sp.Eval, wantName, sp.Train.EvalExamples)
		}
	}
	// An explicit eval_every stays as written.
	s, err = Parse([]byte(strings.Replace(src, "eval_examples: 50}", "eval_examples: 50, eval_every: 0}", 1)), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range expand(t, s) {
		if tr.Spec.Train.EvalEvery != 0 {
			t.Errorf("%s: eval_every %d, want 0 as written", tr.Name, tr.Spec.Train.EvalEvery)
		}
	}
}

func TestExpandTaskParam(t *testing.T) {
	src := "name: p\ntask: {name: mqar, vocab: 64}\nmodel: {d_model: 8, mixer: gla}\ntrain: {steps: 10}\nsweep:\n  task.kv_pairs: [2, 4]\n  task.train_examples: [100]\n"
	s, err := Parse([]byte(src), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := expand(t, s)
	if len(trials) != 2 || trials[1].Spec.Task.Params["kv_pairs"] != 4 || trials[1].Spec.Task.TrainExamples != 100 ||
		trials[1].Spec.Task.Params["vocab"] != 64 || trials[1].Name != "kv_pairs=4,train_examples=100" {
		t.Fatalf("%+v", trials)
	}
	if _, ok := s.Task.Params["kv_pairs"]; ok {
		t.Error("expansion changed the base spec")
	}
}

func TestExpandLabels(t *testing.T) {
	src := "name: p\ntask: {name: mqar, layers: 3}\nmodel: {d_model: 8, mixer: gla}\ntrain: {steps: 10}\nsweep:\n  task.layers: [1]\n  model.layers: [2]\n  model.mixer: [\"gla, softmax\"]\n"
	s, err := Parse([]byte(src), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tr := expand(t, s); tr[0].Name != `task.layers=1,model.layers=2,mixer="gla, softmax"` {
		t.Fatalf("name %q", tr[0].Name)
	}
}

func TestKeysStable(t *testing.T) {
	a := expand(t, mustLoad(t, "testdata/grid.yaml"))
	b := expand(t, mustLoad(t, "testdata/grid.yaml"))
	for i := range a {
		if a[i].Key() != b[i].Key() || len(a[i].Key()) != 32 {
			t.Errorf("trial %d: keys %s and %s", i, a[i].Key(), b[i].Key())
		}
	}
	// The key hashes the configuration, not the index, name or formatting.
	x, _ := Parse([]byte("name: g\ntask: {name: mqar}\nmodel: {d_model: 8, mixer: gla}\ntrain: {steps: 10}\nsweep:\n  seed: [5]\n  model.mixer: [\"gla,gla\"]\n"), "x")
	y, _ := Parse([]byte("name: g\nseed: 5\ntask: {name: mqar}\nmodel: {d_model: 8, mixer: gla*2}\ntrain: {steps: 10, batch: 64}\n"), "y")
	if x == nil || y == nil {
		t.Fatal("parse failed")
	}
	kx, ky := expand(t, x)[0], expand(t, y)[0]
	if kx.Key() != ky.Key() {
		t.Errorf("same config, keys %s (%s) and %s (%s)", kx.Key(), kx.Spec.JSON(), ky.Key(), ky.Spec.JSON())
	}
	// A golden key: changing the canonical JSON changes every stored key.
	if k := a[0].Key(); k != goldenGridKey {
		t.Errorf("grid trial 0 key %s, was %s: the canonical JSON changed (breaks resume of stored runs)", k, goldenGridKey)
	}
}

const goldenGridKey = "664280196734c087d73eccdf244f6df0"

func TestExpandAfterEdit(t *testing.T) {
	s := mustLoad(t, "testdata/minimal.yaml")
	s.Train.Steps = 50
	s.Model.Layers = 3
	tr := expand(t, s)[0].Spec
	if tr.Train.Steps != 50 || tr.Train.EvalEvery != 5 || len(tr.Model.Stack) != 3 {
		t.Errorf("edited spec expands to %+v", tr)
	}
	s.Train.EvalEvery = 7
	if tr := expand(t, s)[0].Spec; tr.Train.EvalEvery != 7 {
		t.Errorf("explicit eval_every %d, want 7", tr.Train.EvalEvery)
	}
}

func TestExpandBuiltInGo(t *testing.T) {
	s := &Spec{
		Name:  "go",
		Task:  TaskSpec{Name: "mqar", Params: map[string]float64{"seq_len": 32, "kv_pairs": 2}},
		Model: ModelSpec{DModel: 16, Mixer: "gla,gla"},
		Train: TrainSpec{Steps: 20, Beta1: 0.9, Beta2: 0.99},
		Sweep: []SweepAxis{{Key: "train.lr", Values: []any{0.01, 0.02}}, {Key: "model.mixer", Place: &Placement{Place: "softmax", Among: "gla", K: 1, Layers: 2}}},
	}
	trials := expand(t, s)
	if len(trials) != 4 {
		t.Fatalf("%d trials", len(trials))
	}
	sp := trials[3].Spec
	if sp.Train.LR != 0.02 || sp.Model.Mixer != "gla, softmax" || sp.Model.Heads != 1 || sp.Model.Channel != "mlp" || sp.Train.Batch != 64 ||
		sp.Task.TrainExamples != 20000 || len(sp.Eval) != 1 || sp.Eval[0].Name != "L32_kv2" || sp.Train.EvalEvery != 0 || sp.Train.Clip != 0 {
		t.Errorf("%+v", sp)
	}
	s.Sweep = []SweepAxis{{Key: "model.mixr", Values: []any{"gla"}}}
	_, err := s.Expand()
	checkErr(t, err, "sweep.model.mixr: unknown field")
}

func TestSweepErrors(t *testing.T) {
	const head = "name: s\ntask: {name: mqar, seq_len: 64}\nmodel: {d_model: 64, heads: 2, mixer: softmax}\ntrain: {steps: 10}\n"
	for _, c := range []struct {
		sweep string
		want  []string
	}{
		{"sweep: [a]", []string{"sweep = [a]: must be a mapping"}},
		{"sweep:\n  model.mixr: [softmax, gla]", []string{"s.yaml: sweep.model.mixr: unknown field; allowed: d_model, heads, layers, mixer", "(line 6)"}},
		{"sweep:\n  trian.lr: [1]", []string{"sweep.trian.lr: has no fields"}},
		{"sweep:\n  foo: [1]", []string{"sweep.foo: unknown field; allowed: name, seed, task"}},
		{"sweep:\n  train.lr: [1.0e-3, fast]", []string{`s.yaml: sweep.train.lr = "fast": must be a number (line 6)`}},
		{"sweep:\n  train.batch: [0]", []string{"sweep.train.batch = 0: must be a positive integer"}},
		{"sweep:\n  model.heads: [3]", []string{"sweep.model.heads = 3: must divide model.d_model (64)"}},
		{"sweep:\n  model.d_model: [33]", []string{"s.yaml: trial d_model=33: model.heads = 2: must divide model.d_model (33)"}},
		{"sweep:\n  model.mixer: [gla, \"gla*\"]", []string{`sweep.model.mixer = "gla*": column 5: expected a repeat count, got the end`}},
		{"sweep:\n  model.mixer: [\"gla, softmax, gla\"]", []string{`sweep.model.mixer = "gla, softmax, gla": has 3 layers but model.layers is 2`}},
		{"sweep:\n  model.mixer: [\"gla*2\", \"gla, gla\"]", []string{"sweep: trials 0 (mixer=gla*2) and 1 (mixer=gla*2) are the same configuration"}},
		{"sweep:\n  task.seq_len: [long]", []string{`sweep.task.seq_len = "long": must be a number`}},
		{"sweep:\n  task.Seq: [1]", []string{"sweep.task.Seq: is not a parameter name"}},
		{"sweep:\n  eval: [1]", []string{"sweep.eval: eval sets cannot be swept"}},
		{"sweep:\n  eval.seq_len: [1]", []string{"sweep.eval.seq_len: eval sets cannot be swept"}},
		{"sweep:\n  sweep.x: [1]", []string{"sweep.sweep.x: the sweep cannot be swept"}},
		{"sweep:\n  model: [{d_model: 8}]", []string{"sweep.model: must name one field of model"}},
		{"sweep:\n  model.mixer.x: [1]", []string{"sweep.model.mixer.x: must name one field of model"}},
		{"sweep:\n  seed.x: [1]", []string{"sweep.seed.x: has no fields"}},
		{"sweep:\n  'model..mixer': [1]", []string{"sweep.model..mixer: is not a dotted key"}},
		{"sweep:\n  train.lr: []", []string{"sweep.train.lr = []: must list at least one value"}},
		{"sweep:\n  train.lr: 0.1", []string{"sweep.train.lr = 0.1: allowed: a list of values"}},
		{"sweep:\n  model.mixer: gla", []string{`sweep.model.mixer = "gla": allowed: a list of values, or {place, among, k, layers}`}},
		{"sweep:\n  train.lr: [1]\n  train.lr: [2]", []string{"sweep.train.lr: given twice (lines 6 and 7)"}},
		{"sweep:\n  train.lr: {place: softmax, among: gla, k: 1, layers: 4}", []string{"sweep.train.lr = {place: softmax, among: gla, k: 1, layers: 4}: must be a list of values"}},
		{"sweep:\n  model.mixer: {place: softmax, among: gla, k: 5, layers: 4}", []string{"sweep.model.mixer.k = 5: allowed: an integer in [1, 4]"}},
		{"sweep:\n  model.mixer: {place: softmax, among: gla, k: 1, layers: 0}", []string{"sweep.model.mixer.layers = 0"}},
		{"sweep:\n  model.mixer: {place: softmax, among: gla, layers: 4}", []string{"sweep.model.mixer.k: required"}},
		{"sweep:\n  model.mixer: {place: softmax, among: gla, k: 1, layers: 4, n: 2}", []string{"sweep.model.mixer.n: unknown field; allowed: place, among, k, layers"}},
		{"sweep:\n  model.mixer: {place: 'soft max', among: gla, k: 1, layers: 4}", []string{`sweep.model.mixer.place = "soft max": column 6: expected`}},
		{"sweep:\n  model.mixer: {place: softmax, among: 'gla, gla', k: 1, layers: 4}", []string{`sweep.model.mixer.among = "gla, gla": allowed: a single layer`}},
		{"sweep:\n  model.mixer: {place: softmax, among: gla, k: 1, layers: 4}\n  model.layers: [4]", []string{"sweep.model.layers: cannot be swept beside a placement"}},
		{"sweep:\n  seed: [" + strings.Repeat("1, ", 100) + "1]\n  train.lr: [" + strings.Repeat("1, ", 100) + "1]", []string{"sweep: the grid has more than 10000 trials"}},
	} {
		_, err := Parse([]byte(head+c.sweep+"\n"), "s.yaml")
		checkErr(t, err, c.want...)
	}
	// The file form of the unknown-key error.
	_, err := Load("testdata/unknown_sweep_key.yaml")
	checkErr(t, err, "testdata/unknown_sweep_key.yaml: sweep.model.mixr: unknown field", "(line 7)")
}

// TestBaseSkipsSweptFields checks that fields the sweep sets need not be
// valid (or present) in the base spec.
func TestBaseSkipsSweptFields(t *testing.T) {
	src := "name: s\ntask: {name: mqar}\nmodel: {d_model: 64, heads: 3}\ntrain: {steps: 10}\nsweep:\n  model.mixer: [gla, softmax]\n  model.heads: [1, 2]\n"
	s, err := Parse([]byte(src), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(expand(t, s)); n != 4 {
		t.Fatalf("%d trials", n)
	}
	src = "name: s\ntask: {name: mqar}\nmodel: {d_model: 64, mixer: 'gla, softmax'}\ntrain: {steps: 10}\nsweep:\n  model.mixer: {place: softmax, among: gla, k: 1, layers: 3}\n"
	if _, err := Parse([]byte(src), "s.yaml"); err != nil {
		t.Fatal(err)
	}
}

// A joint axis moves its keys together: each row is one value of the grid,
// crossed with the other axes; trial names and overrides show every key.
func TestExpandJoint(t *testing.T) {
	src := `name: z
task: {name: mqar, vocab: 256}
model: {d_model: 64, mixer: softmax}
train: {epochs: 1}
sweep:
  setting:
    - {task.seq_len: 64, task.kv_pairs: 4, train.batch: 64}
    - {task.seq_len: 128, task.kv_pairs: 8, train.batch: 32}
  train.lr: [1.0e-3, 1.0e-2]
`
	s, err := Parse([]byte(src), "z.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := expand(t, s)
	want := []struct {
		name      string
		l, kv, b  float64
		batch, st int
	}{
		{"seq_len=64,kv_pairs=4,batch=64,lr=0.001", 64, 4, 64, 64, 313},
		{"seq_len=64,kv_pairs=4,batch=64,lr=0.01", 64, 4, 64, 64, 313},
		{"seq_len=128,kv_pairs=8,batch=32,lr=0.001", 128, 8, 32, 32, 625},
		{"seq_len=128,kv_pairs=8,batch=32,lr=0.01", 128, 8, 32, 32, 625},
	}
	if len(trials) != len(want) {
		t.Fatalf("%d trials, want %d", len(trials), len(want))
	}
	for i, w := range want {
		tr := trials[i]
		p := tr.Spec.Task.Params
		if tr.Name != w.name || p["seq_len"] != w.l || p["kv_pairs"] != w.kv || tr.Spec.Train.Batch != w.batch || tr.Spec.Train.Steps != w.st {
			t.Errorf("trial %d: %s %v batch %d steps %d, want %+v", i, tr.Name, p, tr.Spec.Train.Batch, tr.Spec.Train.Steps, w)
		}
		if len(tr.Overrides) != 4 {
			t.Errorf("trial %d overrides %v", i, tr.Overrides)
		}
	}
	for _, c := range []struct{ sweep, want string }{
		{"  setting:\n    - {task.seq_len: 64}\n    - {train.batch: 2}", "sweep.setting[1] = {train.batch: 2}: sets other keys than the first row; allowed: every row sets task.seq_len"},
		{"  setting:\n    - {task.seq_len: 64}\n  task.seq_len: [32]", "sweep.task.seq_len = task.seq_len: is swept twice"},
		{"  setting:\n    - {trian.lr: 1}", "sweep.trian.lr: has no fields"},
		{"  setting:\n    - {task.seq_len: long}", `sweep.task.seq_len = "long": must be a number`},
	} {
		head := strings.SplitAfter(src, "sweep:\n")[0]
		_, err := Parse([]byte(head+c.sweep+"\n"), "z.yaml")
		checkErr(t, err, c.want)
	}
}

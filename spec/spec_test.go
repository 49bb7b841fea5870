package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// isBadInput reports whether err is marked as the user's to fix.
func isBadInput(err error) bool {
	var b interface{ BadInput() bool }
	return errors.As(err, &b) && b.BadInput()
}

func mustLoad(t *testing.T, path string) *Spec {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadDefaults(t *testing.T) {
	s := mustLoad(t, "testdata/minimal.yaml")
	want := Spec{
		Name: "minimal", Seed: 1,
		Task: TaskSpec{Name: "mqar", TrainExamples: 20000, Params: map[string]float64{"vocab": 256, "seq_len": 64, "kv_pairs": 8}},
		Eval: []EvalSpec{{Name: "L64_kv8", Examples: 1000, Params: map[string]float64{}}},
		Model: ModelSpec{DModel: 64, Heads: 1, Layers: 2, Mixer: "softmax", Channel: "mlp", MLPRatio: 4,
			Norm: "layernorm", Position: "learned", Chunk: 64},
		Train: TrainSpec{Batch: 64, Steps: 1000, LR: 1e-3, WeightDecay: 0.1, Warmup: 0.1, Clip: 1, Beta1: 0.9, Beta2: 0.98,
			EvalEvery: 100, EvalExamples: 1000, CheckpointEvery: 0, Schedule: "cosine", MinLRRatio: 0.1},
	}
	got := *s
	got.file, got.defaulted, got.lines = "", nil, nil
	if got.Model.Stack.String() != "softmax*2" || len(got.Model.Stack) != 2 {
		t.Errorf("stack %v, want softmax broadcast to 2 layers", got.Model.Stack)
	}
	got.Model.Stack = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadFull(t *testing.T) {
	s := mustLoad(t, "testdata/full.yaml")
	if s.Name != "full-spec_1.0" || s.Seed != 0 || s.Task.TrainExamples != 5000 {
		t.Errorf("top: %+v", s)
	}
	wantEval := []EvalSpec{
		{Name: "L64_kv8", Examples: 250, Params: map[string]float64{"seq_len": 64, "kv_pairs": 8}},
		{Name: "L256_kv16", Examples: 500, Params: map[string]float64{"seq_len": 256, "kv_pairs": 16}},
		{Name: "long", Examples: 100, Params: map[string]float64{"seq_len": 1024, "kv_pairs": 32}},
	}
	if !reflect.DeepEqual(s.Eval, wantEval) {
		t.Errorf("eval %+v", s.Eval)
	}
	m := s.Model
	if m.DModel != 96 || m.Heads != 3 || m.Layers != 4 || m.Mixer != "gla*3, softmax" || m.Channel != "glu" ||
		m.MLPRatio != 2 || m.Norm != "rmsnorm" || m.Position != "none" || m.Chunk != 32 || len(m.Stack) != 4 {
		t.Errorf("model %+v", m)
	}
	want := TrainSpec{Batch: 32, Steps: 2000, LR: 3e-3, WeightDecay: 0, Warmup: 200, Clip: 0, Beta1: 0.8, Beta2: 0.95,
		EvalEvery: 0, EvalExamples: 250, CheckpointEvery: 500, Schedule: "cosine", MinLRRatio: 0.1}
	if s.Train != want {
		t.Errorf("train %+v, want %+v", s.Train, want)
	}
}

// base is a valid spec; the error cases edit one line of it.
const base = `name: quickstart
seed: 1
task:
  name: mqar
  vocab: 128
  seq_len: 64
  kv_pairs: 4
eval:
  - {seq_len: 64, kv_pairs: 4}
model:
  d_model: 64
  heads: 2
  layers: 2
  mixer: softmax
  channel: mlp
train:
  batch: 64
  steps: 100
  lr: 1.0e-3
`

// edit replaces the line starting with old (after indentation) by repl, or
// appends repl when old is "".
func edit(t *testing.T, old, repl string) string {
	t.Helper()
	if old == "" {
		return base + repl
	}
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), old) {
			ind := l[:len(l)-len(strings.TrimLeft(l, " "))]
			if repl == "" {
				lines = append(lines[:i], lines[i+1:]...)
			} else {
				lines[i] = ind + strings.ReplaceAll(repl, "\n", "\n"+ind)
			}
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no line %q in the base spec", old)
	return ""
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		old, new string // edit of the base spec
		src      string // or a whole spec
		want     []string
	}{
		{name: "invalid yaml", src: "name: [x\n", want: []string{"not valid YAML"}},
		{name: "empty", src: "# nothing\n", want: []string{"empty"}},
		{name: "two documents", src: base + "---\nname: b\n", want: []string{"more than one YAML document"}},
		{name: "not a mapping", src: "- a\n- b\n", want: []string{"must be a mapping"}},
		{name: "unknown top field", old: "", new: "trian: {}\n", want: []string{"trian: unknown field; allowed: name, seed, task, eval, model, train, sweep", "(line 20)"}},
		{name: "unknown model field", old: "heads:", new: "haeds: 2", want: []string{"model.haeds: unknown field", "d_model, heads", "(line 12)"}},
		{name: "duplicate key", old: "heads:", new: "layers: 4", want: []string{"model.layers: given twice (lines 12 and 13)"}},
		{name: "name missing", old: "name: quickstart", new: "", want: []string{"name: required"}},
		{name: "name chars", old: "name: quickstart", new: "name: my spec", want: []string{`name = "my spec"`, "allowed: letters, digits"}},
		{name: "name list", old: "name: quickstart", new: "name: [a]", want: []string{"name = [a]: must be a string"}},
		{name: "seed negative", old: "seed:", new: "seed: -1", want: []string{"seed = -1: must be a non-negative integer", "(line 2)"}},
		{name: "task missing", old: "task:", new: "tusk:", want: []string{"tusk: unknown field"}},
		{name: "task name", old: "name: mqar", new: "", want: []string{"task.name: required"}},
		{name: "task param string", old: "vocab:", new: "vocab: lots", want: []string{`task.vocab = "lots": must be a number`, "(line 5)"}},
		{name: "task param inf", old: "vocab:", new: "vocab: .inf", want: []string{"task.vocab = .inf: must be a finite number"}},
		{name: "task param name", old: "vocab:", new: "Vocab: 128", want: []string{"task.Vocab: is not a parameter name"}},
		{name: "train_examples", old: "vocab:", new: "train_examples: 0", want: []string{"task.train_examples = 0: must be a positive integer"}},
		{name: "train_examples type", old: "vocab:", new: "train_examples: 1.5", want: []string{"task.train_examples = 1.5: must be an integer"}},
		{name: "eval empty", src: strings.Replace(base, "eval:\n  - {seq_len: 64, kv_pairs: 4}\n", "eval: []\n", 1), want: []string{"eval = []: must list at least one set"}},
		{name: "eval scalar", src: strings.Replace(base, "eval:\n  - {seq_len: 64, kv_pairs: 4}\n", "eval: 3\n", 1), want: []string{"eval = 3: must be a list"}},
		{name: "eval entry", old: "- {seq_len", new: "- 64", want: []string{"eval[0] = 64: must be a mapping"}},
		{name: "eval examples", old: "- {seq_len", new: "- {seq_len: 64, examples: -5}", want: []string{"eval[0].examples = -5: must be a positive integer"}},
		{name: "eval train_examples", old: "- {seq_len", new: "- {train_examples: 5}", want: []string{"eval[0].train_examples: belongs to task"}},
		{name: "eval param", old: "- {seq_len", new: "- {seq_len: long}", want: []string{`eval[0].seq_len = "long": must be a number`}},
		{name: "eval duplicate names", old: "- {seq_len", new: "- {seq_len: 64}\n- {kv_pairs: 4}", want: []string{`eval[1].name = "L64_kv4": eval[0] has the same name`}},
		{name: "eval name chars", old: "- {seq_len", new: "- {name: a/b}", want: []string{`eval[0].name = "a/b"`}},
		{name: "d_model missing", old: "d_model:", new: "", want: []string{"model.d_model: required; allowed: a positive integer"}},
		{name: "d_model zero", old: "d_model:", new: "d_model: 0", want: []string{"model.d_model = 0: must be a positive integer"}},
		{name: "heads divide", old: "heads:", new: "heads: 3", want: []string{"model.heads = 3: must divide model.d_model (64)", "(line 12)"}},
		{name: "heads zero", old: "heads:", new: "heads: 0", want: []string{"model.heads = 0: must be a positive integer"}},
		{name: "layers", old: "layers:", new: "layers: 0", want: []string{"model.layers = 0: must be an integer in [1, 1024]"}},
		{name: "mixer missing", old: "mixer:", new: "", want: []string{"model.mixer: required"}},
		{name: "mixer syntax", old: "mixer:", new: `mixer: "gla*, softmax"`, want: []string{`model.mixer = "gla*, softmax": column 5: expected a repeat count, got ","`, "(line 14)"}},
		{name: "mixer layers", old: "mixer:", new: `mixer: "gla, gla, softmax"`, want: []string{`model.mixer = "gla, gla, softmax": has 3 layers but model.layers is 2`, "exactly 2 layers"}},
		{name: "channel", old: "channel:", new: "channel: gelu", want: []string{`model.channel = "gelu": allowed: mlp, glu`}},
		{name: "norm", old: "channel:", new: "norm: batchnorm", want: []string{`model.norm = "batchnorm": allowed: layernorm, rmsnorm`}},
		{name: "position", old: "channel:", new: "position: rope", want: []string{`model.position = "rope": allowed: learned, none`}},
		{name: "chunk", old: "channel:", new: "chunk: 0", want: []string{"model.chunk = 0: must be a positive integer"}},
		{name: "mlp_ratio", old: "channel:", new: "mlp_ratio: -1", want: []string{"model.mlp_ratio = -1: must be a positive integer"}},
		{name: "model scalar", src: "name: q\nmodel: big\n", want: []string{`model = "big": must be a mapping`}},
		{name: "batch", old: "batch:", new: "batch: -3", want: []string{"quickstart.yaml: train.batch = -3: must be a positive integer (line 17)"}},
		{name: "batch float", old: "batch:", new: "batch: 1.5", want: []string{"train.batch = 1.5: must be an integer"}},
		{name: "batch string", old: "batch:", new: `batch: "64"`, want: []string{`train.batch = "64": must be an integer`}},
		// Both spellings of an integer meet the same bound (before: 1e18
		// was "not an integer" while 1e10 passed).
		{name: "steps 1e18", old: "steps:", new: "steps: 1e18", want: []string{"train.steps = 1000000000000000000: must be a positive integer up to 2147483648"}},
		{name: "steps digits", old: "steps:", new: "steps: 1000000000000000000", want: []string{"train.steps = 1000000000000000000: must be a positive integer up to 2147483648"}},
		{name: "steps 1e30", old: "steps:", new: "steps: 1e30", want: []string{"train.steps = 1e30: is out of range"}},
		{name: "batch 1e10", old: "batch:", new: "batch: 1e10", want: []string{"train.batch = 10000000000: must be a positive integer up to 16777216"}},
		{name: "d_model 1e8", old: "d_model:", new: "d_model: 100000000", want: []string{"model.d_model = 100000000: must be a positive integer up to 1048576"}},
		{name: "steps missing", old: "steps:", new: "", want: []string{"train.steps: required; allowed: a positive integer"}},
		{name: "lr zero", old: "lr:", new: "lr: 0", want: []string{"train.lr = 0: must be a positive number"}},
		{name: "lr string", old: "lr:", new: "lr: fast", want: []string{`train.lr = "fast": must be a number`}},
		{name: "lr nan", old: "lr:", new: "lr: .nan", want: []string{"train.lr = .nan: must be a finite number"}},
		{name: "weight_decay", old: "lr:", new: "weight_decay: -0.1", want: []string{"train.weight_decay = -0.1: must be a non-negative number"}},
		{name: "warmup fraction", old: "lr:", new: "warmup: 1.5", want: []string{"train.warmup = 1.5", "a whole number of steps up to train.steps (100)"}},
		{name: "warmup steps", old: "lr:", new: "warmup: 200", want: []string{"train.warmup = 200"}},
		{name: "warmup negative", old: "lr:", new: "warmup: -1", want: []string{"train.warmup = -1"}},
		{name: "clip", old: "lr:", new: "clip: -1", want: []string{"train.clip = -1: must be a non-negative number"}},
		{name: "beta1", old: "lr:", new: "beta1: 1", want: []string{"train.beta1 = 1: must be in [0, 1)"}},
		{name: "beta2", old: "lr:", new: "beta2: -0.5", want: []string{"train.beta2 = -0.5: must be in [0, 1)"}},
		{name: "eval_every", old: "lr:", new: "eval_every: -1", want: []string{"train.eval_every = -1: must be a non-negative integer"}},
		{name: "eval_examples", old: "lr:", new: "eval_examples: 0", want: []string{"train.eval_examples = 0: must be a positive integer"}},
		{name: "checkpoint_every", old: "lr:", new: "checkpoint_every: -1", want: []string{"train.checkpoint_every = -1: must be a non-negative integer"}},
		{name: "epochs with steps", old: "lr:", new: "epochs: 2", want: []string{"train.epochs = 2: is given with train.steps; allowed: one of train.steps or train.epochs"}},
		{name: "epochs zero", old: "steps:", new: "epochs: 0", want: []string{"train.epochs = 0: must be a positive number"}},
		{name: "epochs string", old: "steps:", new: "epochs: many", want: []string{`train.epochs = "many": must be a number`}},
		{name: "schedule", old: "lr:", new: "schedule: linear", want: []string{`train.schedule = "linear": allowed: cosine, constant`}},
		{name: "min_lr_ratio", old: "lr:", new: "min_lr_ratio: 2", want: []string{"train.min_lr_ratio = 2: must be in [0, 1]"}},
		{name: "stop_at", old: "lr:", new: "stop_at: 1.5", want: []string{"train.stop_at = 1.5: must be an accuracy in (0, 1]"}},
		{name: "stop_eval alone", old: "lr:", new: "stop_eval: L64_kv4", want: []string{`train.stop_eval = "L64_kv4": is set without train.stop_at`}},
		{name: "stop_eval unknown", old: "lr:", new: "stop_at: 0.99\nstop_eval: L128", want: []string{`train.stop_eval = "L128": names no eval set; allowed: L64_kv4`}},
		{name: "tie_embeddings", old: "channel:", new: "tie_embeddings: yes please", want: []string{`model.tie_embeddings = "yes please": must be true or false`}},
		{name: "embed_dropout", old: "channel:", new: "embed_dropout: 1", want: []string{"model.embed_dropout = 1: must be in [0, 1)"}},
		{name: "alias before anchor", src: strings.Replace(base, "batch: 64", "batch: *x", 1) + "x: &x [1]\n", want: []string{"not valid YAML"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if src == "" {
				src = edit(t, c.old, c.new)
			}
			_, err := Parse([]byte(src), "quickstart.yaml")
			checkErr(t, err, c.want...)
		})
	}
}

// checkErr asserts that err is one line of bad input, starting with the
// file name and holding every want.
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	if !isBadInput(err) {
		t.Errorf("%q is not marked as bad input", msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q is not one line", msg)
	}
	var se *SpecError
	if !errors.As(err, &se) {
		t.Errorf("%q: %T, want a *SpecError", msg, err)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q\n does not say %q", msg, w)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/no-such-spec.yaml")
	checkErr(t, err, "testdata/no-such-spec.yaml: cannot read the spec: no such file or directory")
	_, err = Load("testdata")
	checkErr(t, err, "testdata: cannot read the spec")
	_, err = Load("testdata/unknown_field.yaml")
	checkErr(t, err, "testdata/unknown_field.yaml: model.layer: unknown field; allowed: d_model, heads, layers, mixer", "(line 6)")
}

func TestSpecErrorFormat(t *testing.T) {
	for _, c := range []struct {
		e    SpecError
		want string
	}{
		{SpecError{File: "q.yaml", Field: "train.batch", Value: "-3", Problem: "must be a positive integer"}, "q.yaml: train.batch = -3: must be a positive integer"},
		{SpecError{Field: "--device", Value: "cuda", Allowed: "cpu"}, "--device = cuda: allowed: cpu"},
		{SpecError{File: "q.yaml", Field: "model.mixr", Problem: "unknown field", Allowed: "a, b", Line: 4}, "q.yaml: model.mixr: unknown field; allowed: a, b (line 4)"},
		{SpecError{File: "q.yaml", Trial: "d_model=30", Field: "model.heads", Value: "4", Problem: "must divide\nd_model"}, "q.yaml: trial d_model=30: model.heads = 4: must divide d_model"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// The shipped specs (beside package experiments) and the test specs load
// and expand; experiments' TestShippedSpecsLoad also builds every mix.
func TestShippedSpecsLoad(t *testing.T) {
	paths, _ := filepath.Glob("../experiments/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no shipped specs found in ../experiments")
	}
	for _, p := range append(paths, "testdata/minimal.yaml", "testdata/full.yaml", "testdata/grid.yaml", "testdata/placement.yaml") {
		s, err := Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if _, err := s.Expand(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestJSON(t *testing.T) {
	s := mustLoad(t, "testdata/full.yaml")
	var m map[string]any
	if err := json.Unmarshal(s.JSON(), &m); err != nil {
		t.Fatal(err)
	}
	task := m["task"].(map[string]any)
	if task["seq_len"] != 64.0 || task["name"] != "mqar" || task["train_examples"] != 5000.0 {
		t.Errorf("task not flat: %v", task)
	}
	ev := m["eval"].([]any)[1].(map[string]any)
	if ev["name"] != "L256_kv16" || ev["seq_len"] != 256.0 || ev["examples"] != 500.0 {
		t.Errorf("eval not flat: %v", ev)
	}
	model := m["model"].(map[string]any)
	if model["mixer"] != "gla*3, softmax" || model["d_model"] != 96.0 || model["stack"] != nil {
		t.Errorf("model: %v", model)
	}
	if m["train"].(map[string]any)["weight_decay"] != 0.0 || m["sweep"] != nil {
		t.Errorf("train/sweep: %v", m)
	}
	// The JSON reads back into the same spec.
	var back Spec
	if err := json.Unmarshal(s.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	back.file, back.defaulted, back.lines, back.Model.Stack = s.file, s.defaulted, s.lines, s.Model.Stack
	if !reflect.DeepEqual(&back, s) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, *s)
	}
	// Canonical: the same spec written differently gives the same bytes.
	a, _ := Parse([]byte("name: a\ntask: {name: mqar, vocab: 8, seq_len: 16}\nmodel: {d_model: 8, mixer: 'gla,gla', layers: 2}\ntrain: {steps: 10}\n"), "a")
	b, _ := Parse([]byte("train: {steps: 10, lr: 0.001}\nmodel: {layers: 2, mixer: gla*2, d_model: 8}\ntask: {seq_len: 16, name: mqar, vocab: 8.0}\nname: a\n"), "b")
	if a == nil || b == nil || string(a.JSON()) != string(b.JSON()) {
		t.Errorf("not canonical:\n%s\n%s", a.JSON(), b.JSON())
	}
}

func TestTaskAndEvalYAML(t *testing.T) {
	var task TaskSpec
	if err := yaml.Unmarshal([]byte("{name: mqar, seq_len: 64, train_examples: 10}"), &task); err != nil {
		t.Fatal(err)
	}
	if task.Name != "mqar" || task.TrainExamples != 10 || !reflect.DeepEqual(task.Params, map[string]float64{"seq_len": 64}) {
		t.Errorf("%+v", task)
	}
	err := yaml.Unmarshal([]byte("{name: mqar, seq_len: long}"), &task)
	checkErr(t, err, `task.seq_len = "long": must be a number`)
	out, err := yaml.Marshal(TaskSpec{Name: "mqar", TrainExamples: 10, Params: map[string]float64{"vocab": 8, "seq_len": 16}})
	if err != nil || string(out) != "name: mqar\ntrain_examples: 10\nseq_len: 16\nvocab: 8\n" {
		t.Errorf("marshal: %q %v", out, err)
	}
	var e EvalSpec
	if err := yaml.Unmarshal([]byte("{seq_len: 256, examples: 5, name: x}"), &e); err != nil || e.Name != "x" || e.Examples != 5 || e.Params["seq_len"] != 256 {
		t.Errorf("%+v %v", e, err)
	}
	var back EvalSpec
	if err := json.Unmarshal([]byte(`{"name":"x","examples":5,"seq_len":256}`), &back); err != nil || !reflect.DeepEqual(back, e) {
		t.Errorf("%+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"name":"x","seq_len":"long"}`), &back); err == nil {
		t.Error("non-number JSON param accepted")
	}
}

// FuzzParse checks that no input makes Parse panic, that every error is one
// line of bad input, and that an accepted spec expands and has valid JSON.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/minimal.yaml", "testdata/full.yaml", "testdata/grid.yaml", "testdata/placement.yaml", "testdata/unknown_sweep_key.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("name: a\ntask: &t {name: mqar}\neval: [*t]\nmodel: {d_model: 8, mixer: gla}\ntrain: {steps: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "f.yaml")
		if err != nil {
			if !isBadInput(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		trials, err := s.Expand()
		if err != nil {
			t.Fatalf("accepted spec does not expand: %v", err)
		}
		for _, tr := range trials {
			if !json.Valid(tr.Spec.JSON()) || string(tr.Spec.JSON()) == "{}" {
				t.Fatalf("trial %d: JSON %s", tr.Index, tr.Spec.JSON())
			}
		}
	})
}

// train.epochs gives the steps from the pool and the batch, again for
// each trial of a sweep over the batch; the recipe fields decode.
func TestEpochsAndRecipe(t *testing.T) {
	src := strings.Replace(base, "  steps: 100\n", "  epochs: 2.5\n  schedule: constant\n  warmup: 0\n  stop_at: 0.99\n", 1)
	src = strings.Replace(src, "  channel: mlp\n", "  channel: none\n  tie_embeddings: true\n  embed_dropout: 0.1\n", 1)
	src += "sweep:\n  train.batch: [64, 100]\n"
	s, err := Parse([]byte(src), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{782, 500} { // ceil(2.5·20000/64), 2.5·20000/100
		tr := trials[i].Spec.Train
		if tr.Steps != want || tr.EvalEvery != want/10 {
			t.Errorf("trial %d: steps %d eval_every %d, want %d and %d", i, tr.Steps, tr.EvalEvery, want, want/10)
		}
		if tr.Schedule != "constant" || tr.Warmup != 0 || tr.StopAt != 0.99 {
			t.Errorf("trial %d: %+v", i, tr)
		}
		m := trials[i].Spec.Model
		if !m.TieEmbeddings || m.EmbedDropout != 0.1 {
			t.Errorf("trial %d: %+v", i, m)
		}
		var back Spec
		if err := json.Unmarshal(trials[i].Spec.JSON(), &back); err != nil || back.Train.Schedule != "constant" || back.Train.MinLRRatio != 0.1 {
			t.Errorf("trial %d: JSON round trip gave %+v (%v)", i, back.Train, err)
		}
	}
}

package store

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// bestRun is a run with the given config fields (model.mixer, train.lr,
// seed) and one result per name=accuracy pair.
func bestRun(id string, trial int, mixer string, lr any, seed int, accs ...any) Run {
	train := map[string]any{"steps": 10}
	if lr != nil {
		train["lr"] = lr
	}
	cfg, _ := json.Marshal(map[string]any{"name": "s", "seed": seed,
		"model": map[string]any{"mixer": mixer, "d_model": 64}, "train": train})
	r := Run{ID: id, TrialIndex: trial, Config: cfg}
	for i := 0; i+1 < len(accs); i += 2 {
		r.Results = append(r.Results, Result{EvalName: accs[i].(string), Accuracy: accs[i+1].(float64)})
	}
	return r
}

func TestBestOver(t *testing.T) {
	nan := math.NaN()
	runs := []Run{
		bestRun("a1", 0, "softmax", 1e-4, 1, "test", 0.5, "long", 0.9),
		bestRun("a2", 1, "softmax", 1e-3, 1, "test", 0.8, "long", 0.2),
		bestRun("a3", 2, "softmax", 1e-2, 1, "test", 0.8, "long", 0.1), // ties a2 on test: a2 has the lower trial
		bestRun("b1", 3, "gla", 1e-4, 1, "test", 0.3),
		bestRun("b2", 4, "gla", 1e-3, 1, "test", nan), // NaN: left out
		bestRun("c1", 5, "softmax", 1e-3, 2, "test", 0.7),
		bestRun("c2", 6, "softmax", 1e-2, 2, "long", 0.95), // no test result
	}
	for _, c := range []struct {
		name, key, eval string
		want            []string
		note            string
	}{
		{"test set", "train.lr", "test", []string{"a2", "b1", "c1"}, "best of 1-3 over train.lr on test (2 runs without that result left out)"},
		{"first result", "train.lr", "", []string{"a2", "b1", "c2"}, "best of 1-3 over train.lr on each run's first eval set (1 runs without that result left out)"},
		{"other set", "train.lr", "long", []string{"a1", "c2"}, "best of 1-3 over train.lr on long (3 runs without that result left out)"},
		{"config prefix", "config.train.lr", "test", []string{"a2", "b1", "c1"}, ""},
		// Over the seed, softmax at lr 1e-3 has two runs (a2, c1); at 1e-2 a3
		// is the only one with a test result.
		{"seed", "config.seed", "test", []string{"a1", "a2", "a3", "b1"}, "best of 1-2 over seed on test (2 runs without that result left out)"},
		// An alias: every run has the same width, so only mixer, lr and
		// seed tell runs apart and nothing is merged.
		{"alias", "d_model", "test", []string{"a1", "a2", "a3", "b1", "c1"}, "best of 1 over model.d_model on test (2 runs without that result left out)"},
		// Over the mixer: a and b runs at the same lr and seed compete.
		{"mixer", "mixer", "test", []string{"a1", "a2", "a3", "c1"}, ""},
	} {
		b, err := BestOver(runs, c.key, c.eval)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, r := range b.Runs {
			got = append(got, r.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") || b.Groups != len(c.want) {
			t.Errorf("%s: kept %v (%d groups), want %v", c.name, got, b.Groups, c.want)
		}
		if c.note != "" && b.Note() != c.note {
			t.Errorf("%s: note %q, want %q", c.name, b.Note(), c.note)
		}
	}
	// Runs without the key group on their own, and a run's JSON number
	// spelling does not split a group (1e-3 and 0.001 differ only in lr).
	mixed := []Run{bestRun("x", 0, "softmax", nil, 1, "test", 0.4), bestRun("y", 1, "softmax", 0.001, 1, "test", 0.6)}
	if b, err := BestOver(mixed, "train.lr", "test"); err != nil || len(b.Runs) != 1 || b.Runs[0].ID != "y" || b.MaxOf != 2 {
		t.Errorf("a run without the key: %+v, %v", b, err)
	}
	// Bad input: a key no run has, a key that is no path, a config that is
	// not an object.
	for _, c := range []struct {
		runs []Run
		key  string
		msg  string
	}{
		{runs, "train.learning_rate", "train.learning_rate"},
		{runs, "lr", `"lr"`},
		{runs, "train..lr", "train..lr"},
		{runs, "", "key"},
		{[]Run{{ID: "deadbeef01", Config: json.RawMessage(`[1]`)}}, "train.lr", "deadbeef"},
	} {
		_, err := BestOver(c.runs, c.key, "test")
		if !isBadInput(err) || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("key %q: error %v, want one line of bad input naming %s", c.key, err, c.msg)
		}
	}
	if b, err := BestOver(nil, "train.lr", ""); err != nil || len(b.Runs) != 0 {
		t.Errorf("no runs: %+v, %v", b, err)
	}
}

func TestConfigValue(t *testing.T) {
	cfg := json.RawMessage(`{"seed":3,"model":{"mixer":"gla","d_model":64,"tie":true},"eval":[{"seq_len":64},{"seq_len":128}]}`)
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"model.mixer", "gla", true}, {"model.d_model", "64", true}, {"seed", "3", true},
		{"model.tie", "true", true}, {"eval[1].seq_len", "128", true}, {"eval[2].seq_len", "(none)", false},
		{"model.heads", "(none)", false}, {"model", `{"d_model":64,"mixer":"gla","tie":true}`, true},
	} {
		v, ok := ConfigValue(cfg, c.path)
		if got := FormatValue(v, ok); ok != c.ok || got != c.want {
			t.Errorf("%s: %q %v, want %q %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// BestOver on runs as the database returns them.
func TestBestOverStored(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, lr := range []float64{1e-4, 1e-3, 1e-2} {
		r := bestRun("", i, "softmax", lr, 1)
		id, err := db.CreateRun(NewRun{SpecName: "s", TrialIndex: i, TrialKey: r.ID + string(rune('a'+i)), Config: r.Config, Device: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		acc := []float64{0.2, 0.9, 0.6}[i]
		if err := db.FinishRun(id, Finish{Status: "done", Results: []Result{{EvalName: "test", SeqLen: 64, Accuracy: acc, Examples: 10}}}); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := db.Runs(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := BestOver(runs, "train.lr", "test")
	if err != nil || len(b.Runs) != 1 || b.Runs[0].TrialIndex != 1 || b.Note() != "best of 3 over train.lr on test" {
		t.Fatalf("%+v %v", b, err)
	}
}

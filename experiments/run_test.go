package experiments

import (
	"context"
	"database/sql"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"lab/store"
)

const tiny = `name: tiny
task: {name: mqar, vocab: 32, seq_len: 16, kv_pairs: 2, train_examples: 64}
eval:
  - {seq_len: 16, kv_pairs: 2, examples: 40}
model: {d_model: 8, heads: 2, layers: 1, mixer: softmax}
train: {batch: 8, steps: 40, eval_every: 10, checkpoint_every: 5}
`

// tinyRecipe is tiny with the Zoology recipe's parts: tied embeddings,
// embedding dropout, a constant schedule without warmup.
const tinyRecipe = `name: tiny
task: {name: mqar, vocab: 32, seq_len: 16, kv_pairs: 2, train_examples: 64}
eval:
  - {seq_len: 16, kv_pairs: 2, examples: 40}
model: {d_model: 8, heads: 2, layers: 1, mixer: softmax, tie_embeddings: true, embed_dropout: 0.1, channel: none}
train: {batch: 8, steps: 40, eval_every: 10, checkpoint_every: 5, schedule: constant, warmup: 0}
`

func tinySpec(t *testing.T) *Spec { return tinySpecOf(t, tiny) }

func tinySpecOf(t *testing.T, src string) *Spec {
	t.Helper()
	s, err := Parse([]byte(src), "tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tinyTrial(t *testing.T) (*Prepared, *store.DB) { return tinyTrialOf(t, tiny) }

func tinyTrialOf(t *testing.T, src string) (*Prepared, *store.DB) {
	t.Helper()
	trials, err := tinySpecOf(t, src).Expand()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(trials[0])
	if err != nil {
		t.Fatal(err)
	}
	return p, openDB(t, filepath.Join(t.TempDir(), "lab.sqlite"))
}

func openDB(t *testing.T, path string) *store.DB {
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func opts(t *testing.T, db *store.DB) Options {
	return Options{DB: db, Context: context.Background(), CheckpointDir: db.Path() + ".ckpt"}
}

// A NaN loss marks the run diverged (and the sweep would go on).
func TestNaNDiverges(t *testing.T) {
	p, db := tinyTrial(t)
	p.Model.Params()[0].Value.Data[0] = float32(math.NaN())
	o := runTrial(p, 0, 1, "test", cpuBackend{}, opts(t, db))
	if o.Status != "diverged" || o.Err == nil || !strings.Contains(o.Err.Error(), "loss is not finite: the loss was NaN at step 2 of 40 (the last finite loss was 3.492 at step 1)") {
		t.Fatalf("status %q err %v, want diverged naming step 2, the first non-finite one", o.Status, o.Err)
	}
	r, err := db.Run(o.RunID)
	if err != nil || r.Status != "diverged" {
		t.Fatalf("stored status %v (%v)", r, err)
	}
}

// Same spec and seed give the same numbers.
func TestDeterministic(t *testing.T) {
	var acc, loss [2]float64
	for i := range acc {
		p, db := tinyTrial(t)
		o := runTrial(p, 0, 1, "test", cpuBackend{}, opts(t, db))
		if o.Status != "done" || len(o.Results) != 1 {
			t.Fatalf("%+v", o)
		}
		acc[i], loss[i] = o.Results[0].Accuracy, o.Results[0].Loss
	}
	if acc[0] != acc[1] || loss[0] != loss[1] {
		t.Fatalf("two identical runs differ: acc %v, loss %v", acc, loss)
	}
}

// cancelAt cancels the sweep when a trial reaches a step.
type cancelAt struct {
	step   int
	cancel func()
}

func (c cancelAt) Start(Trial, int, int, int) {}
func (c cancelAt) Done(Outcome)               {}
func (c cancelAt) Step(s int, _, _ float64) {
	if s == c.step {
		c.cancel()
	}
}

// A cancelled trial resumes from its checkpoint and ends with exactly the
// numbers of an uninterrupted run (dropout masks included); a finished
// trial is skipped.
func TestCancelAndResume(t *testing.T) {
	for name, src := range map[string]string{"plain": tiny, "recipe": tinyRecipe} {
		t.Run(name, func(t *testing.T) { cancelAndResume(t, src) })
	}
}

func cancelAndResume(t *testing.T, src string) {
	p, db := tinyTrialOf(t, src)
	want := runTrial(p, 0, 1, "test", cpuBackend{}, opts(t, db))
	if want.Status != "done" {
		t.Fatalf("%+v", want)
	}
	s := tinySpecOf(t, src)
	db2 := openDB(t, filepath.Join(t.TempDir(), "b.sqlite"))
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(t, db2)
	o.Context = ctx
	o.NewProgress = func() Reporter { return cancelAt{17, cancel} }
	outs, err := Run(s, o)
	if err != nil || outs[0].Status != "cancelled" {
		t.Fatalf("%v %+v", err, outs)
	}
	o = opts(t, db2)
	o.Resume = true
	outs, err = Run(s, o)
	if err != nil || outs[0].Status != "done" || outs[0].ResumedAt != 17 {
		t.Fatalf("resume: %v %+v", err, outs[0])
	}
	if got, w := outs[0].Results[0], want.Results[0]; got.Accuracy != w.Accuracy || got.Loss != w.Loss {
		t.Fatalf("resumed run ends with %v/%v, uninterrupted with %v/%v", got.Accuracy, got.Loss, w.Accuracy, w.Loss)
	}
	outs, _ = Run(s, o)
	if outs[0].Status != "skipped" {
		t.Fatalf("finished trial not skipped: %+v", outs[0])
	}
	if runs, _ := db2.Runs(store.Filter{}); len(runs) != 1 {
		t.Fatalf("%d runs, want the one resumed run", len(runs))
	}
}

// The child half of TestKillNine: train the tiny spec slowly until killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("LAB_TEST_CHILD_DB"); path != "" {
		s, _ := Parse([]byte(tiny), "tiny.yaml")
		s.Train.Steps = 100000
		db, err := store.Open(path)
		if err != nil {
			os.Exit(3)
		}
		Run(s, Options{DB: db})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// kill -9 in the middle of a run: the database passes integrity_check, the
// run is marked interrupted on the next start, no committed metric is lost,
// and --resume continues from the last checkpoint.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.sqlite")
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "LAB_TEST_CHILD_DB="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for a few checkpoints and metrics.
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, _ := filepath.Glob(path + ".ckpt/*.safetensors")
		if len(m) > 0 {
			time.Sleep(300 * time.Millisecond)
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child never wrote a checkpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var ok string
	var metrics int
	raw.QueryRow("PRAGMA integrity_check").Scan(&ok)
	raw.QueryRow("SELECT count(*) FROM metrics").Scan(&metrics)
	raw.Close()
	if ok != "ok" || metrics == 0 {
		t.Fatalf("integrity %q, %d metrics after kill -9", ok, metrics)
	}
	old := staleAfter
	staleAfter = 0
	defer func() { staleAfter = old }()
	db := openDB(t, path)
	if n, _ := db.MarkStale(0); n != 1 {
		t.Fatalf("%d runs marked interrupted, want 1", n)
	}
	runs, _ := db.Runs(store.Filter{})
	if len(runs) != 1 || runs[0].Status != "interrupted" {
		t.Fatalf("%+v", runs)
	}
	after, _ := db.Metrics(runs[0].ID)
	if len(after) < metrics {
		t.Fatalf("%d metrics before, %d after", metrics, len(after))
	}
	s := tinySpec(t)
	s.Train.Steps = 100000 // same config as the child's
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(t, db)
	o.Resume, o.Context = true, ctx
	resumedAt := -1
	o.NewProgress = func() Reporter { return cancelAt{-1, cancel} }
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	outs, err := Run(s, o)
	if err != nil || outs[0].RunID != runs[0].ID || outs[0].ResumedAt <= 0 {
		t.Fatalf("resume after kill: %v %+v (resumed at %d)", err, outs, resumedAt)
	}
}

// train.stop_at ends a trial at the first eval that reaches it, records the
// step, and the run's results are that eval's.
func TestStopAt(t *testing.T) {
	p, db := tinyTrialOf(t, strings.Replace(tiny, "checkpoint_every: 5}", "checkpoint_every: 5, stop_at: 0.01}", 1))
	o := runTrial(p, 0, 1, "test", cpuBackend{}, opts(t, db))
	if o.Status != "done" || len(o.Results) != 1 || o.Results[0].Accuracy < 0.01 {
		t.Fatalf("%+v", o)
	}
	ms, err := stopped(db, o.RunID)
	if err != nil || len(ms) != 1 || ms[0].Value != 10 {
		t.Fatalf("stopped_at metrics %+v (%v), want one at step 10", ms, err)
	}
	// Without the rule the same trial runs its 40 steps.
	p, db = tinyTrial(t)
	o = runTrial(p, 0, 1, "test", cpuBackend{}, opts(t, db))
	if ms, _ := stopped(db, o.RunID); len(ms) != 0 {
		t.Fatalf("a run without stop_at logged %+v", ms)
	}
}

func stopped(db *store.DB, id string) ([]store.Metric, error) {
	all, err := db.Metrics(id)
	var out []store.Metric
	for _, m := range all {
		if m.Name == StoppedMetric {
			out = append(out, m)
		}
	}
	return out, err
}

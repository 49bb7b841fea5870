package experiments

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"lab/store"
)

// N processes resuming one sweep at once (here: four Runs, each with its
// own database connection) train each trial exactly once: one row per
// trial, all done. Before: four `lab run --resume` on a fresh database left
// 12 rows for 3 trials.
func TestConcurrentResumesTrainEachTrialOnce(t *testing.T) {
	s := tinySpecOf(t, tiny+"sweep:\n  model.mixer: [softmax, \"linear(feature=relu)\", \"swa(window=8)\"]\n")
	s.Train.Steps = 6
	path := filepath.Join(t.TempDir(), "lab.sqlite")
	openDB(t, path) // created and migrated once
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(path)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			o := Options{DB: db, Context: context.Background(), CheckpointDir: path + ".ckpt", Resume: true}
			_, errs[i] = Run(s, o)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := openDB(t, path)
	runs, _ := db.Runs(store.Filter{})
	per := map[int]int{}
	for _, r := range runs {
		if r.Status != "done" {
			t.Errorf("run %s of trial %d: %s", r.ID, r.TrialIndex, r.Status)
		}
		per[r.TrialIndex]++
	}
	if len(runs) != 3 || per[0] != 1 || per[1] != 1 || per[2] != 1 {
		t.Fatalf("%d runs, per trial %v; want one for each of 3 trials", len(runs), per)
	}
}

// kill -9, then --resume at once (no 30 s wait for the heartbeat to go
// stale): the run whose owner is gone is taken over from its checkpoint
// under the same id, and no second row appears. Before: a new run id from
// step 0, the killed run left running.
func TestKillNineResumeAtOnce(t *testing.T) {
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m, _ := filepath.Glob(path + ".ckpt/*.safetensors"); len(m) > 0 {
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
	db := openDB(t, path)
	before, _ := db.Runs(store.Filter{})
	if len(before) != 1 || before[0].Status != "running" {
		t.Fatalf("after kill: %+v", before)
	}
	s := tinySpec(t)
	s.Train.Steps = 100000 // the child's config
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(t, db)
	o.Resume, o.Context = true, ctx
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	outs, err := Run(s, o)
	if err != nil || outs[0].RunID != before[0].ID || outs[0].ResumedAt <= 0 {
		t.Fatalf("resume at once after kill: %v %+v, want run %s continued from a checkpoint", err, outs, before[0].ID)
	}
	if after, _ := db.Runs(store.Filter{}); len(after) != 1 {
		t.Fatalf("%d runs, want the one", len(after))
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lab/plot/plottest"
	"lab/store"
)

// sweepDB writes plottest's sweep grid (2 mixers x 4 settings x 4 widths x
// 3 learning rates) to a new database file.
func sweepDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.sqlite")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := plottest.FillSweep(db, "sweep"); err != nil {
		t.Fatal(err)
	}
	return path
}

const publishedCSV = "../../notebooks/zoology-fig2/published.csv"

func TestBestOverRunsAndAdvise(t *testing.T) {
	db := sweepDB(t)
	code, out, errs := lab(t, "runs", "--db", db, "--best-over", "train.lr", "--eval", "test", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var runs []store.Run
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 32 {
		t.Fatalf("%v: %d runs, want 32 (the best of 3 learning rates in each cell)", err, len(runs))
	}
	for _, r := range runs {
		var cfg struct{ Train struct{ LR float64 } }
		json.Unmarshal(r.Config, &cfg)
		if cfg.Train.LR != 1e-3 {
			t.Errorf("run %s: lr %g kept, want 1e-3", r.TrialName, cfg.Train.LR)
		}
	}
	if strings.TrimSpace(errs) != "best of 3 over train.lr on test" {
		t.Errorf("stderr %q", errs)
	}
	if code, out, _ = lab(t, "runs", "--db", db, "--best-over", "train.lr", "--limit", "5", "--format", "csv"); code != 0 || strings.Count(out, "\n") != 6 {
		t.Errorf("--limit after --best-over: exit %d, %d lines", code, strings.Count(out, "\n"))
	}
	code, out, errs = lab(t, "advise", "--db", db, "--seq-len", "128", "--recall", "0.9", "--best-over", "train.lr", "--eval", "test")
	if code != 0 || !strings.HasPrefix(out, "from the best of 3 over train.lr on test\nconfigurations that reached recall 0.9 at L=128") ||
		strings.Count(out, "\nsoftmax ") != 4 || strings.Contains(out, "\nrwkv4 ") {
		t.Errorf("advise: exit %d: %s %s", code, out, errs)
	}
	code, out, _ = lab(t, "advise", "--db", db, "--seq-len", "256", "--recall", "0.6", "--best-over", "train.lr", "--format", "json")
	var a struct {
		BestOver string
		Options  []struct{ Mixer string }
	}
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || a.BestOver != "best of 3 over train.lr on each run's first eval set" || len(a.Options) != 5 || a.Options[0].Mixer != "rwkv4" {
		t.Errorf("advise json: exit %d, %v: %+v", code, err, a)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"runs", "--best-over", "train.momentum"}, "train.momentum"},
		{[]string{"runs", "--best-over", "train.lr", "--eval", "long"}, `"long"`},
		{[]string{"runs", "--eval", "test"}, "--best-over"},
		{[]string{"advise", "--seq-len", "64", "--recall", "0.5", "--best-over", "model..lr"}, "model..lr"},
	} {
		code, _, errs := lab(t, append(c.args, "--db", db)...)
		if code != 2 || !strings.Contains(errs, c.msg) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errs, c.msg)
		}
	}
}

func TestPlotSweepAndBestOver(t *testing.T) {
	db := sweepDB(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		w, h int
	}{
		{"sweep.png", []string{"sweep", "--x", "model.d_model", "--facet", "task.seq_len", "--best-over", "train.lr", "--eval", "test",
			"--reference", publishedCSV, "--width", "28cm", "--height", "9cm", "--dpi", "100"}, 1102, 354},
		{"sweep-mean.png", []string{"sweep", "--x", "d_model", "--series", "seq_len", "--where", "mixer=rwkv4"}, 945, 591},
		{"recall.png", []string{"recall-vs-length", "--best-over", "train.lr"}, 945, 591},
		{"tradeoff.png", []string{"tradeoff", "--best-over", "train.lr", "--eval", "test", "--reference", "../../notebooks/based-pareto/published.csv"}, 945, 591},
		{"map.png", []string{"map", "--best-over", "train.lr", "--levels", "0.5,0.9"}, 945, 591},
		{"curves.png", []string{"curves", "--where", "model.d_model=64", "--where", "task.seq_len=64", "--best-over", "train.lr"}, 945, 591},
	} {
		out := filepath.Join(dir, c.name)
		code, stdout, stderr := plotApp(t, append([]string{c.args[0], "--db", db, "-o", out}, c.args[1:]...)...)
		if code != 0 || !strings.Contains(stdout, "wrote "+out) {
			t.Errorf("%v: exit %d: %s", c.args, code, stderr)
			continue
		}
		if w, h := pngSize(t, out); w != c.w || h != c.h {
			t.Errorf("%v: %dx%d pixels, want %dx%d", c.args, w, h, c.w, c.h)
		}
	}
	svg := filepath.Join(dir, "sweep.svg")
	if code, _, stderr := plotApp(t, "sweep", "--db", db, "-o", svg, "--x", "d_model", "--facet", "seq_len", "--best-over", "train.lr", "--reference", publishedCSV); code != 0 {
		t.Fatalf("svg: %s", stderr)
	}
	b, _ := os.ReadFile(svg)
	for _, want := range []string{"best of 3 over train.lr on each run", "seq_len=64", "seq_len=512", "rwkv4 (published)", "baseconv (published)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sweep.svg lacks %q", want)
		}
	}
	curves := filepath.Join(dir, "curves.svg")
	if code, _, stderr := plotApp(t, "curves", "--db", db, "-o", curves, "--where", "seq_len=64", "--where", "d_model=64", "--best-over", "train.lr", "--eval", "test"); code != 0 {
		t.Fatalf("curves svg: %s", stderr)
	}
	if b, _ := os.ReadFile(curves); !strings.Contains(string(b), "best of 3 over train.lr on test") || !strings.Contains(string(b), "Training curves of 2 runs") {
		t.Errorf("curves.svg lacks the title or the note")
	}
	if os.Getenv("LAB_KEEP_PNG") != "" { // to look at one
		src, _ := os.ReadFile(filepath.Join(dir, "sweep.png"))
		os.WriteFile(os.Getenv("LAB_KEEP_PNG"), src, 0o644)
	}

	// Bad input: exit 2, one line, nothing written.
	bad := t.TempDir()
	out := filepath.Join(bad, "x.png")
	missing := filepath.Join(bad, "none.csv")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sweep"}, "--x KEY is required"},
		{[]string{"sweep", "--x", "model.mixer"}, "numeric"},
		{[]string{"sweep", "--x", "d_model", "--facet", "task.depth"}, "task.depth"},
		{[]string{"sweep", "--x", "d_model", "--reference", missing}, "none.csv"},
		{[]string{"sweep", "--x", "d_model", "--best-over", "train.beta9"}, "train.beta9"},
		{[]string{"sweep", "--x", "d_model", "--eval", "L9"}, `"L9"`},
		{[]string{"recall-vs-length", "--eval", "test"}, "--best-over"},
		{[]string{"recall-vs-length", "--best-over", "train.lr", "--eval", "L9"}, `"L9"`},
		{[]string{"map", "--best-over", "bad key"}, "bad key"},
		{[]string{"tradeoff", "--cost", "time", "--reference", publishedCSV}, "state"},
		{[]string{"tradeoff", "--reference", publishedCSV}, "state_bytes"},
		{[]string{"curves", "--where", "status=done", "--best-over", "mixer"}, "at most"},
	} {
		code, _, stderr := plotApp(t, append([]string{c.args[0], "--db", db, "-o", out}, c.args[1:]...)...)
		if code != 2 || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, stderr, c.msg)
		}
	}
	if es, _ := os.ReadDir(bad); len(es) != 0 {
		t.Errorf("left in the output folder: %v", es)
	}
}

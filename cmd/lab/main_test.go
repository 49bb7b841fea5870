package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lab/kernels/cuda"
	"lab/store"
)

func lab(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(append([]string{"lab"}, args...), &o, &e)
	return code, o.String(), e.String()
}

const tinySpec = `name: tiny
seed: 3
task: {name: mqar, vocab: 32, seq_len: 16, kv_pairs: 2, train_examples: 64}
eval:
  - {seq_len: 16, kv_pairs: 2, examples: 40}
  - {seq_len: 32, kv_pairs: 4, examples: 40}
model: {d_model: 8, heads: 2, layers: 2, mixer: softmax, position: none}
train: {batch: 8, steps: 4, eval_every: 2}
sweep:
  model.mixer: [softmax, "linear(feature=relu)"]
`

func writeSpec(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSampleMQARJSON(t *testing.T) {
	code, out, errs := lab(t, "sample", "mqar", "--seq-len", "64", "--kv-pairs", "8", "--vocab", "256", "--seed", "1", "--n", "2", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var ex []struct{ Inputs, Targets []int }
	if err := json.Unmarshal([]byte(out), &ex); err != nil || len(ex) != 2 {
		t.Fatalf("%v: %d examples", err, len(ex))
	}
	for _, e := range ex {
		n := 0
		for i, tg := range e.Targets {
			if tg == -100 {
				continue
			}
			n++
			key := e.Inputs[i]
			// The key was written earlier, followed by its value.
			found := false
			for j := 0; j+1 < 16; j += 2 {
				if e.Inputs[j] == key && e.Inputs[j+1] == tg {
					found = true
				}
			}
			if !found || key < 1 || key >= 128 || tg < 128 {
				t.Fatalf("target %d at %d (input %d) is not the value of a context pair", tg, i, key)
			}
		}
		if len(e.Inputs) != 64 || n != 8 {
			t.Fatalf("%d inputs, %d targets", len(e.Inputs), n)
		}
	}
	// Every task samples with defaults only.
	for _, task := range []string{"ar", "needle", "selective_copy", "induction", "fuzzy_recall", "noisy_recall", "compression", "memorization"} {
		if code, _, errs := lab(t, "sample", task, "--seed", "1", "--n", "2", "--format", "json"); code != 0 {
			t.Errorf("sample %s: exit %d: %s", task, code, errs)
		}
	}
}

// Bad input: one line, exit 2, no database written.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	single := tinySpec[:strings.Index(tinySpec, "sweep:")]
	spec := func(old, new string) string { return writeSpec(t, strings.Replace(single, old, new, 1)) }
	cases := []struct {
		name string
		args []string
	}{
		{"missing spec", []string{"run", filepath.Join(dir, "nope.yaml")}},
		{"unknown mixer", []string{"run", spec("mixer: softmax", "mixer: softmx")}},
		{"unknown swept mixer", []string{"run", writeSpec(t, strings.Replace(tinySpec, `"linear(feature=relu)"`, `"linear(feature=cube)"`, 1))}},
		{"malformed mix", []string{"run", spec("mixer: softmax", `mixer: "gla*, softmax"`)}},
		{"window too large", []string{"run", spec("mixer: softmax", "mixer: swa(window=64)")}},
		{"unknown task", []string{"run", spec("name: mqar", "name: mqr")}},
		{"unknown field", []string{"run", spec("batch: 8", "batchsize: 8")}},
		{"non-positive batch", []string{"run", spec("batch: 8", "batch: -3")}},
		{"kv too large", []string{"run", spec("kv_pairs: 2, train", "kv_pairs: 9, train")}},
		{"heads not dividing", []string{"run", spec("heads: 2", "heads: 3")}},
		{"unknown device", []string{"run", "--device", "gpu", writeSpec(t, tinySpec)}},
		{"bad gpu index", []string{"run", "--device", "cuda:x", writeSpec(t, tinySpec)}},
		{"negative gpu index", []string{"run", "--device", "cuda:-1", writeSpec(t, tinySpec)}},
		{"gpu listed twice", []string{"run", "--device", "cuda:0,cuda", writeSpec(t, tinySpec)}},
		{"cpu with gpus", []string{"run", "--device", "cpu,cuda:1", writeSpec(t, tinySpec)}},
		{"empty device entry", []string{"run", "--device", "cuda:0,", writeSpec(t, tinySpec)}},
		{"too many workers", []string{"run", "--workers", "100000", writeSpec(t, tinySpec)}},
		{"unknown precision", []string{"run", "--precision", "fp16", writeSpec(t, tinySpec)}},
		{"contradicting precision", []string{"run", "--precision", "bf16", "--tf32=false", writeSpec(t, tinySpec)}},
		{"bad format", []string{"runs", "--format", "xml"}},
		{"unknown flag", []string{"runs", "--colour"}},
		{"unknown task sample", []string{"sample", "mqr"}},
		{"bad sample param", []string{"sample", "mqar", "--kv-pairs", "40"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "lab.sqlite")
			code, _, errs := lab(t, append(c.args[:1:1], append([]string{"--db", db}, c.args[1:]...)...)...)
			if c.args[0] == "sample" {
				code, _, errs = lab(t, c.args...)
			}
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errs)
			}
			if lines := strings.Count(strings.TrimSpace(errs), "\n"); lines != 0 || !strings.HasPrefix(errs, "lab: ") {
				t.Fatalf("want one line, got %q", errs)
			}
			if c.args[0] == "run" {
				if _, err := os.Stat(db); err == nil {
					t.Fatal("a database was written for bad input")
				}
			}
		})
	}
	// A directory is not a database.
	if code, _, errs := lab(t, "runs", "--db", dir); code != 2 {
		t.Fatalf("directory as --db: exit %d (%s)", code, errs)
	}
}

func TestRunAndQuery(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.sqlite")
	code, out, errs := lab(t, "run", writeSpec(t, tinySpec), "--db", db) // flags after the spec
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "acc_L16_kv2") || !strings.Contains(errs, "trial 2/2") {
		t.Fatalf("results table or progress missing:\n%s\n%s", out, errs)
	}
	code, out, errs = lab(t, "runs", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("runs: %d %s", code, errs)
	}
	var runs []struct {
		ID      string         `json:"id"`
		Status  string         `json:"status"`
		Config  map[string]any `json:"config"`
		Results []struct {
			SeqLen   int      `json:"seq_len"`
			KVPairs  int      `json:"kv_pairs"`
			Accuracy *float64 `json:"accuracy"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, r := range runs {
		if r.Status != "done" || r.Config["model"] == nil || len(r.Results) != 2 || r.Results[1].SeqLen != 32 || r.Results[1].KVPairs != 4 || r.Results[0].Accuracy == nil {
			t.Fatalf("run %+v", r)
		}
	}
	code, out, _ = lab(t, "runs", "--db", db, "--where", "model.mixer=softmax", "--format", "csv")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Fatalf("filtered runs: %d\n%s", code, out)
	}
	for _, w := range []string{"model.mixr=softmax", "model.mixr!=softmax"} { // a typo is an error, not no runs or all runs
		code, out, errs = lab(t, "runs", "--db", db, "--where", w)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.HasPrefix(errs, "lab: ") || !strings.Contains(errs, "no run's config has model.mixr; config keys in the runs: ") || !strings.Contains(errs, "model.mixer") {
			t.Fatalf("--where %s: exit %d, want 2 and one line listing the keys; stdout %q stderr %q", w, code, out, errs)
		}
	}
	code, out, _ = lab(t, "runs", "--db", db, "--where", "seed=3", "--format", "csv")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 2 {
		t.Fatalf("--where seed=3: %d\n%s", code, out)
	}
	code, out, _ = lab(t, "query", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM results")
	if code != 0 || !strings.Contains(out, "4") {
		t.Fatalf("query: %d %s", code, out)
	}
	code, out, errs = lab(t, "query", "--db", db, "--format", "csv", "-- a query may open with a comment\nSELECT count(*) AS n FROM runs")
	if code != 0 || out != "n\n2\n" {
		t.Fatalf("query opening with --: exit %d %q %s", code, out, errs)
	}
	code, out, errs = lab(t, "query", "--db", db, "--format", "csv", "PRAGMA journal_mode")
	if code != 0 || out != "journal_mode\nwal\n" {
		t.Fatalf("PRAGMA journal_mode: exit %d %q %s", code, out, errs)
	}
	for _, q := range []string{"PRAGMA writable_schema=1", "PRAGMA writable_schema(1)"} {
		code, out, errs = lab(t, "query", "--db", db, q)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.HasPrefix(errs, "lab: ") || !strings.Contains(errs, "refused: a PRAGMA that sets a value") {
			t.Fatalf("%s: exit %d, want 2 and one line refusing it; stdout %q stderr %q", q, code, out, errs)
		}
	}
	if code, _, _ = lab(t, "query", "--db", db, "DELETE FROM runs"); code == 0 {
		t.Fatal("a write query was allowed")
	}
	code, out, errs = lab(t, "show", runs[0].ID[:6], "--db", db)
	if code != 0 || !strings.Contains(out, "recall by key-query distance") {
		t.Fatalf("show: %d %s %s", code, out, errs)
	}
}

func TestSlurmScriptAndMerge(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sbatch")
	code, out, errs := lab(t, "slurm", writeSpec(t, tinySpec), "-o", script, "--partition", "gpu", "--gpus-per-task", "1", "--time", "01:00:00")
	if code != 0 {
		t.Fatalf("slurm: %d %s", code, errs)
	}
	b, _ := os.ReadFile(script)
	for _, want := range []string{"#SBATCH --array=0-1", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=1", "--trial \"$SLURM_ARRAY_TASK_ID\" --resume", "shard-${SLURM_ARRAY_TASK_ID}.sqlite"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("script lacks %q:\n%s\n%s", want, b, out)
		}
	}
	// Each array task's command, run by hand: one trial per shard, then merge.
	var shards []string
	for i := 0; i < 2; i++ {
		shard := filepath.Join(dir, fmt.Sprintf("shard-%d.sqlite", i))
		if code, _, errs := lab(t, "run", writeSpec(t, tinySpec), "--trial", fmt.Sprint(i), "--resume", "-q", "--db", shard); code != 0 {
			t.Fatalf("trial %d: %s", i, errs)
		}
		shards = append(shards, shard)
	}
	merged := filepath.Join(dir, "merged.sqlite")
	for pass, want := range []string{"2 runs added", "0 runs added"} {
		code, out, errs := lab(t, append([]string{"db", "merge", merged}, shards...)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("merge pass %d: %d %q %s", pass, code, out, errs)
		}
	}
	if code, _, _ := lab(t, "run", writeSpec(t, tinySpec), "--trial", "7", "--db", filepath.Join(dir, "x.sqlite")); code != 2 {
		t.Fatalf("--trial out of range: exit %d", code)
	}
}

// Without a GPU, `lab devices` says why in one line and exits 0.
func TestDevicesWithoutGPU(t *testing.T) {
	code, out, errs := lab(t, "devices")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out+errs, "CUDA") && !strings.Contains(out, "NVIDIA") {
		t.Fatalf("no reason given: %q %q", out, errs)
	}
}

// Without a GPU, `lab run --device cuda` says why (the library it could not
// load and where it looked) in one line, exits 1 and writes no database;
// `lab slurm` checks the device's spelling only (the login node may have no
// GPU) and refuses a malformed one.
func TestRunCUDAWithoutGPU(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, tinySpec)
	code, _, errs := lab(t, "slurm", spec, "--device", "cuda:a", "-o", filepath.Join(dir, "a.sbatch"))
	if code != 2 || !strings.Contains(errs, "--device") {
		t.Fatalf("slurm --device cuda:a: exit %d %q, want 2", code, errs)
	}
	if code, _, errs := lab(t, "slurm", spec, "--device", "cuda:1", "-o", filepath.Join(dir, "b.sbatch")); code != 0 {
		t.Fatalf("slurm --device cuda:1: exit %d %q", code, errs)
	}
	if _, err := cuda.Devices(); err == nil {
		t.Skip("a CUDA device is present")
	}
	db := filepath.Join(dir, "lab.sqlite")
	code, _, errs = lab(t, "run", spec, "--device", "cuda", "--db", db)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errs)
	}
	if strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, "libcuda.so.1") || !strings.Contains(errs, "looked in") {
		t.Fatalf("want one line naming libcuda.so.1 and where it looked, got %q", errs)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a database was written without a GPU")
	}
}

// `lab bench train` on the CPU prints the ms-per-step table and the
// details, writes --out as CSV or Markdown and records bench rows with
// --db; bad input exits 2 in one line.
func TestBenchTrain(t *testing.T) {
	dir := t.TempDir()
	tiny := []string{"bench", "train", "--d-model", "8", "--length", "8", "--length", "16", "--batch", "2", "--vocab", "32",
		"--chunk", "4", "--reps", "2", "--warmup", "1"}
	csvOut, db := filepath.Join(dir, "t.csv"), filepath.Join(dir, "b.sqlite")
	code, out, errs := lab(t, append(tiny, "--out", csvOut, "--db", db)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"impl           mixer", "L=8", "L=16", "lab            softmax", "lab            linear(feature=elu1)", "planned_gib", "device: cpu; batch 2, vocab 32"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(csvOut)
	if err != nil || strings.Count(string(b), "\n") != 5 {
		t.Fatalf("csv: %v\n%s", err, b)
	}
	code, out, _ = lab(t, "query", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM bench WHERE kind = 'train_step'")
	if code != 0 || !strings.Contains(out, "n\n8\n") {
		t.Fatalf("bench rows: %d %q", code, out)
	}
	md := filepath.Join(dir, "t.md")
	if code, _, errs := lab(t, append(tiny, "--mixer", "softmax", "--out", md)...); code != 0 {
		t.Fatalf("md: %s", errs)
	}
	if b, _ := os.ReadFile(md); !strings.Contains(string(b), "| lab | softmax | 8 |") {
		t.Fatalf("markdown:\n%s", b)
	}
	for _, bad := range [][]string{
		{"--device", "cuda:0,cuda:1"}, {"--device", "gpu"}, {"--targets", "0"}, {"--out", filepath.Join(dir, "x.txt")},
		{"--mixer", "softmx"}, {"--batch", "0"}, {"--norm", "batchnorm"}, {"--heads", "3"},
	} {
		code, _, errs := lab(t, append(tiny, bad...)...)
		if code != 2 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 and one line; stderr %q", bad, code, errs)
		}
	}
	if _, err := cuda.Devices(); err == nil {
		return
	}
	if code, _, errs := lab(t, append(tiny, "--device", "cuda")...); code != 1 || !strings.Contains(errs, "libcuda.so.1") {
		t.Errorf("--device cuda without a GPU: exit %d %q, want 1 naming libcuda.so.1", code, errs)
	}
}

// Bad input writes nothing: an index past the grid, a bad mixer among good
// ones, and read commands given a path with no database (they never create
// one) all exit 2 in one line and leave no file.
func TestBadInputWritesNothing(t *testing.T) {
	spec := writeSpec(t, tinySpec)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"trial past the grid", []string{"run", spec, "--trial", "5"}, "--trial"},
		{"over --max-mem", []string{"run", spec, "--max-mem", "1000"}, "but 1000 bytes (1000.0 B) are available (--max-mem)"},
		{"bad --max-mem", []string{"run", spec, "--max-mem", "lots"}, "--max-mem"},
		{"seq_len past memory", []string{"run", writeSpec(t, strings.Replace(tinySpec, "seq_len: 16, kv_pairs: 2, train", "seq_len: 1048576, kv_pairs: 2, train", 1))}, "train.batch x task.seq_len = 8 x 1048576: needs about"},
		{"steps 1e18", []string{"run", writeSpec(t, strings.Replace(tinySpec, "steps: 4", "steps: 1e18", 1))}, "train.steps = 1000000000000000000: must be a positive integer up to"},
		{"bench cost bad mixer after a good one", []string{"bench", "cost", "--mixer", "linear", "--mixer", "bogus", "--length", "8", "--d-model", "8", "--min-time", "1ms"}, "bogus"},
		{"runs", []string{"runs"}, "no database at"},
		{"query", []string{"query", "SELECT 1"}, "no database at"},
		{"show", []string{"show", "abc"}, "no database at"},
		{"advise", []string{"advise", "--seq-len", "16", "--recall", "0.5"}, "no database at"},
		{"plot", []string{"plot", "tradeoff", "-o", filepath.Join(t.TempDir(), "x.svg")}, "no database at"},
		{"bench cost --max-mem 0", []string{"bench", "cost", "--mixer", "linear", "--length", "8", "--d-model", "8", "--min-time", "1ms", "--max-mem", "0"}, "--max-mem 0: want a positive number of GiB"},
		{"bench cost --max-mem -1", []string{"bench", "cost", "--mixer", "linear", "--length", "8", "--d-model", "8", "--min-time", "1ms", "--max-mem", "-1"}, "--max-mem -1: want a positive"},
		{"task parameter names the file, field and line", []string{"run", writeSpec(t, strings.Replace(tinySpec, "kv_pairs: 2, train", "kv_pairs: 40, train", 1))}, "spec.yaml: trial mixer=softmax: task.kv_pairs = 40: task mqar: must be <= vocab/2-1 (15): keys are distinct ids 1..vocab/2-1 (line 3)"},
		{"eval task parameter", []string{"run", writeSpec(t, strings.Replace(tinySpec, "{seq_len: 32, kv_pairs: 4,", "{seq_len: 32, kv_pairs: 40,", 1))}, "eval[1].kv_pairs = 40: task mqar: must be <= vocab/2-1 (15): keys are distinct ids 1..vocab/2-1 (line 6)"},
		{"mixer argument names the file, field and line", []string{"run", writeSpec(t, strings.Replace(tinySpec, `"linear(feature=relu)"`, `"swa(window=0)"`, 1))}, `spec.yaml: sweep.model.mixer = "swa(window=0)": mixer swa: window=0: must be an integer >= 1 (line 10)`},
		{"top-level list", []string{"run", writeSpec(t, "- a\n- b\n")}, "spec.yaml: the document = [a, b]: must be a mapping"},
		{"trial twice", []string{"run", spec, "--trial", "0", "--trial", "0"}, "--trial = 0: allowed: each index at most once"},
		{"precision on the CPU", []string{"run", spec, "--device", "cpu", "--precision", "bf16"}, "--precision applies only to CUDA devices"},
		{"tf32 on the CPU", []string{"run", spec, "--tf32=false"}, "--tf32 applies only to CUDA devices"},
		{"bench train precision on the CPU", []string{"bench", "train", "--precision", "fp32", "--length", "8"}, "--precision applies only to CUDA devices"},
		{"plot bogus", []string{"plot", "bogus", "-o", filepath.Join(t.TempDir(), "x.svg")}, `plot: unknown kind "bogus"; allowed: recall-vs-length, tradeoff, map, sweep, cost, curves`},
		{"unknown command", []string{"bogus"}, `unknown command "bogus"; allowed: run, runs,`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "typo.sqlite")
			code, _, errs := lab(t, append(c.args, "--db", db)...)
			if code != 2 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.HasPrefix(errs, "lab: ") || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d, want 2 and one line naming %q; stderr %q", code, c.want, errs)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("bad input left %s", ents[0].Name())
			}
		})
	}
}

// Read commands open the database read-only: they write nothing beside it
// and work where the directory may not be written (checked as an
// unprivileged user in store's TestOpenReadOnlyDir).
func TestReadCommandsReadOnly(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lab.sqlite")
	d, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddBench([]store.Bench{{Kind: "forward", Mixer: "softmax", Device: "cpu", SeqLen: 8, Batch: 1, DModel: 8, Metric: "time", Value: 1.5, Unit: "ms", Config: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	before, _ := os.ReadFile(db)
	for _, args := range [][]string{{"runs"}, {"query", "SELECT value FROM bench"}, {"plot", "cost", "-o", filepath.Join(t.TempDir(), "c.svg")}} {
		code, out, errs := lab(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errs)
		}
		if args[0] == "query" && !strings.Contains(out, "1.5") {
			t.Fatalf("query: %q", out)
		}
	}
	if code, _, errs := lab(t, "query", "--db", db, "INSERT INTO bench (id) VALUES ('x')"); code != 2 {
		t.Fatalf("write through query: exit %d %s", code, errs)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Fatal("a read command changed the database file")
	}
	ents, _ := os.ReadDir(dir) // SQLite's own -wal and -shm may remain
	for _, e := range ents {
		if n := e.Name(); n != "lab.sqlite" && n != "lab.sqlite-wal" && n != "lab.sqlite-shm" {
			t.Fatalf("read commands left %s beside the database", n)
		}
	}
}

// A file error names the path once: "store: open P: not a directory", not
// "store: open P: stat P: not a directory" (nor "open x: open x: permission
// denied", the same doubling as an unprivileged user).
func TestFileErrorSaysPathOnce(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(f, "lab.sqlite")
	for _, args := range [][]string{{"runs", "--db", db}, {"run", writeSpec(t, tinySpec), "--db", db}} {
		code, _, errs := lab(t, args...)
		if code != 2 || !strings.HasPrefix(errs, "lab: ") || strings.Count(errs, db) != 1 || !strings.Contains(errs, "not a directory") {
			t.Fatalf("%v: exit %d, want 2 and one line naming %s once; stderr %q", args[0], code, db, errs)
		}
	}
}

// ^C during a sweep exits 130; the trial it stopped is cancelled with its
// run id, and the trial never begun is counted "not started", not listed as
// cancelled with a blank id.
func TestInterruptExits130(t *testing.T) {
	defer func() { signalsReady = nil }()
	signalsReady = func() { syscall.Kill(os.Getpid(), syscall.SIGINT) }
	db := filepath.Join(t.TempDir(), "lab.sqlite")
	code, out, errs := lab(t, "run", writeSpec(t, strings.Replace(tinySpec, "steps: 4", "steps: 1000000", 1)), "--db", db, "--quiet")
	if code != 130 || !strings.HasPrefix(errs, "lab: interrupted") {
		t.Fatalf("exit %d, want 130; stderr %q", code, errs)
	}
	// The signal may land before the first trial's first step (both not
	// started) or during it (1 cancelled 1 not started); the second trial
	// never starts.
	if !strings.Contains(out, " not started\n") || strings.Contains(out, "linear(feature=relu)") || strings.Contains(out, "\n ") {
		t.Fatalf("summary: %q", out)
	}
}

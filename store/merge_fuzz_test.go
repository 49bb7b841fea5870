package store

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shard writes a database as one Slurm array task would: n finished runs
// with metrics, results and buckets, and a bench row; it returns the
// file's bytes (the WAL folded in by the close).
func shard(tb testing.TB, path, host string, n int) []byte {
	tb.Helper()
	db, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		r := newRun("mqar", i, "softmax", 64)
		r.Host = host
		id := mustCreate(tb, db, r)
		if err := db.LogMetrics(id, []Metric{{0, "train/loss", 3}, {10, "train/loss", 1}}); err != nil {
			tb.Fatal(err)
		}
		f := Finish{Status: "done", Results: []Result{{EvalName: "e", SeqLen: 64, Accuracy: 0.5,
			Params: map[string]float64{"kv_pairs": 4}, ByDistance: []Bucket{{1, 2, 1, 2}}}}}
		if err := db.FinishRun(id, f); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.AddBench([]Bench{{Kind: "step", Mixer: "softmax", Device: "cpu", Host: host, SeqLen: 64, Metric: "time", Value: 1, Unit: "ms"}}); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// contents is every row of every table of the database at path, read
// read-only, with its integrity check: equal contents, an unchanged
// database.
func contents(path string) (string, error) {
	db, err := Open(path, ReadOnly())
	if err != nil {
		return "", err
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{"PRAGMA integrity_check", "SELECT * FROM runs ORDER BY id", "SELECT * FROM metrics ORDER BY rowid",
		"SELECT * FROM results ORDER BY rowid", "SELECT * FROM recall_by_distance ORDER BY rowid", "SELECT * FROM bench ORDER BY id"} {
		_, rows, err := db.Query(q)
		if err != nil {
			return "", fmt.Errorf("%s: %w", q, err)
		}
		fmt.Fprintf(&b, "%s: %v\n", q, rows)
	}
	return b.String(), nil
}

// FuzzMergeShard feeds any bytes to lab db merge as a shard (a damaged
// copy of a real one, a truncated one, garbage): no panic; an error is one
// line and leaves the target database exactly as it was (every row, and
// its integrity check); a merge that succeeds leaves a target that passes
// the integrity check and still holds all it held.
func FuzzMergeShard(f *testing.F) {
	dir := f.TempDir()
	good := shard(f, filepath.Join(dir, "good.db"), "beta", 2)
	f.Add(good)
	for _, n := range []int{0, 16, 100, 4096, len(good) / 2, len(good) - 1} {
		f.Add(good[:min(n, len(good))])
	}
	for _, at := range []int{20, 100, 4096 + 8, 2*4096 + 100, len(good) - 200} { // a flipped byte in the header, page 2, page 3, the end
		if at < len(good) {
			b := append([]byte(nil), good...)
			b[at] ^= 0xff
			f.Add(b)
		}
	}
	if len(good) > 3*4096 { // a zeroed page
		b := append([]byte(nil), good...)
		clear(b[2*4096 : 3*4096])
		f.Add(b)
	}
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte("not a database at all"))

	target := filepath.Join(dir, "target.db")
	shard(f, target, "alpha", 1)
	tdb, err := Open(target, ReadOnly())
	if err != nil {
		f.Fatal(err)
	}
	var held []string
	runs, err := tdb.Runs(Filter{})
	for _, r := range runs {
		held = append(held, r.ID)
	}
	tdb.Close()
	if err != nil || len(held) != 1 {
		f.Fatalf("target: %d runs, %v", len(held), err)
	}
	want, err := contents(target)
	if err != nil {
		f.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, in := filepath.Join(work, "out.db"), filepath.Join(work, "shard.db")
		for _, p := range []string{out, in} { // a fresh pair: no -wal or -shm of the last input
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				if err := os.Remove(p + suffix); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}
		if err := copyFile(target, out); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		added, _, merr := Merge(out, []string{in})
		t.Logf("%d bytes: added %d, %v", len(data), added, merr)
		got, err := contents(out)
		if err != nil {
			t.Fatalf("after merge (%v): the target does not read: %v", merr, err)
		}
		if merr != nil {
			if strings.Contains(merr.Error(), "\n") {
				t.Fatalf("error of several lines: %q", merr)
			}
			if got != want {
				t.Fatalf("a failed merge (%v) changed the target:\n%s\nwant\n%s", merr, got, want)
			}
			return
		}
		if sound, err := integrityOK(in); err == nil && !sound {
			t.Fatalf("a shard that fails SQLite's integrity check merged (added %d)", added)
		}
		if !strings.HasPrefix(got, "PRAGMA integrity_check: [[ok]]\n") {
			t.Fatalf("after a merge the target is not sound: %s", got)
		}
		db, err := Open(out, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, id := range held { // nothing it held is gone
			if _, err := db.Run(id); err != nil {
				t.Fatalf("after a merge the target lost run %s: %v", id, err)
			}
		}
	})
}

// integrityOK says whether SQLite's integrity check passes on the file at
// path (opened read-only, so the check changes nothing).
func integrityOK(path string) (bool, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var first string
	if err := db.QueryRow("PRAGMA integrity_check(1)").Scan(&first); err != nil {
		return false, err
	}
	return first == "ok", nil
}

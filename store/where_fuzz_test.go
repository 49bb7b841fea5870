package store

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzWhere feeds any --where expression to parseWhere and, when it parses,
// to Runs on a small database: no panic; a refused expression is one line
// of bad input; an accepted one builds SQL that runs (an SQL error would
// mean the expression reached the query unescaped) or is refused as a key
// no run has, again one line of bad input.
func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		"status=done", "status!=failed", "mixer=softmax", "model.mixer=linear(f=elu1)", "seq_len=64", "task.seq_len=512",
		"seed=1", "config.seed!=2", "params=1000", "params=many", "eval[0].seq_len=64", "model..mixer=x", "=done", "status",
		"model.mixer'); DROP TABLE runs; --=x", "error=", "model.causal=true", "d_model=6.4e1", "step_time_ms=NaN",
		"a[99999999999999999999]=1", "x!=", "!=", "trial_index=-0", "model.mixr=softmax", "status=\n", "\x00=\xff",
	} {
		f.Add(s)
	}
	db := openTemp(f)
	for i, cfg := range []string{
		`{"name":"a","seed":1,"model":{"mixer":"softmax","d_model":64,"causal":true},"task":{"name":"mqar","seq_len":64}}`,
		`{"name":"b","seed":2,"model":{"mixer":"linear(f=elu1)"},"task":{"seq_len":"512"},"eval":[{"seq_len":64}]}`,
	} {
		r := newRun("fuzz", i, "softmax", 64)
		r.Config = json.RawMessage(cfg)
		mustCreate(f, db, r)
	}
	f.Fuzz(func(t *testing.T, e string) {
		_, _, _, err := parseWhere(e)
		if err != nil {
			if !isBadInput(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("parseWhere(%q): %q; want one line of bad input", e, err)
			}
			return
		}
		if _, err := db.Runs(Filter{Where: []string{e}}); err != nil && (!isBadInput(err) || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("Runs(where %q): %q; want the query to run or one line of bad input", e, err)
		}
	})
}

package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// filterFixture makes five runs, created in this order:
//
//	0 mqar     softmax            seq 64   done
//	1 mqar     linear             seq 64   failed
//	2 mqar     softmax            seq 256  done
//	3 longrng  linear             seq 256  running   (device cuda)
//	4 longrng  "linear(f=elu1)"   seq "512" (a string) running, no causal key
func filterFixture(t *testing.T) (*DB, []string) {
	db := openTemp(t)
	specs := []NewRun{
		newRun("mqar", 0, "softmax", 64), newRun("mqar", 1, "linear", 64), newRun("mqar", 2, "softmax", 256),
		newRun("longrng", 0, "linear", 256),
		{SpecName: "longrng", TrialIndex: 1, TrialName: "odd", Device: "cpu",
			Config: json.RawMessage(`{"model":{"mixer":"linear(f=elu1)"},"task":{"seq_len":"512"}}`)},
	}
	specs[3].Device = "cuda"
	var ids []string
	for _, s := range specs {
		ids = append(ids, mustCreate(t, db, s))
	}
	db.FinishRun(ids[0], Finish{Status: "done", Results: []Result{{EvalName: "e", Accuracy: 1}}})
	db.FinishRun(ids[1], Finish{Status: "failed", Err: "boom"})
	db.FinishRun(ids[2], Finish{Status: "done"})
	return db, ids
}

func TestRunsFilters(t *testing.T) {
	db, ids := filterFixture(t)
	cases := []struct {
		name string
		f    Filter
		want []int // indexes into ids, newest first
	}{
		{"all, newest first", Filter{}, []int{4, 3, 2, 1, 0}},
		{"limit", Filter{Limit: 2}, []int{4, 3}},
		{"status field", Filter{Status: "done"}, []int{2, 0}},
		{"spec field", Filter{SpecName: "longrng"}, []int{4, 3}},
		{"column =", Filter{Where: []string{"device=cuda"}}, []int{3}},
		{"column !=", Filter{Where: []string{"status!=done"}}, []int{4, 3, 1}},
		{"numeric column", Filter{Where: []string{"params=1002"}}, []int{2}},
		{"numeric column, float form", Filter{Where: []string{"trial_index=1.0"}}, []int{4, 1}},
		{"config path", Filter{Where: []string{"model.mixer=softmax"}}, []int{2, 0}},
		{"config value with =", Filter{Where: []string{"model.mixer=linear(f=elu1)"}}, []int{4}},
		{"config number", Filter{Where: []string{"task.seq_len=256"}}, []int{3, 2}},
		{"config number matches numeric text", Filter{Where: []string{"task.seq_len=512"}}, []int{4}},
		{"config number, float form", Filter{Where: []string{"task.seq_len=64.0"}}, []int{1, 0}},
		{"config != keeps runs missing the key", Filter{Where: []string{"model.causal!=true"}}, []int{4}},
		{"config bool", Filter{Where: []string{"model.causal=true"}}, []int{3, 2, 1, 0}},
		{"config top-level", Filter{Where: []string{"config.seed=1"}}, []int{3, 2, 1, 0}},
		{"seed short key", Filter{Where: []string{"seed=1"}}, []int{3, 2, 1, 0}},
		{"empty value matches missing", Filter{Where: []string{"model.causal="}}, []int{4}},
		{"empty value on column", Filter{Where: []string{"finished_at="}}, []int{4, 3}},
		{"spaces around", Filter{Where: []string{" model.mixer = softmax "}}, []int{2, 0}},
		{"several ANDed", Filter{SpecName: "mqar", Where: []string{"model.mixer=softmax", "task.seq_len!=64"}}, []int{2}},
		{"id prefixes", Filter{IDs: []string{ids[1][:8], strings.ToUpper(ids[3])}}, []int{3, 1}},
		{"nothing", Filter{Where: []string{"model.mixer=mamba"}}, []int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := db.Runs(c.f)
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, r := range rs {
				for i, id := range ids {
					if r.ID == id {
						got = append(got, i)
					}
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got runs %v, want %v", got, c.want)
			}
		})
	}
	rs, _ := db.Runs(Filter{Status: "done"})
	if len(rs[1].Results) != 1 || rs[1].Results[0].EvalName != "e" || rs[0].Results == nil {
		t.Fatalf("Runs should load results (empty, not nil, when none): %+v", rs)
	}
}

func TestRunsBadWhere(t *testing.T) {
	db, _ := filterFixture(t)
	cases := []struct{ expr, want string }{
		{"status", "no '='"},
		{"=done", "unknown key"},
		{"stauts=done", "unknown key"},
		{"status=finished", "want one of"},
		{"params=many", "holds numbers"},
		{"task.seq_len>=64", "bad key"},
		{"model..mixer=x", "bad key"},
		{"model.mixer'); DROP TABLE runs; --=x", "bad key"},
		{"model.mixr=softmax", "no run's config has model.mixr; config keys in the runs: model.causal, model.d_model, model.mixer, name, seed, task.name, task.seq_len (or a column: device, error,"},
		{"model.mixr!=softmax", "no run's config has model.mixr"},
		{"config.sed=1", "no run's config has sed"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			_, err := db.Runs(Filter{Where: []string{c.expr}})
			if !isBadInput(err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.expr) {
				t.Fatalf("got %v; want a bad-input error naming %q and saying %q", err, c.expr, c.want)
			}
			if strings.HasSuffix(c.want, " key") && !strings.Contains(err.Error(), "KEY=VALUE or KEY!=VALUE") {
				t.Fatalf("error should list the allowed forms: %v", err)
			}
		})
	}
	if rs, err := openTemp(t).Runs(Filter{Where: []string{"model.mixr=x"}}); err != nil || len(rs) != 0 {
		t.Fatalf("no runs yet: a config key cannot be checked, want no error and no runs; got %v %v", rs, err)
	}
	if _, err := db.Runs(Filter{IDs: []string{"xyz"}}); !isBadInput(err) {
		t.Fatalf("non-hex id prefix: %v", err)
	}
}

func TestRunPrefixAndTrialKey(t *testing.T) {
	db, ids := filterFixture(t)
	if _, err := db.Run(""); !isBadInput(err) {
		t.Fatalf("empty id: %v", err)
	}
	// Sixteen runs make a shared one-digit prefix certain.
	for i := 0; i < 12; i++ {
		mustCreate(t, db, newRun("more", i, "softmax", 64))
	}
	all, _ := db.Runs(Filter{})
	seen := map[byte]bool{}
	var dup byte
	for _, r := range all {
		if seen[r.ID[0]] {
			dup = r.ID[0]
		}
		seen[r.ID[0]] = true
	}
	if _, err := db.Run(string(dup)); !isBadInput(err) || !strings.Contains(err.Error(), "more than one") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	rs, err := db.FindByTrialKey("mqar/softmax")
	if err != nil || len(rs) != 2 || rs[0].ID != ids[2] || rs[1].ID != ids[0] {
		t.Fatalf("FindByTrialKey: %d runs, %v", len(rs), err)
	}
	if rs, _ := db.FindByTrialKey("nope"); len(rs) != 0 {
		t.Fatalf("unknown key found %d runs", len(rs))
	}
}

func TestWhereAliases(t *testing.T) {
	for short, full := range whereAliases {
		a, _, _, err1 := parseWhere(short + "=3")
		b, _, _, err2 := parseWhere(full + "=3")
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("%s: %q vs %q (%v %v)", short, a, b, err1, err2)
		}
	}
}

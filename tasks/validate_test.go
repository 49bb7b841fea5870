package tasks

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidation(t *testing.T) {
	type P = map[string]float64
	cases := []struct {
		task   string
		params P
		param  string // the parameter the error must name ("" for the task name)
		text   string // a fragment the message must contain
	}{
		{"nope", nil, "", "known tasks: ar, compression"},
		{"mqar", P{"kv_pair": 4}, "kv_pair", "allowed: kv_pairs, power_a, random_non_queries, seq_len, vocab"},
		{"mqar", P{"seq_len": 64.5}, "seq_len", "integer"},
		{"mqar", P{"seq_len": math.NaN()}, "seq_len", "finite"},
		{"mqar", P{"vocab": math.Inf(1)}, "vocab", "finite"},
		{"mqar", P{"seq_len": 2}, "seq_len", ">= 4"},
		{"mqar", P{"seq_len": 66, "kv_pairs": 0}, "kv_pairs", ">= 1"},
		{"mqar", P{"seq_len": 63}, "seq_len", "even"},
		{"mqar", P{"kv_pairs": 40}, "kv_pairs", "4*kv_pairs must be <= seq_len (64)"},
		{"mqar", P{"vocab": 16, "kv_pairs": 8}, "kv_pairs", "vocab/2-1 (7)"},
		{"mqar", P{"power_a": 0}, "power_a", "> 0"},
		{"mqar", P{"power_a": 17}, "power_a", "<= 16"},
		{"mqar", P{"seq_len": 1 << 21}, "seq_len", "<= 1048576"},
		{"mqar", P{"vocab": 1e300}, "vocab", "<= 1048576"},
		{"ar", P{"kv_pairs": 32}, "kv_pairs", "2*kv_pairs+1"},
		{"ar", P{"vocab": 10}, "kv_pairs", "vocab/2-1 (4)"},
		{"needle", P{"depth": 1.5}, "depth", "[0, 1]"},
		{"needle", P{"depth": -0.1}, "depth", ">= 0"},
		{"needle", P{"vocab": 7}, "vocab", ">= 8"},
		{"selective_copy", P{"n_tokens": 200}, "n_tokens", "2*n_tokens"},
		{"selective_copy", P{"vocab": 2}, "vocab", ">= 3"},
		{"induction", P{"seq_len": 3}, "seq_len", ">= 4"},
		{"induction", P{"kv_pairs": 3}, "kv_pairs", "unknown parameter"},
		{"fuzzy_recall", P{"n_queries": 9}, "n_queries", "<= kv_pairs (8)"},
		{"fuzzy_recall", P{"key_len": 20}, "kv_pairs", "(kv_pairs+n_queries)*(key_len+value_len)"},
		{"fuzzy_recall", P{"vocab": 6, "key_len": 1}, "kv_pairs", "(vocab/2-1)^key_len (2)"},
		{"fuzzy_recall", P{"value_len": 3e9}, "value_len", "<= 2147483647"},
		{"noisy_recall", P{"noise_tokens": 100}, "noise_tokens", "4*kv_pairs+noise_tokens"},
		{"noisy_recall", P{"vocab": 19}, "noise_vocab", "vocab-4 (15)"},
		{"noisy_recall", P{"vocab": 30}, "kv_pairs", "(vocab-noise_vocab)/2-1 (6)"},
		{"noisy_recall", P{"kv_pairs": 40}, "kv_pairs", "4*kv_pairs must be <= seq_len (128)"},
		{"compression", P{"n_tokens": 17}, "n_tokens", "2*n_tokens"},
		{"memorization", P{"map_seed": -1}, "map_seed", ">= 0"},
		{"memorization", P{"map_seed": 0.5}, "map_seed", "integer"},
	}
	for _, c := range cases {
		_, err := New(c.task, c.params)
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Errorf("New(%q, %v): got %v, want a *ParamError", c.task, c.params, err)
			continue
		}
		msg := err.Error()
		if !pe.BadInput() || pe.Task != c.task || pe.Param != c.param || !strings.Contains(msg, c.text) || strings.Contains(msg, "\n") {
			t.Errorf("New(%q, %v): %q (param %q); want param %q and a one-line message containing %q", c.task, c.params, msg, pe.Param, c.param, c.text)
		}
		if c.param != "" && !strings.HasPrefix(msg, "task "+c.task+": "+c.param+"=") {
			t.Errorf("message %q does not start with the task and parameter", msg)
		}
	}
}

func TestParamErrorMessage(t *testing.T) {
	_, err := New("mqar", map[string]float64{"kv_pairs": 40})
	if got, want := err.Error(), "task mqar: kv_pairs=40: 4*kv_pairs must be <= seq_len (64)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestNoPanics builds every task with each parameter set to awkward values:
// New must return a task or a *ParamError, and a task must generate valid
// data.
func TestNoPanics(t *testing.T) {
	odd := []float64{math.NaN(), math.Inf(-1), math.Inf(1), -1, 0, 0.5, 1, 2, 3, 5, 7, 9, 33, 1e5, 1 << 20, 1e12, -1e300}
	for _, info := range List() {
		for _, p := range info.Params {
			for _, x := range odd {
				params := map[string]float64{p.Name: x}
				task, err := New(info.Name, params)
				if err != nil {
					var pe *ParamError
					if !errors.As(err, &pe) {
						t.Errorf("New(%s, %v): non-ParamError %v", info.Name, params, err)
					}
					continue
				}
				b := mustGenerate(t, task, 2, 1)
				checkRecall(t, task, b)
			}
		}
	}
}

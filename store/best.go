package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Best is what BestOver kept: the best run of each group of runs that
// differ only in Key, and how many it chose among.
type Best struct {
	Runs    []Run  // the best run of each group, in the order of the input
	Key     string // the config path compared over, aliases resolved (train.lr)
	Eval    string // the eval set that decided; "" for each run's first result
	Groups  int    // len(Runs)
	MinOf   int    // the fewest runs any group had
	MaxOf   int    // the most runs any group had
	Skipped int    // runs without a finite accuracy on Eval, left out
}

// Note says on one line what was kept, for a figure or a table: "best of 4
// over train.lr on test", "best of 2-4 over train.lr on each run's first
// eval set", with the count of runs left out when there were any.
func (b Best) Note() string {
	of := strconv.Itoa(b.MaxOf)
	if b.MinOf != b.MaxOf {
		of = fmt.Sprintf("%d-%d", b.MinOf, b.MaxOf)
	}
	on := "on " + b.Eval
	if b.Eval == "" {
		on = "on each run's first eval set"
	}
	s := fmt.Sprintf("best of %s over %s %s", of, b.Key, on)
	if b.Skipped > 0 {
		s += fmt.Sprintf(" (%d runs without that result left out)", b.Skipped)
	}
	return s
}

// BestOver keeps, among runs that differ only in the config value at key
// (a dotted config path such as train.lr; the where-aliases apply, so
// d_model means model.d_model), the run with the best accuracy on the eval
// set named eval (each run's first result when eval is ""). Runs are grouped
// by their config JSON with key removed, so runs of different seeds or specs
// stay apart. Ties go to the lowest trial index, then the earliest start,
// then the id. Runs without a finite accuracy on eval are left out and
// counted in Skipped. A key that no run's config has, or one that is not a
// config path, is an *InputError naming it.
func BestOver(runs []Run, key, eval string) (Best, error) {
	path, err := ConfigKey(key)
	if err != nil {
		return Best{}, err
	}
	b := Best{Key: path, Eval: eval}
	type group struct {
		best Run
		acc  float64
		at   int // the input position of the group's first run
		n    int
	}
	groups := map[string]*group{}
	has := false
	for i, r := range runs {
		rest, found, err := withoutPath(r.Config, path)
		if err != nil {
			return Best{}, badInput(err, "store: best over %s: run %s has a config that is not a JSON object", key, shortID(r.ID))
		}
		has = has || found
		acc, ok := RunAccuracy(r, eval)
		if !ok {
			b.Skipped++
			continue
		}
		g := groups[rest]
		if g == nil {
			groups[rest] = &group{best: r, acc: acc, at: i, n: 1}
			continue
		}
		g.n++
		if acc > g.acc || acc == g.acc && cmp.Or(cmp.Compare(r.TrialIndex, g.best.TrialIndex),
			r.StartedAt.Compare(g.best.StartedAt), cmp.Compare(r.ID, g.best.ID)) < 0 {
			g.best, g.acc = r, acc
		}
	}
	if !has && len(runs) > 0 {
		return Best{}, badInput(nil, "store: best over %q: no run's config has %s; want a config path such as train.lr or model.d_model", key, path)
	}
	gs := make([]*group, 0, len(groups))
	for _, g := range groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(x, y *group) int { return cmp.Compare(x.at, y.at) })
	b.Runs = make([]Run, 0, len(gs))
	for i, g := range gs {
		b.Runs = append(b.Runs, g.best)
		if i == 0 || g.n < b.MinOf {
			b.MinOf = g.n
		}
		b.MaxOf = max(b.MaxOf, g.n)
	}
	b.Groups = len(b.Runs)
	return b, nil
}

// RunAccuracy returns the run's accuracy on the eval set named eval (its
// first result when eval is ""), and false when it has no such result or
// the accuracy is not finite.
func RunAccuracy(r Run, eval string) (float64, bool) {
	i := 0
	if eval != "" {
		i = slices.IndexFunc(r.Results, func(x Result) bool { return x.EvalName == eval })
	}
	if i < 0 || i >= len(r.Results) {
		return 0, false
	}
	a := r.Results[i].Accuracy
	return a, !math.IsNaN(a) && !math.IsInf(a, 0)
}

// pathStep is one element of a config path: a name, then array indexes.
var pathStep = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)$`)

// ConfigKey resolves a key naming a config field: a where-alias (mixer,
// seq_len, d_model, ...) becomes its full path, a "config." prefix is
// dropped, and what remains must be a dotted config path (model.mixer,
// train.lr, eval[0].seq_len, seed). Anything else is an *InputError.
func ConfigKey(key string) (string, error) {
	k := strings.TrimSpace(key)
	if full, ok := whereAliases[k]; ok {
		return full, nil
	}
	k = strings.TrimPrefix(k, "config.")
	if k == "" || !configPath.MatchString(k) {
		return "", badInput(nil, "store: key %q: want a dotted config path such as train.lr or model.d_model, or a short name (%s)", key, aliasNames())
	}
	return k, nil
}

func aliasNames() string {
	names := make([]string, 0, len(whereAliases))
	for a := range whereAliases {
		names = append(names, a)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ConfigValue returns the value at path (as ConfigKey returns it) in a
// run's config: a string, a json.Number, a bool, nil, or a map or slice
// for an object or array; false when the config has no such field.
func ConfigValue(config json.RawMessage, path string) (any, bool) {
	v, err := decodeConfig(config)
	if err != nil {
		return nil, false
	}
	for _, step := range strings.Split(path, ".") {
		m := pathStep.FindStringSubmatch(step)
		if m == nil {
			return nil, false
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[m[1]]; !ok {
			return nil, false
		}
		for _, ix := range indexes(m[2]) {
			arr, ok := v.([]any)
			if !ok || ix >= len(arr) {
				return nil, false
			}
			v = arr[ix]
		}
	}
	return v, true
}

// FormatValue writes a config value as a label reads it: strings bare,
// numbers as JSON writes them, anything else as JSON; "(none)" for a
// missing field.
func FormatValue(v any, ok bool) string {
	if !ok {
		return "(none)"
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeConfig(config json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber() // numbers stay exact, so equal configs compare equal
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("not an object")
	}
	return v, nil
}

// indexes reads "[1][2]" as 1, 2.
func indexes(s string) []int {
	var out []int
	for _, p := range strings.Split(s, "[") {
		if p = strings.TrimSuffix(p, "]"); p != "" {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
	}
	return out
}

// withoutPath returns the config's canonical JSON (keys sorted, numbers as
// written) with the field at path removed, and whether it was there.
func withoutPath(config json.RawMessage, path string) (string, bool, error) {
	v, err := decodeConfig(config)
	if err != nil {
		return "", false, err
	}
	steps := strings.Split(path, ".")
	var cur any = v
	found := false
	for i, step := range steps {
		m := pathStep.FindStringSubmatch(step)
		obj, ok := cur.(map[string]any)
		if m == nil || !ok {
			break
		}
		next, ok := obj[m[1]]
		if !ok {
			break
		}
		ix := indexes(m[2])
		if i == len(steps)-1 && len(ix) == 0 {
			delete(obj, m[1])
			found = true
			break
		}
		for j, k := range ix {
			arr, ok := next.([]any)
			if !ok || k >= len(arr) {
				next = nil
				break
			}
			if i == len(steps)-1 && j == len(ix)-1 {
				arr[k] = "\x00removed" // keeps the other elements in place
				found = true
				break
			}
			next = arr[k]
		}
		if found || next == nil {
			break
		}
		cur = next
	}
	b, err := json.Marshal(v)
	return string(b), found, err
}

func shortID(id string) string { return id[:min(8, len(id))] }

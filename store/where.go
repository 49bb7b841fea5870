package store

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// whereCols are the runs columns a where expression may name, and whether
// each holds numbers.
var whereCols = map[string]bool{
	"id": false, "status": false, "spec_name": false, "trial_index": true, "trial_name": false,
	"trial_key": false, "device": false, "host": false, "params": true, "state_bytes": true,
	"flops_per_token": true, "started_at": false, "finished_at": false, "heartbeat_at": false,
	"wall_seconds": true, "step_time_ms": true, "error": false,
}

// configPath is a dotted path into the config: names, each with optional
// array indexes, e.g. model.mixer or eval[0].seq_len.
var configPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*)*$`)

// whereForms is the reminder a bad expression gets.
func whereForms() string {
	cols := sortedCols()
	return "want KEY=VALUE or KEY!=VALUE, KEY a column (" + strings.Join(cols, ", ") +
		") or a dotted config path (model.mixer, task.seq_len; config.seed for a top-level field); short names: mixer, task, seq_len, kv_pairs, vocab, d_model, layers, heads, seed"
}

// parseWhere turns "key=value" or "key!=value" into a SQL condition and its
// arguments. A config key missing from a run's config never equals a value
// and so always satisfies !=; an empty value matches NULL or the empty string.
// whereAliases are short names for the config fields people filter by most.
var whereAliases = map[string]string{
	"mixer": "model.mixer", "task": "task.name", "seq_len": "task.seq_len", "kv_pairs": "task.kv_pairs",
	"vocab": "task.vocab", "d_model": "model.d_model", "layers": "model.layers", "heads": "model.heads",
	"seed": "config.seed",
}

// The returned path is the JSON path ($.model.mixer) when key names a config
// field, for the caller to check that some run has it.
func parseWhere(e string) (cond string, args []any, path string, err error) {
	i := strings.IndexByte(e, '=')
	if i < 0 {
		return "", nil, "", badInput(nil, "store: where %q: no '=' or '!='; %s", e, whereForms())
	}
	key, val, neg := e[:i], e[i+1:], false
	if strings.HasSuffix(key, "!") {
		key, neg = key[:len(key)-1], true
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	if full, ok := whereAliases[key]; ok {
		key = full
	}
	match, args, err := whereMatch(e, key, val)
	if err != nil {
		return "", nil, "", err
	}
	if _, col := whereCols[key]; !col {
		path = "$." + strings.TrimPrefix(key, "config.")
	}
	if neg {
		return "NOT coalesce(" + match + ", 0)", args, path, nil
	}
	return "coalesce(" + match + ", 0)", args, path, nil
}

// checkConfigKey returns a bad-input error when runs exist and none has the
// config field at path (a typo such as model.mixr would otherwise match no
// run, or every run with !=), listing the config keys the runs have.
func (db *DB) checkConfigKey(e, path string) error {
	var any, has bool
	if err := db.sql.QueryRow(`SELECT EXISTS(SELECT 1 FROM runs), EXISTS(SELECT 1 FROM runs WHERE json_type(config, ?) IS NOT NULL)`, path).Scan(&any, &has); err != nil {
		return err
	}
	if !any || has {
		return nil
	}
	rows, err := db.sql.Query(`SELECT DISTINCT replace(substr(t.fullkey, 3), '"', '') FROM runs, json_tree(runs.config) AS t
		WHERE t.type NOT IN ('object', 'array') AND t.fullkey NOT LIKE '%]%' ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return badInput(nil, "store: where %q: no run's config has %s; config keys in the runs: %s (or a column: %s)", e, path[2:], strings.Join(keys, ", "), strings.Join(sortedCols(), ", "))
}

func sortedCols() []string {
	cols := make([]string, 0, len(whereCols))
	for c := range whereCols {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	return cols
}

// whereMatch builds the (possibly NULL) truth of key = val.
func whereMatch(e, key, val string) (string, []any, error) {
	num, numErr := strconv.ParseFloat(val, 64)
	isNum := numErr == nil && !math.IsNaN(num) && !math.IsInf(num, 0)
	if numeric, ok := whereCols[key]; ok {
		switch {
		case val == "":
			return "(" + key + " IS NULL OR " + key + " = '')", nil, nil
		case numeric && !isNum:
			return "", nil, badInput(nil, "store: where %q: %s holds numbers, got %q", e, key, val)
		case numeric:
			return key + " = ?", []any{num}, nil
		case key == "status" && !slices.Contains(Statuses, val):
			return "", nil, badInput(nil, "store: where %q: status %q, want one of %s", e, val, strings.Join(Statuses, ", "))
		}
		return key + " = ?", []any{val}, nil
	}
	path, ok := strings.CutPrefix(key, "config.")
	if !ok && !strings.ContainsAny(key, ".[") {
		return "", nil, badInput(nil, "store: where %q: unknown key %q; %s", e, key, whereForms())
	}
	if !configPath.MatchString(path) {
		return "", nil, badInput(nil, "store: where %q: bad key %q; %s", e, key, whereForms())
	}
	jp := "$." + path
	// json_type tells JSON true/false apart from 1/0.
	x := "(CASE json_type(config, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE json_extract(config, ?) END)"
	switch {
	case val == "":
		return "(" + x + " IS NULL OR " + x + " = '')", []any{jp, jp, jp, jp}, nil
	case isNum:
		return "(" + x + " = ? OR " + x + " = ?)", []any{jp, jp, num, jp, jp, val}, nil
	}
	return x + " = ?", []any{jp, jp, val}, nil
}

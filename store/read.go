package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Run is one recorded run with its results. Its JSON is what lab runs and
// lab show print. A FLOPs count or timing that was NaN or infinite when
// written is stored as NULL and reads as 0.
type Run struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	SpecName      string          `json:"spec_name"`
	TrialIndex    int             `json:"trial_index"`
	TrialName     string          `json:"trial_name"`
	TrialKey      string          `json:"-"`
	Config        json.RawMessage `json:"config"` // the trial spec, a JSON object
	Results       []Result        `json:"results"`
	Device        string          `json:"device"`
	Host          string          `json:"-"`
	Params        int64           `json:"params"`
	StateBytes    int64           `json:"state_bytes"`
	FLOPsPerToken float64         `json:"flops_per_token"`
	StartedAt     time.Time       `json:"started_at"`
	FinishedAt    *time.Time      `json:"finished_at"` // nil while running
	HeartbeatAt   time.Time       `json:"-"`
	WallSeconds   float64         `json:"wall_seconds"`
	StepTimeMS    float64         `json:"step_time_ms"`
	Error         string          `json:"error"`
}

// Filter selects runs. Empty fields select everything.
type Filter struct {
	Status   string
	SpecName string
	// Where holds KEY=VALUE or KEY!=VALUE: KEY is a runs column (status,
	// device, spec_name, params, ...) or a dotted path into the config
	// (model.mixer, task.seq_len; config.seed for a top-level field). A VALUE
	// that parses as a number is compared numerically.
	Where []string
	IDs   []string // full ids or prefixes; a run matching any is selected
	Limit int      // at most this many, newest first; 0 = all
}

const runCols = `id, status, spec_name, trial_index, trial_name, trial_key, config, device, host,
	params, state_bytes, flops_per_token, started_at, finished_at, heartbeat_at, wall_seconds, step_time_ms, error`

// Runs returns the runs f selects, newest first, with their results.
func (db *DB) Runs(f Filter) ([]Run, error) {
	var conds []string
	var args []any
	if f.Status != "" {
		f.Where = append([]string{"status=" + f.Status}, f.Where...)
	}
	if f.SpecName != "" {
		conds, args = append(conds, "spec_name = ?"), append(args, f.SpecName)
	}
	for _, e := range f.Where {
		c, a, path, err := parseWhere(e)
		if err != nil {
			return nil, err
		}
		if path != "" {
			if err := db.checkConfigKey(e, path); err != nil {
				return nil, err
			}
		}
		conds, args = append(conds, c), append(args, a...)
	}
	if len(f.IDs) > 0 {
		var or []string
		for _, p := range f.IDs {
			p, err := idPrefix(p)
			if err != nil {
				return nil, err
			}
			or, args = append(or, "substr(id, 1, ?) = ?"), append(args, len(p), p)
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	q := "SELECT " + runCols + " FROM runs"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY started_at DESC, trial_index DESC, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return db.queryRuns(q, args...)
}

// Run returns the run whose id is id or starts with it; a prefix must match
// exactly one run.
func (db *DB) Run(id string) (*Run, error) {
	full, err := db.resolve(id)
	if err != nil {
		return nil, err
	}
	rs, err := db.queryRuns("SELECT "+runCols+" FROM runs WHERE id = ?", full)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, badInput(ErrNotFound, "store: run %q", id)
	}
	return &rs[0], nil
}

// FindByTrialKey returns the runs of a trial config, newest first, for resume.
func (db *DB) FindByTrialKey(key string) ([]Run, error) {
	if key == "" {
		return nil, badInput(nil, "store: find by trial key: empty key")
	}
	return db.queryRuns("SELECT "+runCols+" FROM runs WHERE trial_key = ? ORDER BY started_at DESC, id", key)
}

// Metrics returns the run's logged metrics in step order, then name order.
// id may be a unique prefix.
func (db *DB) Metrics(id string) ([]Metric, error) {
	full, err := db.resolve(id)
	if err != nil {
		return nil, err
	}
	rows, err := db.sql.Query(`SELECT step, name, value FROM metrics WHERE run_id = ? ORDER BY step, name`, full)
	if err != nil {
		return nil, fmt.Errorf("store: metrics: %w", err)
	}
	defer rows.Close()
	ms := []Metric{}
	for rows.Next() {
		var m Metric
		var v sql.NullFloat64
		if err := rows.Scan(&m.Step, &m.Name, &v); err != nil {
			return nil, fmt.Errorf("store: metrics: %w", err)
		}
		m.Value = orNaN(v)
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// ByDistance returns the run's recall by key-query distance, by eval set
// name, buckets in distance order. id may be a unique prefix.
func (db *DB) ByDistance(id string) (map[string][]Bucket, error) {
	full, err := db.resolve(id)
	if err != nil {
		return nil, err
	}
	rows, err := db.sql.Query(`SELECT eval_name, lo, hi, correct, total FROM recall_by_distance
		WHERE run_id = ? ORDER BY eval_name, lo`, full)
	if err != nil {
		return nil, fmt.Errorf("store: recall by distance: %w", err)
	}
	defer rows.Close()
	out := map[string][]Bucket{}
	for rows.Next() {
		var name string
		var b Bucket
		if err := rows.Scan(&name, &b.Lo, &b.Hi, &b.Correct, &b.Total); err != nil {
			return nil, fmt.Errorf("store: recall by distance: %w", err)
		}
		out[name] = append(out[name], b)
	}
	return out, rows.Err()
}

// idPrefix checks that p looks like (the start of) a run id.
func idPrefix(p string) (string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "" || strings.Trim(p, "0123456789abcdef") != "" {
		return "", badInput(nil, "store: run id %q: want hex digits (a run id or its start)", p)
	}
	return p, nil
}

// resolve turns a unique id prefix into the full id.
func (db *DB) resolve(prefix string) (string, error) {
	p, err := idPrefix(prefix)
	if err != nil {
		return "", err
	}
	rows, err := db.sql.Query(`SELECT id FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2`, len(p), p)
	if err != nil {
		return "", fmt.Errorf("store: run %q: %w", prefix, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", badInput(ErrNotFound, "store: run %q", prefix)
	case 1:
		return ids[0], nil
	}
	return "", badInput(nil, "store: run id prefix %q matches more than one run; give more digits", prefix)
}

// queryRuns runs a SELECT of runCols and loads the runs' results.
func (db *DB) queryRuns(q string, args ...any) ([]Run, error) {
	rows, err := db.sql.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	defer rows.Close()
	runs := []Run{}
	at := map[string]int{}
	for rows.Next() {
		var r Run
		var cfg, started, heartbeat string
		var finished sql.NullString
		var flops, wall, step sql.NullFloat64
		if err := rows.Scan(&r.ID, &r.Status, &r.SpecName, &r.TrialIndex, &r.TrialName, &r.TrialKey, &cfg,
			&r.Device, &r.Host, &r.Params, &r.StateBytes, &flops, &started, &finished, &heartbeat,
			&wall, &step, &r.Error); err != nil {
			return nil, fmt.Errorf("store: runs: %w", err)
		}
		r.Config = json.RawMessage(cfg)
		r.FLOPsPerToken, r.WallSeconds, r.StepTimeMS = flops.Float64, wall.Float64, step.Float64
		r.StartedAt, r.HeartbeatAt = parseTime(started), parseTime(heartbeat)
		if finished.Valid {
			t := parseTime(finished.String)
			r.FinishedAt = &t
		}
		r.Results = []Result{}
		at[r.ID] = len(runs)
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	rows.Close()
	if len(runs) == 0 {
		return runs, nil
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	idj, _ := json.Marshal(ids)
	rrows, err := db.sql.Query(`SELECT run_id, eval_name, seq_len, kv_pairs, accuracy, loss, examples, params
		FROM results WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, rowid`, string(idj))
	if err != nil {
		return nil, fmt.Errorf("store: results: %w", err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var id, ps string
		var x Result
		var acc, loss sql.NullFloat64
		if err := rrows.Scan(&id, &x.EvalName, &x.SeqLen, &x.KVPairs, &acc, &loss, &x.Examples, &ps); err != nil {
			return nil, fmt.Errorf("store: results: %w", err)
		}
		x.Accuracy, x.Loss = orNaN(acc), orNaN(loss)
		var raw map[string]*float64
		if json.Unmarshal([]byte(ps), &raw) == nil && len(raw) > 0 {
			x.Params = map[string]float64{}
			for k, v := range raw {
				x.Params[k] = math.NaN()
				if v != nil {
					x.Params[k] = *v
				}
			}
		}
		i := at[id]
		runs[i].Results = append(runs[i].Results, x)
	}
	return runs, rrows.Err()
}

// orNaN reads a nullable REAL: NULL stands for NaN.
func orNaN(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

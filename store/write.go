package store

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Statuses a run can have. A run is "running" from CreateRun until FinishRun
// or MarkStale gives it one of the others.
var Statuses = []string{"running", "done", "failed", "diverged", "interrupted", "cancelled"}

// NewRun describes a run about to start.
type NewRun struct {
	SpecName      string
	TrialIndex    int
	TrialName     string
	TrialKey      string          // hash of the trial config, for resume
	Config        json.RawMessage // the full trial spec, a JSON object
	Device        string
	Host          string
	Params        int64   // parameter count
	StateBytes    int64   // recurrent state or KV cache bytes
	FLOPsPerToken float64 // at the training length
}

// Metric is one logged value: a training loss, an eval accuracy.
type Metric struct {
	Step  int     `json:"step"`
	Name  string  `json:"name"`
	Value float64 `json:"value"` // NaN and ±Inf encode as JSON null
}

// Finish is how a run ended.
type Finish struct {
	Status     string   // one of Statuses other than "running"
	Results    []Result // one per eval set
	Wall       float64  // wall seconds
	StepTimeMS float64  // mean training step time
	Err        string   // the error, for failed runs
}

// Result is a run's score on one eval set.
type Result struct {
	EvalName   string             `json:"eval_name"`
	SeqLen     int                `json:"seq_len"`
	KVPairs    int                `json:"kv_pairs"`
	Accuracy   float64            `json:"accuracy"`
	Loss       float64            `json:"loss"`
	Examples   int                `json:"examples"`
	Params     map[string]float64 `json:"-"` // the eval set's task params
	ByDistance []Bucket           `json:"-"` // read with DB.ByDistance
}

// Bucket is recall over key-query distances in [Lo, Hi), powers of two.
type Bucket struct {
	Lo      int `json:"lo"`
	Hi      int `json:"hi"`
	Correct int `json:"correct"`
	Total   int `json:"total"`
}

// newID returns a random 128-bit id in hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// finite returns f, or nil (SQL NULL) when f is NaN or infinite.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// CreateRun records a run with status running, before training starts, and
// returns its new id. Config must be a JSON object (empty means {}).
//
// The run is owned by the calling process (see Owner); ClaimTrial is the
// way for processes that may race on one trial.
func (db *DB) CreateRun(r NewRun) (string, error) {
	self := Self()
	if r.Host != "" {
		self.Host = r.Host
	}
	id, err := insertRun(db.sql, r, self, db.stamp())
	if err != nil {
		return "", fmt.Errorf("store: create run: %w", err)
	}
	return id, nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

// insertRun writes a new running run owned by owner and returns its id.
func insertRun(ex execer, r NewRun, owner Owner, now string) (string, error) {
	cfg := r.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(cfg, &obj); err != nil || obj == nil {
		return "", badInput(err, "store: create run %s/%s: config must be a JSON object", r.SpecName, r.TrialName)
	}
	id := newID()
	_, err := ex.Exec(`INSERT INTO runs (id, spec_name, trial_index, trial_name, trial_key, config,
		status, device, host, params, state_bytes, flops_per_token, started_at, heartbeat_at, owner_pid, owner_start)
		VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, r.SpecName, r.TrialIndex, r.TrialName, r.TrialKey, string(cfg),
		r.Device, owner.Host, r.Params, r.StateBytes, finite(r.FLOPsPerToken), now, now, owner.PID, owner.Start)
	if err != nil {
		return "", err
	}
	return id, nil
}

// touch refreshes a run's heartbeat, failing if the run does not exist.
func touch(tx *sql.Tx, runID, now string) error {
	res, err := tx.Exec(`UPDATE runs SET heartbeat_at = ? WHERE id = ?`, now, runID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return badInput(ErrNotFound, "run %q", runID)
	}
	return nil
}

// LogMetrics writes ms for the run in one transaction and refreshes its
// heartbeat. A metric logged again at the same step replaces the old value.
func (db *DB) LogMetrics(runID string, ms []Metric) error {
	err := db.tx(func(tx *sql.Tx) error {
		if err := touch(tx, runID, db.stamp()); err != nil {
			return err
		}
		st, err := tx.Prepare(`INSERT OR REPLACE INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range ms {
			if _, err := st.Exec(runID, m.Step, m.Name, m.Value); err != nil { // NaN binds as NULL
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: log metrics: %w", err)
	}
	return nil
}

// Heartbeat marks the run alive now.
func (db *DB) Heartbeat(runID string) error {
	if err := db.tx(func(tx *sql.Tx) error { return touch(tx, runID, db.stamp()) }); err != nil {
		return fmt.Errorf("store: heartbeat: %w", err)
	}
	return nil
}

// FinishRun records how the run ended: its status, timings, error, and its
// results with recall by distance, all in one transaction. Finishing a run
// again replaces its results.
func (db *DB) FinishRun(runID string, f Finish) error {
	if f.Status == "running" || !slices.Contains(Statuses, f.Status) {
		return badInput(nil, "store: finish run %s: status %q, want one of done, failed, diverged, interrupted, cancelled", runID, f.Status)
	}
	seen := map[string]bool{}
	for _, r := range f.Results {
		if seen[r.EvalName] {
			return badInput(nil, "store: finish run %s: eval set %q given twice", runID, r.EvalName)
		}
		seen[r.EvalName] = true
	}
	now := db.stamp()
	err := db.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status = ?, finished_at = ?, heartbeat_at = ?,
			wall_seconds = ?, step_time_ms = ?, error = ? WHERE id = ?`,
			f.Status, now, now, finite(f.Wall), finite(f.StepTimeMS), f.Err, runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return badInput(ErrNotFound, "run %q", runID)
		}
		if _, err := tx.Exec(`DELETE FROM results WHERE run_id = ?`, runID); err != nil {
			return err
		}
		for _, r := range f.Results {
			if err := insertResult(tx, runID, r); err != nil {
				return fmt.Errorf("eval set %q: %w", r.EvalName, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: finish run: %w", err)
	}
	return nil
}

func insertResult(tx *sql.Tx, runID string, r Result) error {
	ps := map[string]any{}
	for k, v := range r.Params {
		ps[k] = finite(v)
	}
	pj, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO results (run_id, eval_name, seq_len, kv_pairs, accuracy, loss, examples, params)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		runID, r.EvalName, r.SeqLen, r.KVPairs, r.Accuracy, r.Loss, r.Examples, string(pj)); err != nil {
		return err
	}
	for _, b := range r.ByDistance {
		if _, err := tx.Exec(`INSERT INTO recall_by_distance (run_id, eval_name, lo, hi, correct, total)
			VALUES (?, ?, ?, ?, ?, ?)`, runID, r.EvalName, b.Lo, b.Hi, b.Correct, b.Total); err != nil {
			return fmt.Errorf("bucket [%d, %d): %w", b.Lo, b.Hi, err)
		}
	}
	return nil
}

// MarkStale marks interrupted every run still running whose last heartbeat
// is older than olderThan: its process died without finishing it. It returns
// how many runs it marked.
func (db *DB) MarkStale(olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, badInput(nil, "store: mark stale: negative age %v", olderThan)
	}
	cutoff := db.now().Add(-olderThan).UTC().Format(timeFormat)
	var n int64
	err := db.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status = 'interrupted', finished_at = heartbeat_at,
			error = CASE WHEN error = '' THEN ? ELSE error END
			WHERE status = 'running' AND heartbeat_at < ?`,
			fmt.Sprintf("no heartbeat for over %v: the process died or was killed", olderThan), cutoff)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: mark stale: %w", err)
	}
	return int(n), nil
}

// MarshalJSON writes a non-finite value as null.
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Step  int    `json:"step"`
		Name  string `json:"name"`
		Value any    `json:"value"`
	}{m.Step, m.Name, finite(m.Value)})
}

// MarshalJSON writes the fields tagged on Result; a non-finite accuracy or
// loss (a diverged run) is written as null.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		EvalName string `json:"eval_name"`
		SeqLen   int    `json:"seq_len"`
		KVPairs  int    `json:"kv_pairs"`
		Accuracy any    `json:"accuracy"`
		Loss     any    `json:"loss"`
		Examples int    `json:"examples"`
	}{r.EvalName, r.SeqLen, r.KVPairs, finite(r.Accuracy), finite(r.Loss), r.Examples})
}

// ReopenRun sets an unfinished run (interrupted, failed or cancelled) back to
// running so a resumed process can continue it under the same id; metrics
// already logged stay.
func (db *DB) ReopenRun(runID string) error {
	err := db.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE runs SET status = 'running', finished_at = NULL, error = '', heartbeat_at = ?
			WHERE id = ? AND status != 'done'`, db.stamp(), runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return badInput(ErrNotFound, "run %q (or it is done)", runID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: reopen run: %w", err)
	}
	return nil
}

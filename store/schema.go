package store

import (
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema, in order: migration i brings the database to
// version i+1. Never edit one that has shipped; append a new one.
var migrations = []string{
	// 1: runs, their metrics, results, recall by distance; cost benchmarks.
	`
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,          -- random 128-bit hex: merges never clash
	spec_name       TEXT NOT NULL,
	trial_index     INTEGER NOT NULL,
	trial_name      TEXT NOT NULL,
	trial_key       TEXT NOT NULL,             -- hash of the trial config, for resume
	config          TEXT NOT NULL CHECK (json_valid(config)), -- the full trial spec
	status          TEXT NOT NULL CHECK (status IN
	                  ('running','done','failed','diverged','interrupted','cancelled')),
	device          TEXT NOT NULL,
	host            TEXT NOT NULL,
	params          INTEGER NOT NULL,          -- parameter count
	state_bytes     INTEGER NOT NULL,          -- recurrent state (or KV cache) bytes
	flops_per_token REAL,
	started_at      TEXT NOT NULL,             -- UTC, 2006-01-02T15:04:05.000Z
	finished_at     TEXT,
	heartbeat_at    TEXT NOT NULL,
	wall_seconds    REAL,
	step_time_ms    REAL,
	error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_status_heartbeat ON runs (status, heartbeat_at);
CREATE INDEX runs_trial_key ON runs (trial_key);
CREATE INDEX runs_spec ON runs (spec_name, trial_index);

CREATE TABLE metrics (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step   INTEGER NOT NULL,
	name   TEXT NOT NULL,                      -- train/loss, eval/<set>/accuracy, ...
	value  REAL,                               -- NULL: NaN
	PRIMARY KEY (run_id, name, step)
);

CREATE TABLE results (
	run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	eval_name TEXT NOT NULL,
	seq_len   INTEGER NOT NULL,
	kv_pairs  INTEGER NOT NULL,
	accuracy  REAL,
	loss      REAL,
	examples  INTEGER NOT NULL,
	params    TEXT NOT NULL CHECK (json_valid(params)), -- the eval set's task params
	PRIMARY KEY (run_id, eval_name)
);

CREATE TABLE recall_by_distance (
	run_id    TEXT NOT NULL,
	eval_name TEXT NOT NULL,
	lo        INTEGER NOT NULL,                -- bucket [lo, hi) of key-query distance
	hi        INTEGER NOT NULL CHECK (hi > lo),
	correct   INTEGER NOT NULL CHECK (correct >= 0 AND correct <= total),
	total     INTEGER NOT NULL,
	PRIMARY KEY (run_id, eval_name, lo),
	FOREIGN KEY (run_id, eval_name) REFERENCES results (run_id, eval_name) ON DELETE CASCADE
);

CREATE TABLE bench (
	id         TEXT PRIMARY KEY,               -- random 128-bit hex, like runs
	kind       TEXT NOT NULL,                  -- forward, step, recurrent, ...
	mixer      TEXT NOT NULL,
	device     TEXT NOT NULL,
	host       TEXT NOT NULL,
	seq_len    INTEGER NOT NULL,
	batch      INTEGER NOT NULL,
	d_model    INTEGER NOT NULL,
	metric     TEXT NOT NULL,                  -- time, peak_memory, ...
	value      REAL,
	unit       TEXT NOT NULL,
	config     TEXT NOT NULL CHECK (json_valid(config)),
	created_at TEXT NOT NULL
);
CREATE INDEX bench_lookup ON bench (kind, mixer, device, seq_len);
`,
	// 2: the process that owns a run (with runs.host), so a resume on the
	// same host takes over a run whose owner is gone at once, and leaves
	// alone one whose owner lives. NULL for runs written before.
	`
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_start TEXT; -- "<boot id>:<start ticks>" from /proc
`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate applies the migrations db lacks, each in its own IMMEDIATE
// transaction that also records it in schema_migrations. Concurrent openers
// queue on the write lock and re-read the version inside it, so each
// migration runs once.
func migrate(db *sql.DB, ms []string) error {
	v, err := schemaVersion(db)
	if err != nil {
		return err
	}
	if v > len(ms) {
		return badInput(nil, "database schema version %d is newer than this build of lab knows (%d); update lab", v, len(ms))
	}
	for i := v; i < len(ms); i++ {
		err := func() error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
				version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
				return err
			}
			var cur int
			if err := tx.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
				return err
			}
			if cur > i {
				return nil // another process got here first
			}
			if _, err := tx.Exec(ms[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				i+1, time.Now().UTC().Format(timeFormat)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// schemaVersion returns the highest applied migration, 0 for a new file.
func schemaVersion(db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	err := db.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

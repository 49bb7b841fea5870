package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// mergeTables are the tables Merge copies, with their columns, in an order
// that satisfies foreign keys. Rows of runs already in the output are skipped;
// bench rows are keyed by their own random id.
var mergeTables = []struct{ name, cols, runKey string }{
	{"runs", runCols, "id"},
	{"metrics", "run_id, step, name, value", "run_id"},
	{"results", "run_id, eval_name, seq_len, kv_pairs, accuracy, loss, examples, params", "run_id"},
	{"recall_by_distance", "run_id, eval_name, lo, hi, correct, total", "run_id"},
}

const benchCols = "id, kind, mixer, device, host, seq_len, batch, d_model, metric, value, unit, config, created_at"

// Merge copies the runs (with their metrics, results and recall buckets) and
// bench rows of the databases ins into out, creating out if missing. A run
// whose id out already holds is skipped, so merging the same file twice adds
// nothing. Each input is merged in one transaction. Inputs are brought to the
// current schema first, like any database lab opens.
func Merge(out string, ins []string) (added, skipped int, err error) {
	if len(ins) == 0 {
		return 0, 0, badInput(nil, "store: merge into %s: no input databases", out)
	}
	for _, in := range ins {
		st, err := os.Stat(in)
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, badInput(nil, "store: merge: input %s does not exist", in)
		}
		if err != nil {
			return 0, 0, badInput(err, "store: merge")
		}
		if ost, err := os.Stat(out); err == nil && os.SameFile(st, ost) {
			return 0, 0, badInput(nil, "store: merge: input %s is the output", in)
		}
		db, err := Open(in) // validates the file and migrates it
		if err != nil {
			return 0, 0, err
		}
		bad, err := db.damaged()
		db.Close()
		if err != nil || bad != "" {
			if bad == "" {
				bad = err.Error()
			}
			return 0, 0, badInput(nil, "store: merge: input %s is damaged (sqlite integrity_check: %s)", in, oneLine(bad))
		}
	}
	dst, err := Open(out)
	if err != nil {
		return 0, 0, err
	}
	defer dst.Close()
	for _, in := range ins {
		a, s, err := dst.mergeOne(in)
		if err != nil {
			return added, skipped, fmt.Errorf("store: merge %s into %s: %w", in, out, err)
		}
		added, skipped = added+a, skipped+s
	}
	return added, skipped, nil
}

// mergeOne attaches in read-only and copies its new rows in one transaction.
func (db *DB) mergeOne(in string) (added, skipped int, err error) {
	abs, err := filepath.Abs(in)
	if err != nil {
		return 0, 0, err
	}
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?mode=ro"
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS src", uri); err != nil {
		return 0, 0, err
	}
	defer func() {
		if _, derr := conn.ExecContext(ctx, "DETACH DATABASE src"); derr != nil {
			discard(conn)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TEMP TABLE IF NOT EXISTS merge_new (id TEXT PRIMARY KEY)`,
		`DELETE FROM temp.merge_new`,
		`INSERT INTO temp.merge_new SELECT id FROM src.runs WHERE id NOT IN (SELECT id FROM main.runs)`,
	}
	for _, t := range mergeTables {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO main.%[1]s (%[2]s) SELECT %[2]s FROM src.%[1]s
			WHERE %[3]s IN (SELECT id FROM temp.merge_new) ORDER BY rowid`, t.name, t.cols, t.runKey))
	}
	stmts = append(stmts, fmt.Sprintf(`INSERT OR IGNORE INTO main.bench (%[1]s) SELECT %[1]s FROM src.bench ORDER BY rowid`, benchCols))
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return 0, 0, err
		}
	}
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM temp.merge_new), (SELECT count(*) FROM src.runs)`).Scan(&added, &total); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return added, total - added, nil
}

// damaged runs SQLite's integrity_check over the whole file and returns its
// first complaint, or "" for a sound database. A merge reads every table
// of its inputs, and a flipped byte in a page can leave rows that still
// read: the check refuses such a shard before any row is copied.
func (db *DB) damaged() (string, error) {
	var first string
	if err := db.sql.QueryRow("PRAGMA integrity_check(1)").Scan(&first); err != nil {
		return "", err
	}
	if first == "ok" {
		return "", nil
	}
	return first, nil
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Package store keeps lab's record of runs in one SQLite file: the run row
// written before training starts, metrics as they come, results and recall by
// distance at the end, and cost benchmarks. Several processes may share one
// file: it runs in WAL mode with a busy timeout, and every multi-row write is a
// single IMMEDIATE transaction, so nothing is half-written and no row is lost.
//
// The schema is created and upgraded by versioned migrations (schema.go);
// writes are in write.go, reads in read.go and where.go, the read-only SQL
// door in query.go, and merging databases from several machines in merge.go.
package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// BusyTimeout is how long a write waits for another process's write lock
// before it gives up.
const BusyTimeout = 10 * time.Second

// DB is an open lab database. It is safe for concurrent use by several
// goroutines; several processes may open the same file at once.
type DB struct {
	sql  *sql.DB
	path string
	now  func() time.Time // the clock; tests replace it
}

// InputError is an error caused by what the caller gave: a file that is not
// a database, a malformed filter, a run id that matches nothing. Its BadInput
// method lets the CLI map it to exit status 2.
type InputError struct {
	Msg string // what was wrong, naming the input
	Err error  // the cause, if any
}

// Error returns the message on one line.
// A cause that repeats the path the message already names (an
// *fs.PathError, "open x: permission denied") is given by its reason alone,
// so the path is said once.
func (e *InputError) Error() string {
	s := e.Msg
	if e.Err != nil {
		cause := e.Err.Error()
		var pe *fs.PathError
		if errors.As(e.Err, &pe) && pe.Path != "" && strings.Contains(e.Msg, pe.Path) && cause == pe.Error() {
			cause = pe.Err.Error()
		}
		s += ": " + cause
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// BadInput reports that the error is the user's to fix.
func (e *InputError) BadInput() bool { return true }

// ErrNotFound is the cause of the InputError returned when a run id or
// prefix matches no run.
var ErrNotFound = errors.New("not found")

func badInput(err error, format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...), Err: err}
}

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// ErrNoDatabase is the cause of the InputError returned when a read-only
// open finds no file at the path.
var ErrNoDatabase = errors.New("no database")

// Option changes how Open opens a database.
type Option func(*options)

type options struct{ readOnly bool }

// ReadOnly opens an existing database for reading only: a missing path is an
// *InputError wrapping ErrNoDatabase (nothing is created), no migration runs
// and every write fails. It works in a directory lab may not write to: where
// the directory is not writable and no write-ahead log is pending, the file
// is opened immutable (SQLite then needs no -shm file beside it).
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// Open opens the database at path, creating it if missing, and brings its
// schema up to date; with ReadOnly it only opens an existing one. A path
// that is a directory, unreadable, or not a SQLite database gives an
// *InputError naming the path.
func Open(path string, opts ...Option) (*DB, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if path == "" {
		return nil, badInput(nil, "store: open: empty database path")
	}
	if o.readOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, badInput(ErrNoDatabase, "store: no database at %s", path)
		}
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, badInput(err, "store: open %s", path)
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	if o.readOnly {
		q.Set("mode", "ro")
		if immutable(abs) {
			q.Set("immutable", "1")
		}
	} else {
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate") // writers queue at BEGIN, never mid-transaction
	}
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	sdb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, openError(path, err)
	}
	db := &DB{sql: sdb, path: path, now: time.Now}
	if o.readOnly {
		if err := checkReadable(sdb); err != nil {
			sdb.Close()
			return nil, openError(path, err)
		}
		return db, nil
	}
	if err := setWAL(sdb); err != nil {
		sdb.Close()
		return nil, openError(path, err)
	}
	if err := migrate(sdb, migrations); err != nil {
		sdb.Close()
		return nil, openError(path, err)
	}
	return db, nil
}

// immutable reports whether a read-only open of abs must tell SQLite the
// file cannot change: its directory is not writable (so SQLite could not
// create the -shm file WAL readers need, and no writer can be at work
// there) and no write-ahead log with content lies beside it.
func immutable(abs string) bool {
	if st, err := os.Stat(abs + "-wal"); err == nil && st.Size() > 0 {
		return false
	}
	return syscall.Access(filepath.Dir(abs), 2 /* W_OK */) != nil
}

// checkReadable reads the schema version of a read-only database: one this
// build can read, or an *InputError saying why not.
func checkReadable(sdb *sql.DB) error {
	v, err := schemaVersion(sdb)
	if err != nil {
		return err
	}
	switch {
	case v == 0:
		return badInput(nil, "not a lab database (no schema)")
	case v > len(migrations):
		return badInput(nil, "database schema version %d is newer than this build of lab knows (%d); update lab", v, len(migrations))
	}
	// An older schema (v < len(migrations)) reads as well: what later
	// migrations added (the owner columns) is only read by writers, which
	// migrate first.
	return nil
}

// setWAL switches the file to WAL journaling, which lasts in the file. The
// switch needs an exclusive lock, and SQLite answers BUSY at once, without
// waiting, when another connection is switching the same new file at the same
// moment; so it retries until BusyTimeout.
func setWAL(db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var mode string
		err := db.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil && mode != "wal" {
			return fmt.Errorf("journal mode %q: this file system does not support WAL", mode)
		}
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// checkFile rejects, before SQLite sees it, a path that is a directory or a
// file that cannot be read or does not start with the SQLite header.
func checkFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // created by Open
	}
	if err != nil {
		return badInput(err, "store: open %s", path)
	}
	if st.IsDir() {
		return badInput(nil, "store: open %s: is a directory, want a SQLite database file", path)
	}
	if !st.Mode().IsRegular() {
		return badInput(nil, "store: open %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return badInput(err, "store: open %s", path)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF) {
		return nil // an empty file is an empty database
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return badInput(err, "store: open %s", path)
	}
	if !bytes.Equal(head[:n], sqliteHeader) {
		return badInput(nil, "store: open %s: not a SQLite database", path)
	}
	return nil
}

// openError wraps a failure to open or migrate path. Failures that come from
// the file itself are input errors; others (a lock held past the timeout)
// are plain errors.
func openError(path string, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return badInput(err, "store: open %s", path)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB, sqlite3.ErrCorrupt, sqlite3.ErrCantOpen,
			sqlite3.ErrPerm, sqlite3.ErrReadonly, sqlite3.ErrAuth, sqlite3.ErrFormat:
			return badInput(err, "store: open %s", path)
		}
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}

// Path returns the path the database was opened with.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// timeFormat is how times are stored: UTC, fixed width, so text order is time
// order, and SQLite's date functions read it.
const timeFormat = "2006-01-02T15:04:05.000Z"

func (db *DB) stamp() string { return db.now().UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// tx runs f in one IMMEDIATE transaction, committing if f returns nil.
func (db *DB) tx(f func(*sql.Tx) error) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

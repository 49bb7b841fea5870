package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"slices"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Query runs one read-only SQL statement (SELECT, WITH, VALUES, EXPLAIN, or
// a PRAGMA that reads) and returns its column names and rows; BLOB and TEXT
// values come back as strings. A statement that would write, or more than
// one statement, is refused with an *InputError.
//
// Four locks keep it read-only: the statement must begin with a reading
// verb; SQLite itself must judge the prepared statement read-only; it runs
// with PRAGMA query_only on, inside a transaction that is always rolled back;
// and its connection is closed afterwards, so no setting it changed lives on.
func (db *DB) Query(q string, args ...any) (cols []string, rows [][]any, err error) {
	sts := statements(q)
	switch {
	case len(sts) == 0:
		return nil, nil, badInput(nil, "store: query: empty statement")
	case len(sts) > 1:
		return nil, nil, badInput(nil, "store: query: %d statements; give one read-only statement", len(sts))
	case !slices.Contains(readVerbs, firstWord(sts[0])):
		return nil, nil, refused(sts[0])
	}
	st := sts[0]
	getter := false
	if firstWord(st) == "PRAGMA" {
		var err error
		if getter, err = checkPragma(st); err != nil {
			return nil, nil, err
		}
	}
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("store: query: %w", err)
	}
	defer conn.Close()
	defer discard(conn)
	var ro bool
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		p, err := c.Prepare(st)
		if err != nil {
			return err
		}
		defer p.Close()
		ro = p.(*sqlite3.SQLiteStmt).Readonly()
		return nil
	})
	if err != nil {
		return nil, nil, badInput(err, "store: query")
	}
	if !ro && !getter {
		return nil, nil, refused(st)
	}
	for _, s := range []string{"PRAGMA query_only = 1", "BEGIN DEFERRED"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return nil, nil, fmt.Errorf("store: query: %w", err)
		}
	}
	cols, rows, err = scanAll(ctx, conn, st, args)
	conn.ExecContext(ctx, "ROLLBACK")
	if err != nil {
		return nil, nil, badInput(err, "store: query")
	}
	return cols, rows, nil
}

// pragmaForm splits "PRAGMA [schema.]name rest".
var pragmaForm = regexp.MustCompile(`(?is)^PRAGMA\s+(?:[A-Za-z_][A-Za-z0-9_]*\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)(.*)$`)

// pragmaGetters are PRAGMAs that, named alone, only report a setting, though
// SQLite does not mark the statement read-only (PRAGMA journal_mode).
var pragmaGetters = map[string]bool{
	"journal_mode": true, "locking_mode": true, "page_size": true, "cache_size": true, "synchronous": true,
	"auto_vacuum": true, "wal_autocheckpoint": true, "busy_timeout": true, "foreign_keys": true, "encoding": true,
	"temp_store": true, "mmap_size": true, "secure_delete": true, "journal_size_limit": true, "cache_spill": true,
	"max_page_count": true, "page_count": true, "freelist_count": true, "user_version": true, "schema_version": true,
	"application_id": true, "data_version": true,
}

// pragmaCalls are PRAGMAs whose argument in parentheses names what to read.
var pragmaCalls = map[string]bool{
	"table_info": true, "table_xinfo": true, "index_list": true, "index_info": true, "index_xinfo": true,
	"foreign_key_list": true, "foreign_key_check": true, "integrity_check": true, "quick_check": true, "table_list": true,
}

// pragmaActions are PRAGMAs that act when named alone.
var pragmaActions = map[string]bool{"optimize": true, "shrink_memory": true, "wal_checkpoint": true, "incremental_vacuum": true}

// checkPragma refuses a PRAGMA that sets a value (PRAGMA writable_schema=1,
// PRAGMA user_version(5)) or acts (PRAGMA optimize), and reports whether st
// only reads a setting that SQLite may not judge read-only itself. A PRAGMA
// with an argument in parentheses must still be judged read-only by SQLite
// (PRAGMA table_info(runs)).
func checkPragma(st string) (getter bool, err error) {
	m := pragmaForm.FindStringSubmatch(st)
	if m == nil {
		return false, refused(st)
	}
	name := strings.ToLower(m[1])
	rest := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(m[2]), ";"))
	switch {
	case rest == "" && pragmaActions[name]:
		return false, badInput(nil, "store: query %q refused: PRAGMA %s acts on the database; lab query only reads", st, name)
	case rest == "":
		return pragmaGetters[name], nil
	case strings.HasPrefix(rest, "(") && pragmaCalls[name]:
		return false, nil // table_info(runs) and the like: SQLite judges them too
	}
	return false, badInput(nil, "store: query %q refused: a PRAGMA that sets a value; lab query only reads (PRAGMA %s alone reports it)", st, name)
}

func refused(st string) error {
	return badInput(nil, "store: query %q refused: lab query runs one read-only statement (%s, or a PRAGMA that only reads)",
		st, strings.Join(readVerbs[:len(readVerbs)-1], ", "))
}

// scanAll runs q on conn and reads every row.
func scanAll(ctx context.Context, conn *sql.Conn, q string, args []any) ([]string, [][]any, error) {
	rs, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	out := [][]any{}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return cols, out, rs.Err()
}

// discard makes the pool close conn instead of reusing it.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}

// statements splits q into its SQL statements: the text between semicolons,
// without the blanks and comments around it. Quotes, bracketed names and
// comments may hold semicolons.
func statements(q string) []string {
	var out []string
	start, end := -1, -1
	mark := func(i, j int) {
		if start < 0 {
			start = i
		}
		end = j
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			j := strings.IndexByte(q[i+1:], closer)
			if j < 0 { // unterminated: SQLite will say so
				mark(i, len(q))
				i = len(q)
				break
			}
			mark(i, i+j+2)
			i += j + 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(q)
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			if j := strings.Index(q[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(q)
			}
		case c == ';':
			if start >= 0 {
				out = append(out, q[start:end])
			}
			start = -1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		default:
			mark(i, i+1)
		}
	}
	if start >= 0 {
		out = append(out, q[start:end])
	}
	return out
}

// readVerbs are the statements Query runs: they begin with one of these.
var readVerbs = []string{"SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"}

// firstWord returns the statement's leading keyword in upper case.
func firstWord(st string) string {
	i := strings.IndexFunc(st, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	})
	if i < 0 {
		i = len(st)
	}
	return strings.ToUpper(st[:i])
}

package store

import (
	"reflect"
	"strings"
	"testing"
)

func TestQueryReads(t *testing.T) {
	db, _ := filterFixture(t)
	cols, rows, err := db.Query(`SELECT json_extract(config, '$.model.mixer') AS mixer, count(*) AS n, max(params)
		FROM runs WHERE spec_name = ? GROUP BY mixer ORDER BY mixer; -- trailing comment`, "mqar")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cols, []string{"mixer", "n", "max(params)"}) {
		t.Fatalf("cols %v", cols)
	}
	want := [][]any{{"linear", int64(1), int64(1001)}, {"softmax", int64(2), int64(1002)}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %#v, want %#v", rows, want)
	}
	_, rows, err = db.Query(`SELECT CAST('blob' AS BLOB), NULL, 1.5`)
	if err != nil || !reflect.DeepEqual(rows, [][]any{{"blob", nil, 1.5}}) {
		t.Fatalf("blob as string: %#v, %v", rows, err)
	}
	if _, rows, err := db.Query(`PRAGMA integrity_check`); err != nil || rows[0][0] != "ok" {
		t.Fatalf("read-only pragma: %v %v", rows, err)
	}
	// Pragmas that only read are allowed, journal_mode included (SQLite
	// does not mark it read-only).
	for q, want := range map[string]any{"PRAGMA journal_mode": "wal", "PRAGMA main.journal_mode;": "wal", "PRAGMA foreign_keys": int64(1), "PRAGMA table_info(runs)": int64(0)} {
		if _, rows, err := db.Query(q); err != nil || len(rows) == 0 || rows[0][0] != want {
			t.Fatalf("%s: %v %v, want %v", q, rows, err, want)
		}
	}
	// Setters are refused; the pool stays writable, with foreign keys on.
	for _, q := range []string{"PRAGMA foreign_keys = 0", "PRAGMA query_only = 0"} {
		if _, _, err := db.Query(q); !isBadInput(err) {
			t.Fatalf("%s: %v, want refused", q, err)
		}
	}
	for i := 0; i < 4; i++ {
		mustCreate(t, db, newRun("after", i, "x", 1))
		if _, err := db.sql.Exec(`INSERT INTO metrics VALUES ('no such run', 1, 'x', 1)`); err == nil {
			t.Fatal("foreign keys off after a query")
		}
	}
}

func TestQueryRejectsWrites(t *testing.T) {
	db, _ := filterFixture(t)
	cases := []string{
		`DELETE FROM runs`,
		`UPDATE runs SET status = 'done'`,
		`INSERT INTO metrics VALUES ('x', 1, 'y', 2)`,
		`DROP TABLE runs`,
		`CREATE TABLE t (x)`,
		`PRAGMA user_version = 7`,
		`VACUUM`,
		`SELECT 1; DELETE FROM runs`,
		`SELECT 1; PRAGMA query_only = 0; DELETE FROM runs`,
		`WITH x AS (SELECT 1) DELETE FROM runs`,
		`ATTACH DATABASE ':memory:' AS m`,
		`BEGIN`,
		`COMMIT`,
		`PRAGMA journal_mode = DELETE`,
		`PRAGMA writable_schema=1`,
		`PRAGMA main.writable_schema = 1`,
		`PRAGMA writable_schema(1)`,
		`PRAGMA writable_schema /* c */ = 1`,
		`PRAGMA /* c */ writable_schema = 1`,
		`PRAGMA optimize`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
		`REINDEX`,
		`ANALYZE`,
		`   `,
		`SELECT nope FROM nowhere`,
	}
	for _, q := range cases {
		t.Run(q, func(t *testing.T) {
			if _, _, err := db.Query(q); !isBadInput(err) {
				t.Fatalf("got %v, want a bad-input refusal", err)
			}
		})
	}
	_, rows, err := db.Query(`SELECT count(*), (SELECT count(*) FROM sqlite_master WHERE name = 't') FROM runs`)
	if err != nil || rows[0][0] != int64(5) || rows[0][1] != int64(0) {
		t.Fatalf("after refused writes: %v %v; want 5 runs, no table t", rows, err)
	}
	var mode string
	if db.sql.QueryRow(`PRAGMA journal_mode`).Scan(&mode); mode != "wal" {
		t.Fatalf("journal mode %q after refused writes, want wal", mode)
	}
	_, _, err = db.Query(`DELETE FROM runs`)
	if !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("refusal should say why: %v", err)
	}
}

func TestStatements(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"", nil},
		{" ;; -- just a comment\n /* and another */", nil},
		{"SELECT 1", []string{"SELECT 1"}},
		{" /* c */ SELECT 1 -- c\n;", []string{"SELECT 1"}},
		{"SELECT ';' AS x; -- ; \n", []string{"SELECT ';' AS x"}},
		{`SELECT "a;b", [c;d], ` + "`e;f`" + ` FROM t /* ; */`, []string{`SELECT "a;b", [c;d], ` + "`e;f`" + ` FROM t`}},
		{"SELECT 'it''s; fine'", []string{"SELECT 'it''s; fine'"}},
		{"SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT 1;/**/SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT 'unterminated; DELETE", []string{"SELECT 'unterminated; DELETE"}},
	}
	for _, c := range cases {
		if got := statements(c.q); !reflect.DeepEqual(got, c.want) {
			t.Errorf("statements(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}

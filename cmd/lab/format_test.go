package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lab/store"
)

// Floats written as CSV parse back to the same float64; the aligned table
// rounds them for people.
func TestTableFloatsRoundTrip(t *testing.T) {
	cases := []float64{1234567.891, 0.1, 2.0 / 3, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, -0.0, 123456789012345678, 3.3325674500000004, 1}
	for _, v := range cases {
		tb := &table{cols: []string{"v", "r"}}
		tb.add(v, round(v, "%.3f"))
		var b bytes.Buffer
		if err := tb.write(&b, "csv"); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("%v: %q", err, b.String())
		}
		for _, s := range recs[1] {
			got, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Float64bits(got) != math.Float64bits(v) {
				t.Errorf("%v came back from CSV as %q", v, s)
			}
		}
	}
	tb := &table{cols: []string{"v", "r"}}
	tb.add(1234567.891, round(0.23475, "%.3f"))
	var b bytes.Buffer
	tb.write(&b, "table")
	if !strings.Contains(b.String(), "1.235e+06  0.235") {
		t.Errorf("text table:\n%s", b.String())
	}
}

// `lab query --format csv|json` returns the database's floats exactly.
func TestQueryFloatsExact(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lab.sqlite")
	d, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	q := "SELECT 1234567.891 AS a, 2.0/3 AS b, 1e-300 AS c, 0.1 AS d"
	want := map[string]float64{"a": 1234567.891, "b": 2.0 / 3, "c": 1e-300, "d": 0.1}
	code, out, errs := lab(t, "query", "--db", db, "--format", "csv", q)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v: %q", err, out)
	}
	for i, col := range recs[0] {
		if got, err := strconv.ParseFloat(recs[1][i], 64); err != nil || got != want[col] {
			t.Errorf("csv %s: %q, want %v", col, recs[1][i], want[col])
		}
	}
	code, out, errs = lab(t, "query", "--db", db, "--format", "json", q)
	var rows []map[string]float64
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 {
		t.Fatalf("json: exit %d %v %q %s", code, err, out, errs)
	}
	for col, w := range want {
		if rows[0][col] != w {
			t.Errorf("json %s: %v, want %v", col, rows[0][col], w)
		}
	}
}

package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// table is rows of cells under a header, printable as an aligned table or
// CSV. Cells keep their values until written: CSV spells every float64 in
// its shortest exact form (it parses back to the same bits); the aligned
// table, for people, rounds floats to 4 significant digits, or as a
// rounded cell says.
type table struct {
	cols []string
	rows [][]any
}

func (t *table) add(cells ...any) {
	t.rows = append(t.rows, append([]any(nil), cells...))
}

// rounded is a float that the aligned table prints with verb (e.g. "%.3f")
// and CSV prints exactly.
type rounded struct {
	v    float64
	verb string
}

func round(v float64, verb string) rounded { return rounded{v, verb} }

// cell spells c for a table (exact false) or for CSV (exact true).
func cell(c any, exact bool) string {
	switch v := c.(type) {
	case nil:
		return ""
	case float64:
		if exact {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return fmt.Sprintf("%.4g", v)
	case float32:
		if exact {
			return strconv.FormatFloat(float64(v), 'g', -1, 32)
		}
		return fmt.Sprintf("%.4g", v)
	case rounded:
		if exact {
			return strconv.FormatFloat(v.v, 'g', -1, 64)
		}
		return fmt.Sprintf(v.verb, v.v)
	case []byte:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

func (t *table) cells(exact bool) [][]string {
	out := make([][]string, len(t.rows))
	for i, r := range t.rows {
		out[i] = make([]string, len(r))
		for j, c := range r {
			out[i][j] = cell(c, exact)
		}
	}
	return out
}

// write prints t as "table" or "csv".
func (t *table) write(w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(t.cols)
		cw.WriteAll(t.cells(true))
		return cw.Error()
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.cols, "\t"))
		for _, r := range t.cells(false) {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
	return usageErr("--format %q: allowed: table, csv, json", format)
}

func checkFormat(f string) error {
	switch f {
	case "table", "csv", "json":
		return nil
	}
	return usageErr("--format %q: allowed: table, csv, json", f)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

package plot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Reference is a small table of published results to draw beside lab's:
// a CSV file with a header row, a "mixer" and an "accuracy" column, and a
// column for each axis it is drawn against, named by the last element of
// the config key (d_model for model.d_model, seq_len for task.seq_len) or,
// for state bytes, state_bytes or state_bytes_log2. Other columns (figure,
// source, how_read) travel along unread.
type Reference struct {
	Path   string
	Header []string
	Rows   []map[string]string // column name to cell, one per data row
}

// ReadReference reads a reference CSV. A missing or malformed file, or one
// without the mixer and accuracy columns, is an *InputError.
func ReadReference(path string) (*Reference, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, &InputError{Msg: "plot: reference: " + err.Error(), Err: err}
		}
		return nil, fmt.Errorf("plot: reference: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, badInput("reference %s: %s", path, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if len(recs) < 2 {
		return nil, badInput("reference %s: want a header row and at least one row of data", path)
	}
	ref := &Reference{Path: path, Header: recs[0]}
	for _, want := range []string{"mixer", "accuracy"} {
		if !slices.Contains(ref.Header, want) {
			return nil, badInput("reference %s: no %q column (columns: %s)", path, want, strings.Join(ref.Header, ", "))
		}
	}
	for i, rec := range recs[1:] {
		row := map[string]string{}
		for j, h := range ref.Header {
			row[h] = strings.TrimSpace(rec[j])
		}
		if a, err := strconv.ParseFloat(row["accuracy"], 64); err != nil || !(a >= 0 && a <= 1) {
			return nil, badInput("reference %s, row %d: accuracy %q, want a number in [0, 1]", path, i+2, row["accuracy"])
		}
		ref.Rows = append(ref.Rows, row)
	}
	return ref, nil
}

// column is the reference column that holds a config key: its last dotted
// element (d_model for model.d_model).
func column(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// RefPoint is one published point.
type RefPoint struct {
	Mixer    string
	Facet    string // the facet value, "" when not faceted
	X        float64
	Accuracy float64
}

// points returns the reference rows as points against the column xcol (or
// 2^v of the column xcol+"_log2" when only that exists), in the facet
// column fcol when fcol is not "". Rows with an empty or non-numeric x are
// left out and counted. A missing column is an *InputError.
func (r *Reference) points(xcol, fcol, forKey string) (pts []RefPoint, skipped int, err error) {
	pow2 := false
	if !slices.Contains(r.Header, xcol) {
		if !slices.Contains(r.Header, xcol+"_log2") {
			return nil, 0, badInput("reference %s: no %q column for %s (columns: %s)", r.Path, xcol, forKey, strings.Join(r.Header, ", "))
		}
		xcol, pow2 = xcol+"_log2", true
	}
	if fcol != "" && !slices.Contains(r.Header, fcol) {
		return nil, 0, badInput("reference %s: no %q column for the facet (columns: %s)", r.Path, fcol, strings.Join(r.Header, ", "))
	}
	for _, row := range r.Rows {
		x, err := strconv.ParseFloat(row[xcol], 64)
		if err != nil || !finite(x) {
			skipped++
			continue
		}
		if pow2 {
			x = math.Exp2(x)
		}
		a, _ := strconv.ParseFloat(row["accuracy"], 64)
		p := RefPoint{Mixer: row["mixer"], X: x, Accuracy: a}
		if fcol != "" {
			p.Facet = row[fcol]
		}
		pts = append(pts, p)
	}
	return pts, skipped, nil
}

// sameValue compares two labels as numbers when both are numbers.
func sameValue(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return x == y
	}
	return a == b
}

// sameMixer reports whether a lab series label (a model.mixer value such as
// "rwkv4" or "based(feature_dim=8)") is the published mixer name.
func sameMixer(label, mixer string) bool {
	base, _, _ := strings.Cut(label, "(")
	return label == mixer || strings.TrimSpace(base) == mixer
}

// Difference is one published point with lab's value at the same place.
type Difference struct {
	Mixer     string  // the published mixer name
	Series    string  // lab's series label that matched
	Facet     string  // the facet value ("" when not faceted)
	X         float64 // the x value (d_model)
	Published float64
	Lab       float64 // mean over the matching runs (the best ones under best-over)
	LabMin    float64
	LabMax    float64
	N         int // lab runs behind Lab
}

// Delta is lab minus published.
func (d Difference) Delta() float64 { return d.Lab - d.Published }

// Differences pairs each published point of ref with lab's sweep point at
// the same series, facet value and x (panels from SweepData with
// o, o.Reference ignored), where lab has one, in the order of the
// reference file.
func Differences(panels []SweepPanel, ref *Reference, o SweepOptions) ([]Difference, error) {
	pts, _, err := ref.points(column(o.X), facetColumn(o.Facet), o.X)
	if err != nil {
		return nil, err
	}
	var out []Difference
	for _, p := range pts {
		for _, panel := range panels {
			if o.Facet != "" && !sameValue(panel.Facet, p.Facet) {
				continue
			}
			for _, s := range panel.Series {
				if s.Published || !sameMixer(s.Label, p.Mixer) {
					continue
				}
				for _, q := range s.Points {
					if q.X == p.X {
						out = append(out, Difference{Mixer: p.Mixer, Series: s.Label, Facet: panel.Facet, X: p.X,
							Published: p.Accuracy, Lab: q.Mean, LabMin: q.Min, LabMax: q.Max, N: q.N})
					}
				}
			}
		}
	}
	return out, nil
}

func facetColumn(facet string) string {
	if facet == "" {
		return ""
	}
	return column(facet)
}

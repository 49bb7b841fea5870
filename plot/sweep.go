package plot

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"lab/store"
)

// SweepOptions says what the sweep figure draws: accuracy on the eval set
// Eval (each run's first result when "") against the numeric config value
// at X, one line per value of Series (model.mixer when ""), one panel per
// value of Facet (one panel when ""). Keys are dotted config paths; the
// store's where-aliases apply (d_model, seq_len, mixer, ...). Reference,
// when set, adds published points.
type SweepOptions struct {
	X, Facet, Series, Eval string
	Reference              *Reference
}

// SweepPoint is the accuracy of the runs at one x: their mean and range.
type SweepPoint struct {
	X              float64
	Mean, Min, Max float64
	N              int // runs behind the point
}

// SweepSeries is one line of a sweep panel.
type SweepSeries struct {
	Label     string       // the series value (lab) or the published mixer name
	Published bool         // true for points read from a Reference
	Points    []SweepPoint // in increasing X
}

// SweepPanel is one facet value's panel.
type SweepPanel struct {
	Facet  string        // the facet value as a label reads it; "" when not faceted
	Series []SweepSeries // lab's series by label, then the published ones by mixer
}

// Sweep is the shaped data of a sweep figure.
type Sweep struct {
	X, Facet, Series string // the keys, aliases resolved
	Panels           []SweepPanel
	Skipped          int // runs without a numeric x or a finite accuracy on the eval set
	RefSkipped       int // published rows without a numeric x or outside every panel
	MaxN             int // the most runs behind one point
}

// SweepData groups runs by facet value, series value and x, and summarises
// each group's accuracy (mean, min, max). A key that is not a config path,
// or that no run's config has, is an *InputError naming it, and so is an x
// key whose values are not numbers. Runs without a numeric x or without a
// finite accuracy on the eval set are left out and counted; none left is
// a no-data *InputError. Panels come in facet order (numeric when every
// value is a number), lab's series in label order.
func SweepData(runs []store.Run, o SweepOptions) (*Sweep, error) {
	if o.X == "" {
		return nil, badInput("sweep: the x key is required (a numeric config path such as model.d_model)")
	}
	if o.Series == "" {
		o.Series = "model.mixer"
	}
	sw := &Sweep{}
	keys := []*string{&sw.X, &sw.Series, &sw.Facet}
	for i, k := range []string{o.X, o.Series, o.Facet} {
		if k == "" {
			continue
		}
		full, err := store.ConfigKey(k)
		if err != nil {
			return nil, &InputError{Msg: "plot: sweep: " + err.Error(), Err: err}
		}
		*keys[i] = full
		if len(runs) > 0 && !slices.ContainsFunc(runs, func(r store.Run) bool { _, ok := store.ConfigValue(r.Config, full); return ok }) {
			return nil, badInput("sweep: no run's config has %s (%q)", full, k)
		}
	}
	type gkey struct {
		facet, series string
		x             float64
	}
	accs := map[gkey][]float64{}
	numericX := false
	for _, r := range runs {
		xv, _ := store.ConfigValue(r.Config, sw.X)
		n, isNum := xv.(json.Number)
		x, err := n.Float64()
		if !isNum || err != nil || !finite(x) {
			sw.Skipped++
			continue
		}
		numericX = true
		acc, ok := store.RunAccuracy(r, o.Eval)
		if !ok {
			sw.Skipped++
			continue
		}
		k := gkey{series: store.FormatValue(store.ConfigValue(r.Config, sw.Series)), x: x}
		if sw.Facet != "" {
			k.facet = store.FormatValue(store.ConfigValue(r.Config, sw.Facet))
		}
		accs[k] = append(accs[k], acc)
	}
	if len(runs) > 0 && !numericX {
		return nil, badInput("sweep: --x %s: no run has a number there; the x axis needs a numeric config key such as model.d_model", sw.X)
	}
	if len(accs) == 0 {
		what := "a result"
		if o.Eval != "" {
			what = "a result on eval set " + strconv.Quote(o.Eval)
		}
		return nil, noData("sweep: none of %d matching runs has %s with a finite accuracy", len(runs), what)
	}
	panels := map[string]map[string][]SweepPoint{}
	for k, as := range accs {
		if panels[k.facet] == nil {
			panels[k.facet] = map[string][]SweepPoint{}
		}
		p := summarize(0, as)
		panels[k.facet][k.series] = append(panels[k.facet][k.series], SweepPoint{X: k.x, Mean: p.Mean, Min: p.Min, Max: p.Max, N: p.N})
		sw.MaxN = max(sw.MaxN, p.N)
	}
	facets := make([]string, 0, len(panels))
	for f := range panels {
		facets = append(facets, f)
	}
	sortLabels(facets)
	for _, f := range facets {
		panel := SweepPanel{Facet: f}
		series := make([]string, 0, len(panels[f]))
		for s := range panels[f] {
			series = append(series, s)
		}
		sortLabels(series)
		for _, s := range series {
			pts := panels[f][s]
			slices.SortFunc(pts, func(a, b SweepPoint) int { return cmp.Compare(a.X, b.X) })
			panel.Series = append(panel.Series, SweepSeries{Label: s, Points: pts})
		}
		sw.Panels = append(sw.Panels, panel)
	}
	if o.Reference != nil {
		if err := sw.addReference(o.Reference); err != nil {
			return nil, err
		}
	}
	return sw, nil
}

// addReference adds the published points to the panels of their facet
// value, one series per mixer; points of a facet value lab has no panel
// for are counted in RefSkipped.
func (sw *Sweep) addReference(ref *Reference) error {
	pts, skipped, err := ref.points(column(sw.X), facetColumn(sw.Facet), sw.X)
	if err != nil {
		return err
	}
	sw.RefSkipped = skipped
	for _, p := range pts {
		i := slices.IndexFunc(sw.Panels, func(pn SweepPanel) bool { return sw.Facet == "" || sameValue(pn.Facet, p.Facet) })
		if i < 0 {
			sw.RefSkipped++
			continue
		}
		panel := &sw.Panels[i]
		j := slices.IndexFunc(panel.Series, func(s SweepSeries) bool { return s.Published && s.Label == p.Mixer })
		if j < 0 {
			panel.Series = append(panel.Series, SweepSeries{Label: p.Mixer, Published: true})
			j = len(panel.Series) - 1
		}
		s := &panel.Series[j]
		s.Points = append(s.Points, SweepPoint{X: p.X, Mean: p.Accuracy, Min: p.Accuracy, Max: p.Accuracy, N: 1})
	}
	for i := range sw.Panels {
		for j := range sw.Panels[i].Series {
			if s := &sw.Panels[i].Series[j]; s.Published {
				slices.SortStableFunc(s.Points, func(a, b SweepPoint) int { return cmp.Compare(a.X, b.X) })
			}
		}
	}
	return nil
}

// sortLabels sorts labels numerically when all are numbers, else as text.
func sortLabels(ls []string) {
	num := true
	for _, l := range ls {
		if _, err := strconv.ParseFloat(l, 64); err != nil {
			num = false
		}
	}
	if num {
		slices.SortFunc(ls, func(a, b string) int {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			return cmp.Compare(x, y)
		})
		return
	}
	slices.Sort(ls)
}

// allPow2 reports whether every value is a positive power of two.
func allPow2(vs []float64) bool {
	for _, v := range vs {
		if !(v > 0) {
			return false
		}
		if _, e := math.Frexp(v); math.Ldexp(0.5, e) != v {
			return false
		}
	}
	return len(vs) > 0
}

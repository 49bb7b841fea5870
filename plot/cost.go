package plot

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"lab/store"
)

// benchKeys are the bench fields FilterBenches can test, and their values.
var benchKeys = map[string]func(store.Bench) string{
	"kind": func(b store.Bench) string { return b.Kind }, "mixer": func(b store.Bench) string { return b.Mixer },
	"device": func(b store.Bench) string { return b.Device }, "host": func(b store.Bench) string { return b.Host },
	"metric": func(b store.Bench) string { return b.Metric }, "unit": func(b store.Bench) string { return b.Unit },
	"seq_len": func(b store.Bench) string { return strconv.Itoa(b.SeqLen) },
	"batch":   func(b store.Bench) string { return strconv.Itoa(b.Batch) },
	"d_model": func(b store.Bench) string { return strconv.Itoa(b.DModel) },
}

// FilterBenches keeps the bench rows that match every expression of where:
// KEY=VALUE or KEY!=VALUE, KEY one of kind, mixer, device, host, metric,
// unit, seq_len, batch, d_model.
func FilterBenches(bs []store.Bench, where []string) ([]store.Bench, error) {
	out := slices.Clone(bs)
	for _, e := range where {
		k, v, ok := strings.Cut(e, "=")
		k, neg := strings.CutSuffix(k, "!")
		get := benchKeys[strings.TrimSpace(k)]
		if !ok || get == nil {
			return nil, badInput("where %q: want KEY=VALUE or KEY!=VALUE, KEY one of kind, mixer, device, host, metric, unit, seq_len, batch, d_model", e)
		}
		v = strings.TrimSpace(v)
		out = slices.DeleteFunc(out, func(b store.Bench) bool { return (get(b) == v) == neg })
	}
	return out, nil
}

// CostPoint is a series' measurement at one length: the median of the
// repeats there.
type CostPoint struct {
	SeqLen int
	Value  float64
	N      int // measurements at this length
}

// CostSeries is one mixer's measured cost against length.
type CostSeries struct {
	Label            string      // the mixer, with kind, device, host, batch or d_model where those differ
	Mixer            string      // the mixer alone, which picks the colour
	Points           []CostPoint // increasing SeqLen
	Slope, Intercept float64     // least squares of log(value) on log(seq_len)
	Fit              bool        // false with fewer than two lengths
}

// CostData is one metric's series.
type CostData struct {
	Metric, Unit string
	Series       []CostSeries // in label order
	PerToken     []string     // kinds whose rows were a time per token (decode), now in Unit per token
}

// CostCurves shapes the bench rows of one metric (the first metric among
// bs when metric is empty) into one series per mixer, fitting each a
// log-log slope. Rows with a value or length that is not positive cannot
// sit on a log axis and are dropped. Rows of several units for the metric
// are an error, narrow them with a filter, except times: rows of a time
// metric in several time units (lab bench cost writes ms for the forward
// passes and us/token for a decode step) are all converted to ms, and the
// kinds that were per token are listed in PerToken.
func CostCurves(bs []store.Bench, metric string) (CostData, error) {
	if len(bs) == 0 {
		return CostData{}, noData("no bench rows match")
	}
	if metric == "" {
		metric = bs[0].Metric
	}
	rows := slices.DeleteFunc(slices.Clone(bs), func(b store.Bench) bool {
		return b.Metric != metric || !(b.Value > 0) || math.IsInf(b.Value, 0) || b.SeqLen <= 0
	})
	if len(rows) == 0 {
		return CostData{}, noData("no bench rows with metric %q and a positive value (metrics present: %s)", metric, strings.Join(distinct(bs, func(b store.Bench) string { return b.Metric }), ", "))
	}
	perToken := oneTimeUnit(rows)
	if us := distinct(rows, func(b store.Bench) string { return b.Unit }); len(us) > 1 {
		return CostData{}, badInput("metric %q comes in units %s; pick one with --where unit=%s", metric, strings.Join(us, ", "), us[0])
	}
	label := seriesLabeller(rows)
	vals := map[string]map[int][]float64{}
	mixer := map[string]string{}
	for _, b := range rows {
		l := label(b)
		mixer[l] = b.Mixer
		if vals[l] == nil {
			vals[l] = map[int][]float64{}
		}
		vals[l][b.SeqLen] = append(vals[l][b.SeqLen], b.Value)
	}
	d := CostData{Metric: metric, Unit: rows[0].Unit, PerToken: perToken}
	for l, byLen := range vals {
		s := CostSeries{Label: l, Mixer: mixer[l]}
		var xs, ys []float64
		for n, vs := range byLen {
			s.Points = append(s.Points, CostPoint{SeqLen: n, Value: median(vs), N: len(vs)})
		}
		slices.SortFunc(s.Points, func(a, b CostPoint) int { return cmp.Compare(a.SeqLen, b.SeqLen) })
		for _, p := range s.Points {
			xs, ys = append(xs, float64(p.SeqLen)), append(ys, p.Value)
		}
		s.Slope, s.Intercept, s.Fit = LogLogSlope(xs, ys)
		d.Series = append(d.Series, s)
	}
	slices.SortFunc(d.Series, func(a, b CostSeries) int { return cmp.Compare(a.Label, b.Label) })
	return d, nil
}

// timeUnits are the units of time bench rows come in, in milliseconds.
var timeUnits = map[string]float64{"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3}

// oneTimeUnit rewrites rows (one metric's, cloned by the caller) in one
// unit when they come in several units of time: every value to ms, "X/token"
// read as X. It returns the kinds whose rows were per token. Rows in one
// unit, or in units that are not all times, are left as they are.
func oneTimeUnit(rows []store.Bench) []string {
	us := distinct(rows, func(b store.Bench) string { return b.Unit })
	if len(us) < 2 {
		return nil
	}
	for _, u := range us {
		if _, ok := timeUnits[strings.TrimSuffix(u, "/token")]; !ok {
			return nil
		}
	}
	var perToken []string
	for i, b := range rows {
		u, per := strings.CutSuffix(b.Unit, "/token")
		rows[i].Value, rows[i].Unit = b.Value*timeUnits[u], "ms"
		if per && !slices.Contains(perToken, b.Kind) {
			perToken = append(perToken, b.Kind)
		}
	}
	slices.Sort(perToken)
	return perToken
}

// seriesLabeller names a row's series: its mixer, plus each of kind,
// device, host, batch and d_model that takes more than one value in rows.
func seriesLabeller(rows []store.Bench) func(store.Bench) string {
	var extra []string
	for _, k := range []string{"kind", "device", "host", "batch", "d_model"} {
		if len(distinct(rows, benchKeys[k])) > 1 {
			extra = append(extra, k)
		}
	}
	return func(b store.Bench) string {
		s := b.Mixer
		for _, k := range extra {
			s += fmt.Sprintf(" %s=%s", k, benchKeys[k](b))
		}
		return s
	}
}

// LogLogSlope fits log y = intercept + slope·log x by least squares (natural
// logarithms). ok is false with fewer than two distinct x or a value that
// is not positive.
func LogLogSlope(xs, ys []float64) (slope, intercept float64, ok bool) {
	if len(xs) != len(ys) || len(xs) < 2 {
		return 0, 0, false
	}
	var mx, my float64
	for i := range xs {
		if !(xs[i] > 0) || !(ys[i] > 0) {
			return 0, 0, false
		}
		mx += math.Log(xs[i])
		my += math.Log(ys[i])
	}
	n := float64(len(xs))
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		dx := math.Log(xs[i]) - mx
		sxx += dx * dx
		sxy += dx * (math.Log(ys[i]) - my)
	}
	if sxx == 0 {
		return 0, 0, false
	}
	slope = sxy / sxx
	return slope, my - slope*mx, true
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// distinct returns the distinct values of f over bs, sorted.
func distinct(bs []store.Bench, f func(store.Bench) string) []string {
	var out []string
	for _, b := range bs {
		out = append(out, f(b))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

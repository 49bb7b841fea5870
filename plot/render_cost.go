package plot

import (
	"fmt"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lab/store"
)

// CostVsLength draws one measured metric of the bench rows (CostCurves)
// against sequence length on log-log axes, one line per mixer with its
// fitted slope in the legend. No rows of the metric is an *InputError.
func CostVsLength(bs []store.Bench, metric string) (*Figure, error) {
	d, err := CostCurves(bs, metric)
	if err != nil {
		return nil, err
	}
	p := newPlot(fmt.Sprintf("Measured %s vs sequence length", d.Metric),
		"sequence length (tokens, log scale)", fmt.Sprintf("%s (%s)", d.Metric, d.Unit))
	p.Add(plotter.NewGrid())
	leg := newLegend()
	xlo, xhi, ylo, yhi := math.Inf(1), 0.0, math.Inf(1), 0.0
	var st seriesStyler
	for _, s := range d.Series {
		xys := make(plotter.XYs, len(s.Points))
		for k, pt := range s.Points {
			x := float64(pt.SeqLen)
			xys[k] = plotter.XY{X: logT(x), Y: logT(pt.Value)}
			xlo, xhi, ylo, yhi = min(xlo, x), max(xhi, x), min(ylo, pt.Value), max(yhi, pt.Value)
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: cost: %w", err)
		}
		l.LineStyle, sc.GlyphStyle, _ = st.style(mixerColor(s.Mixer), vg.Points(2.5))
		p.Add(l, sc)
		label := s.Label
		if s.Fit {
			label = fmt.Sprintf("%s (slope %.2f)", shorten(s.Label), s.Slope)
		}
		leg.Add(label, l, sc)
	}
	for _, k := range d.PerToken {
		leg.Add(fmt.Sprintf("%s: %s per token", k, d.Unit))
	}
	leg.Add("slope: least squares on log-log;")
	leg.Add("points: median of repeats")
	logAxis(&p.X, xlo, xhi, true)
	logAxis(&p.Y, ylo, yhi, false)
	return &Figure{draw: func(c draw.Canvas, note string) { drawWithLegend(c, p, leg, note) }}, nil
}

package plot

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lab/store"
)

// RecallVsLength draws accuracy against evaluation length, one line per
// model (RecallCurves), the mean over its runs with min-max bars where a
// model has several runs. Runs without results are an *InputError.
func RecallVsLength(runs []store.Run) (*Figure, error) {
	curves := RecallCurves(runs)
	if len(curves) == 0 {
		return nil, noData("no results to plot among %d matching runs", len(runs))
	}
	p := newPlot("Recall vs sequence length", "evaluation sequence length (tokens, log scale)", "accuracy")
	p.Add(plotter.NewGrid())
	leg := newLegend()
	lo, hi, seeds := curves[0].Points[0].SeqLen, 0, 1
	var st seriesStyler
	for _, c := range curves {
		xys := make(plotter.XYs, len(c.Points))
		errs := make(plotter.YErrors, len(c.Points))
		multi := false
		for k, pt := range c.Points {
			xys[k] = plotter.XY{X: logT(float64(pt.SeqLen)), Y: pt.Mean}
			errs[k].Low, errs[k].High = pt.Mean-pt.Min, pt.Max-pt.Mean
			lo, hi, seeds = min(lo, pt.SeqLen), max(hi, pt.SeqLen), max(seeds, pt.N)
			multi = multi || pt.N > 1
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: recall: %w", err)
		}
		l.LineStyle, s.GlyphStyle, _ = st.style(mixerColor(c.Model.Mixer), vg.Points(2.5))
		p.Add(l, s)
		if multi {
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{xys, errs})
			if err != nil {
				return nil, fmt.Errorf("plot: recall: %w", err)
			}
			eb.LineStyle.Color, eb.CapWidth = l.LineStyle.Color, vg.Points(5)
			p.Add(eb)
		}
		leg.Add(shorten(c.Model.Label()), l, s)
	}
	logAxis(&p.X, float64(lo), float64(hi), true)
	accuracyAxis(&p.Y)
	if seeds > 1 {
		leg.Add(fmt.Sprintf("points: mean over runs (≤%d);", seeds))
		leg.Add("bars: min–max")
	}
	return &Figure{draw: func(c draw.Canvas, note string) { drawWithLegend(c, p, leg, note) }}, nil
}

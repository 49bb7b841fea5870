package plot

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Curves draws training curves against step: losses in one panel (log
// scale when they span a decade) above accuracies in another, the panels
// sharing the step axis; a kind nothing logged gets no panel. With one run
// each metric has its colour; with several, colour is the run and the dash
// and glyph are the metric. Runs with no loss or accuracy logged are an
// *InputError.
func Curves(rs []RunMetrics) (*Figure, error) {
	loss, acc := SplitCurves(rs)
	if len(loss)+len(acc) == 0 {
		return nil, noData("the %d selected runs have no loss or accuracy metrics logged", len(rs))
	}
	title := fmt.Sprintf("Training curves of %d runs", len(rs))
	if len(rs) == 1 {
		title = fmt.Sprintf("Training curves of %s (%s)", shortID(rs[0].Run.ID), ModelOf(rs[0].Run).Label())
	}
	var panels []*plot.Plot
	var legs []plot.Legend
	for k, group := range [][]MetricSeries{loss, acc} {
		if len(group) == 0 {
			continue
		}
		pl, leg, err := curvePanel(rs, group, k == 1)
		if err != nil {
			return nil, err
		}
		panels, legs = append(panels, pl), append(legs, leg)
	}
	panels[0].Title.Text = title
	grid := make([][]*plot.Plot, len(panels))
	xmin, xmax := 0.0, math.Inf(-1)
	for i, pl := range panels {
		grid[i] = []*plot.Plot{pl}
		xmin, xmax = min(xmin, pl.X.Min), max(xmax, pl.X.Max)
	}
	for i, pl := range panels { // one step range, so the panels line up
		pl.X.Min, pl.X.Max = xmin, xmax
		if i < len(panels)-1 {
			pl.X.Label.Text = ""
		}
	}
	return &Figure{draw: func(c draw.Canvas, note string) {
		ptrs := make([]*plot.Legend, len(legs))
		for i := range legs {
			ptrs[i] = &legs[i]
		}
		w := fitLegends(c, ptrs...)
		for _, pl := range panels {
			setType(pl, typeScale(c))
		}
		rest := c
		rest.Max.X -= w + vg.Points(4)
		below := vg.Points(20) // the first legend starts below the title
		if note != "" {        // the title and the note over the panels
			t := panels[0].Title
			headline(&rest, t.TextStyle, t.Text, t.Padding, note)
			panels[0].Title.Text, below = "", 0
			defer func() { panels[0].Title.Text = t.Text }()
		}
		tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(2), PadBottom: vg.Points(2)}
		cs := plot.Align(grid, tiles, rest)
		for i, pl := range panels {
			pl.Draw(cs[i][0])
			lc := cs[i][0]
			lc.Min.X, lc.Max.X = c.Max.X-w, c.Max.X
			if i == 0 {
				lc.Max.Y -= below
			}
			legs[i].Draw(lc)
		}
	}}, nil
}

// maxGlyphs is the most points a curve marks with glyphs.
const maxGlyphs = 12

// curvePanel draws one panel of series: accuracies (0 to 1) or losses.
func curvePanel(rs []RunMetrics, group []MetricSeries, accuracy bool) (*plot.Plot, plot.Legend, error) {
	pl := newPlot("", "training step", "loss")
	pl.Add(plotter.NewGrid())
	leg := newLegend()
	var names []string
	for _, s := range group {
		names = append(names, s.Name)
	}
	slices.SortFunc(names, natCompare)
	names = slices.Compact(names)
	var vals []float64
	for _, s := range group {
		vals = append(vals, s.Values...)
	}
	logY := !accuracy && spansDecades(vals)
	runColor := runColors(rs)
	for i, s := range group {
		xys := make(plotter.XYs, len(s.Steps))
		for j := range s.Steps {
			xys[j] = plotter.XY{X: s.Steps[j], Y: s.Values[j]}
			if logY {
				xys[j].Y = logT(s.Values[j])
			}
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, leg, fmt.Errorf("plot: curves: %w", err)
		}
		if len(rs) == 1 {
			l.LineStyle, sc.GlyphStyle = lineStyle(i), glyphStyle(i, vg.Points(1.5))
			leg.Add(shorten(s.Name), l)
		} else {
			k := slices.Index(names, s.Name)
			l.LineStyle = draw.LineStyle{Color: runColor[s.Run], Width: vg.Points(1.2), Dashes: dashes[k%len(dashes)]}
			sc.GlyphStyle = draw.GlyphStyle{Color: runColor[s.Run], Radius: vg.Points(2), Shape: glyphs[k%len(glyphs)]}
		}
		pl.Add(l)
		if len(xys) <= maxGlyphs { // glyphs mark sparse series; dense ones are lines
			pl.Add(sc)
		}
	}
	if len(rs) > 1 {
		for i, r := range rs {
			leg.Add(shorten(shortID(r.Run.ID)+" "+ModelOf(r.Run).Mixer), &plotter.Line{LineStyle: draw.LineStyle{Color: runColor[i], Width: vg.Points(2)}})
		}
		for k, n := range names {
			gray := keyGray
			leg.Add(shorten(n), &plotter.Line{LineStyle: draw.LineStyle{Color: gray, Width: vg.Points(1.2), Dashes: dashes[k%len(dashes)]}},
				&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: gray, Radius: vg.Points(2), Shape: glyphs[k%len(glyphs)]}})
		}
	}
	switch {
	case accuracy:
		pl.Y.Label.Text = "accuracy"
		accuracyAxis(&pl.Y)
	case logY:
		lo, hi := math.Inf(1), 0.0
		for _, v := range vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		logAxis(&pl.Y, lo, hi, false)
		pl.Y.Label.Text = "loss (log scale)"
	}
	return pl, leg, nil
}

// runColors colours each run by its mixer; the second and later runs of
// one colour take lighter shades of it, so runs of one mixer (seeds,
// widths) stay apart while the metric keeps the dash and glyph.
func runColors(rs []RunMetrics) []color.RGBA {
	out := make([]color.RGBA, len(rs))
	seen := map[color.RGBA]int{}
	for i, r := range rs {
		c := mixerColor(ModelOf(r.Run).Mixer)
		out[i] = lighten(c, []float64{0, 0.35, 0.6, 0.2, 0.5}[seen[c]%5])
		seen[c]++
	}
	return out
}

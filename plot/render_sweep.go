package plot

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lab/store"
)

// AccuracySweep draws accuracy (0 to 1) against the numeric config key
// o.X, one line per value of o.Series (model.mixer by default), one panel
// per value of o.Facet side by side with a shared y axis; each point is the
// mean over the matching runs, with min-max bars where there are several.
// The x axis is log base 2 when every x is a positive power of two, log 10
// when the values span a decade or more, else linear. o.Reference adds the
// published points as hollow markers on dashed lines, labelled "<mixer>
// (published)", in the colour of lab's line for the same mixer. Bad keys
// and no data are *InputErrors (see SweepData).
func AccuracySweep(runs []store.Run, o SweepOptions) (*Figure, error) {
	sw, err := SweepData(runs, o)
	if err != nil {
		return nil, err
	}
	// One style per lab series across panels: a mixer's colour when the
	// series are mixers, else the palette in order; a published mixer has
	// its mixer's colour, the colour of lab's line of the same mixer.
	var labLabels, refLabels []string
	var xs []float64
	for _, pn := range sw.Panels {
		for _, s := range pn.Series {
			if s.Published {
				if !slices.Contains(refLabels, s.Label) {
					refLabels = append(refLabels, s.Label)
				}
			} else if !slices.Contains(labLabels, s.Label) {
				labLabels = append(labLabels, s.Label)
			}
			for _, q := range s.Points {
				xs = append(xs, q.X)
			}
		}
	}
	sortLabels(labLabels)
	slices.Sort(refLabels)
	type style struct {
		line  draw.LineStyle
		glyph draw.GlyphStyle
	}
	labStyle := map[string]style{}
	var st seriesStyler
	for i, l := range labLabels {
		if sw.Series == "model.mixer" {
			ls, gs, _ := st.style(mixerColor(l), vg.Points(2.5))
			labStyle[l] = style{ls, gs}
		} else {
			labStyle[l] = style{lineStyle(i), glyphStyle(i, vg.Points(2.5))}
		}
	}

	lo, hi := slices.Min(xs), slices.Max(xs)
	scale := "linear"
	switch {
	case allPow2(xs):
		scale = "log2"
	case lo > 0 && spansDecades(xs):
		scale = "log10"
	}
	tx := func(v float64) float64 { return v }
	if scale != "linear" {
		tx = logT
	}
	xlabel := sw.X
	if scale != "linear" {
		xlabel += " (log scale)"
	}

	var panels []*plot.Plot
	for k, pn := range sw.Panels {
		p := newPlot("", xlabel, "accuracy")
		if sw.Facet != "" {
			p.Title.Text = column(sw.Facet) + "=" + pn.Facet
		}
		p.Add(plotter.NewGrid())
		for _, s := range pn.Series {
			xys := make(plotter.XYs, len(s.Points))
			errs := make(plotter.YErrors, len(s.Points))
			multi := false
			for i, q := range s.Points {
				xys[i] = plotter.XY{X: tx(q.X), Y: q.Mean}
				errs[i].Low, errs[i].High = q.Mean-q.Min, q.Max-q.Mean
				multi = multi || q.N > 1
			}
			l, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("plot: sweep: %w", err)
			}
			if s.Published {
				c := mixerColor(s.Label)
				l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2.5)}}
				sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.RingGlyph{}}
			} else {
				l.LineStyle, sc.GlyphStyle = labStyle[s.Label].line, labStyle[s.Label].glyph
			}
			p.Add(l, sc)
			if multi {
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{xys, errs})
				if err != nil {
					return nil, fmt.Errorf("plot: sweep: %w", err)
				}
				eb.LineStyle.Color, eb.CapWidth = l.LineStyle.Color, vg.Points(4)
				p.Add(eb)
			}
		}
		if scale == "linear" {
			pad := (hi - lo) * 0.05
			if pad == 0 {
				pad = math.Max(1, math.Abs(lo)*0.1)
			}
			p.X.Min, p.X.Max = lo-pad, hi+pad
		} else {
			logAxis(&p.X, lo, hi, scale == "log2")
		}
		accuracyAxis(&p.Y)
		if k > 0 { // the y axis is shared: labels on the first panel only
			p.Y.Label.Text = ""
			ts := p.Y.Tick.Marker.(plot.ConstantTicks)
			blank := make(plot.ConstantTicks, len(ts))
			for i, t := range ts {
				blank[i] = plot.Tick{Value: t.Value}
				if t.Label != "" {
					blank[i].Label = " " // still a major tick, so the grid has its line
				}
			}
			p.Y.Tick.Marker = blank
		}
		panels = append(panels, p)
	}

	leg := newLegend()
	for _, l := range labLabels {
		leg.Add(shorten(l), &plotter.Line{LineStyle: labStyle[l].line}, &plotter.Scatter{GlyphStyle: labStyle[l].glyph})
	}
	for _, m := range refLabels {
		c := mixerColor(m)
		leg.Add(shorten(m+" (published)"),
			&plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2.5)}}},
			&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.RingGlyph{}}})
	}
	if sw.MaxN > 1 {
		leg.Add(fmt.Sprintf("points: mean over runs (≤%d);", sw.MaxN))
		leg.Add("bars: min–max")
	}
	if sw.Skipped > 0 {
		leg.Add(fmt.Sprintf("(%d runs without data left out)", sw.Skipped))
	}
	if sw.RefSkipped > 0 {
		leg.Add(fmt.Sprintf("(%d published rows not drawn)", sw.RefSkipped))
	}

	title := "Accuracy vs " + column(sw.X)
	if o.Eval != "" {
		title = fmt.Sprintf("Accuracy (eval %s) vs %s", o.Eval, column(sw.X))
	}
	return &Figure{draw: func(c draw.Canvas, note string) {
		s := typeScale(c)
		for _, p := range panels {
			setType(p, s)
			if sw.Facet != "" {
				p.Title.TextStyle.Font.Size = vg.Points(9.5 * s)
				p.Title.Padding = vg.Points(3 * s)
			}
		}
		l := leg
		w := fitLegends(c, &l)
		rest := c
		rest.Max.X -= w + vg.Points(4)
		sty := panels[0].Title.TextStyle
		sty.Font.Size = vg.Points(11 * s)
		top := headline(&rest, sty, title, vg.Points(6*s), note)
		lc := c
		lc.Min.X = c.Max.X - w
		lc.Max.Y = c.Max.Y - top
		l.Draw(lc)
		tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(6 * s)}
		cs := plot.Align([][]*plot.Plot{panels}, tiles, rest)
		for i, p := range panels {
			p.Draw(cs[0][i])
		}
	}}, nil
}

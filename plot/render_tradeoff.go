package plot

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lab/store"
)

// Tradeoff draws one point per run, accuracy on the eval set named eval
// (each run's first result when empty) against cost on a log axis, coloured
// by model, with the Pareto frontier as a step line. No plottable run is an
// *InputError.
func Tradeoff(runs []store.Run, eval string, cost Cost) (*Figure, error) {
	return TradeoffWith(runs, eval, cost, nil)
}

// TradeoffWith is Tradeoff with published points from ref beside lab's:
// hollow markers on dashed lines, one per mixer, labelled "<mixer>
// (published)", at the column state_bytes (or 2^state_bytes_log2) of the
// reference. Published points are in state bytes only: another cost with
// a reference is an *InputError.
func TradeoffWith(runs []store.Run, eval string, cost Cost, ref *Reference) (*Figure, error) {
	var refPts []RefPoint
	refSkipped := 0
	if ref != nil {
		if cost != CostState {
			return nil, badInput("reference %s: published points are drawn against state bytes only; use cost state", ref.Path)
		}
		var err error
		if refPts, refSkipped, err = ref.points("state_bytes", "", "the state axis"); err != nil {
			return nil, err
		}
	}
	pts, skipped := TradeoffPoints(runs, eval, cost)
	if len(pts) == 0 {
		what := "a result"
		if eval != "" {
			what = fmt.Sprintf("a result on eval set %q", eval)
		}
		return nil, noData("none of %d matching runs has %s with a finite accuracy and a recorded %s cost", len(runs), what, cost)
	}
	title := "Accuracy vs " + [...]string{"state size", "compute", "step time"}[cost]
	evals := map[string]bool{}
	for _, q := range pts {
		evals[q.Eval] = true
	}
	if len(evals) == 1 {
		title += " (eval " + pts[0].Eval + ")"
	} else {
		title += " (each run's first eval set)"
	}
	p := newPlot(title, cost.Axis(), "accuracy")
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), 0.0
	for _, q := range pts {
		lo, hi = min(lo, q.Cost), max(hi, q.Cost)
	}
	for _, q := range refPts {
		if q.X > 0 {
			lo, hi = min(lo, q.X), max(hi, q.X)
		}
	}
	front := ParetoFrontier(pts)
	steps := make(plotter.XYs, 0, len(front)+1)
	for _, q := range front {
		steps = append(steps, plotter.XY{X: logT(q.Cost), Y: q.Accuracy})
	}
	steps = append(steps, plotter.XY{X: logT(hi * 1.3), Y: front[len(front)-1].Accuracy})
	fl, err := plotter.NewLine(steps)
	if err != nil {
		return nil, fmt.Errorf("plot: tradeoff: %w", err)
	}
	fl.StepStyle = plotter.PostStep
	fl.LineStyle = draw.LineStyle{Color: lighten(keyGray, 0.3), Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	p.Add(fl)

	leg := newLegend()
	label := modelLabeller(pts)
	var order []string
	groups := map[string]plotter.XYs{}
	for _, q := range pts {
		l := label(q.Model)
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], plotter.XY{X: logT(q.Cost), Y: q.Accuracy})
	}
	slices.Sort(order)
	mixerOf := map[string]string{}
	for _, q := range pts {
		mixerOf[label(q.Model)] = q.Model.Mixer
	}
	var st seriesStyler
	for _, l := range order {
		s, err := plotter.NewScatter(groups[l])
		if err != nil {
			return nil, fmt.Errorf("plot: tradeoff: %w", err)
		}
		_, s.GlyphStyle, _ = st.style(mixerColor(mixerOf[l]), vg.Points(3))
		p.Add(s)
		leg.Add(shorten(l), s)
	}
	if err := addPublished(p, &leg, refPts); err != nil {
		return nil, err
	}
	leg.Add("Pareto frontier", fl)
	if skipped > 0 {
		leg.Add(fmt.Sprintf("(%d runs without data left out)", skipped))
	}
	if refSkipped > 0 {
		leg.Add(fmt.Sprintf("(%d published rows without x not drawn)", refSkipped))
	}
	logAxis(&p.X, lo, hi, false)
	accuracyAxis(&p.Y)
	return &Figure{draw: func(c draw.Canvas, note string) { drawWithLegend(c, p, leg, note) }}, nil
}

// modelLabeller names points by mixer, adding the width only when the
// points have several widths.
func modelLabeller(pts []RunPoint) func(Model) string {
	widths := map[int]bool{}
	for _, q := range pts {
		widths[q.Model.DModel] = true
	}
	return func(m Model) string {
		if len(widths) > 1 {
			return m.Label()
		}
		return m.Mixer
	}
}

// addPublished draws published points on p (x on a log axis), one dashed
// line of hollow markers per mixer in the mixer's colour, the colour of
// lab's points of the same mixer.
func addPublished(p *plot.Plot, leg *plot.Legend, pts []RefPoint) error {
	var mixers []string
	byMixer := map[string]plotter.XYs{}
	for _, q := range pts {
		if !(q.X > 0) {
			continue
		}
		if _, ok := byMixer[q.Mixer]; !ok {
			mixers = append(mixers, q.Mixer)
		}
		byMixer[q.Mixer] = append(byMixer[q.Mixer], plotter.XY{X: logT(q.X), Y: q.Accuracy})
	}
	slices.Sort(mixers)
	for _, m := range mixers {
		c := mixerColor(m)
		xys := byMixer[m]
		slices.SortStableFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plot: published points: %w", err)
		}
		l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2.5)}}
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.RingGlyph{}}
		p.Add(l, s)
		leg.Add(shorten(m+" (published)"), l, s)
	}
	return nil
}

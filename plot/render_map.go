package plot

import (
	"fmt"
	"image/color"
	"regexp"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lab/store"
)

// Map draws the decision map (Decide over RecallCurves of runs): columns
// are evaluation lengths, rows recall levels, and each cell is coloured and
// named by the model with the smallest stored state that meets the level at
// that length; cells no run reaches stay empty. No results, or no cell
// filled, is an *InputError.
func Map(runs []store.Run, levels []float64) (*Figure, error) {
	if len(levels) == 0 {
		levels = DefaultLevels
	}
	curves := RecallCurves(runs)
	if len(curves) == 0 {
		return nil, noData("no results to map among %d matching runs", len(runs))
	}
	m := Decide(curves, levels)
	chosen := m.Chosen()
	if len(chosen) == 0 {
		return nil, noData("no run reaches accuracy %g at any length; lower --levels", levels[0])
	}
	p := newPlot("Cheapest mixer that meets each recall level", "evaluation sequence length (tokens)", "recall need (accuracy ≥)")
	var xt, yt []plot.Tick
	for j, l := range m.Lengths {
		xt = append(xt, plot.Tick{Value: float64(j), Label: strconv.Itoa(l)})
	}
	for i, lv := range m.Levels {
		yt = append(yt, plot.Tick{Value: float64(i), Label: "≥ " + strconv.FormatFloat(lv, 'g', -1, 64)})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	g := cellGrid{m: m, fill: map[Model]color.Color{}}
	leg := newLegend()
	shades := map[color.RGBA]int{} // models of one mixer: lighter shades of its colour
	for _, c := range chosen {
		mc := mixerColor(c.Model.Mixer)
		g.fill[c.Model] = lighten(mc, 0.55+0.15*float64(shades[mc]%3))
		shades[mc]++
		leg.Add(shorten(fmt.Sprintf("%s: %d B", c.Label, c.StateBytes)), swatch{g.fill[c.Model]})
	}
	leg.Add("cost: state_bytes as stored,")
	leg.Add("at each run's training length")
	leg.Add("empty: no run reaches the level")
	p.Add(g)
	return &Figure{draw: func(c draw.Canvas, note string) { drawWithLegend(c, p, leg, note) }}, nil
}

// cellGrid draws a DecisionMap as labelled rectangles at integer
// coordinates: column j is Lengths[j], row i is Levels[i].
type cellGrid struct {
	m    DecisionMap
	fill map[Model]color.Color
}

// DataRange covers every cell.
func (g cellGrid) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(len(g.m.Lengths)) - 0.5, -0.5, float64(len(g.m.Levels)) - 0.5
}

// Plot fills each cell and writes its model's name, as large as fits.
func (g cellGrid) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	border := draw.LineStyle{Color: color.White, Width: vg.Points(1.5)}
	for i, row := range g.m.Cells {
		for j, cell := range row {
			r := vg.Rectangle{
				Min: vg.Point{X: tx(float64(j) - 0.5), Y: ty(float64(i) - 0.5)},
				Max: vg.Point{X: tx(float64(j) + 0.5), Y: ty(float64(i) + 0.5)},
			}
			fill := color.Color(color.RGBA{0xf2, 0xf2, 0xf2, 0xff})
			if cell.OK {
				fill = g.fill[cell.Model]
			}
			c.SetColor(fill)
			c.Fill(r.Path())
			c.SetLineStyle(border)
			c.Stroke(r.Path())
			if cell.OK {
				cellText(&c, p, r, cell.Label)
			}
		}
	}
}

var mixerArgs = regexp.MustCompile(`\([^()]*\)`)

// cellText writes label centred in r at the largest of a few sizes that
// fits, dropping the mixers' arguments if even the smallest is too wide.
func cellText(c *draw.Canvas, p *plot.Plot, r vg.Rectangle, label string) {
	sty := p.Title.TextStyle
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	w, h := (r.Max.X-r.Min.X)*0.92, (r.Max.Y-r.Min.Y)*0.9
	for _, txt := range []string{label, mixerArgs.ReplaceAllString(label, "")} {
		for _, size := range []float64{8, 7, 6, 5} {
			sty.Font.Size = vg.Points(size)
			if sty.Width(txt) <= w && sty.Height(txt) <= h {
				c.FillText(sty, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y + r.Max.Y) / 2}, txt)
				return
			}
		}
	}
}

// swatch is a legend thumbnail: a filled square.
type swatch struct{ c color.Color }

// Thumbnail fills the thumbnail's canvas.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.SetColor(s.c)
	c.Fill(c.Rectangle.Path())
}

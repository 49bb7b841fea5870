package plot

import (
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette holds the series colours, dark enough for lines on white and
// none of them grey, so no series is taken for keyGray, the colour of
// legend entries that explain a style rather than name a series.
var palette = []color.RGBA{
	{0x1f, 0x5f, 0xa8, 0xff}, {0xe0, 0x6c, 0x00, 0xff}, {0x2c, 0x93, 0x3c, 0xff}, {0xc6, 0x28, 0x28, 0xff},
	{0x7b, 0x4f, 0xa8, 0xff}, {0x8c, 0x56, 0x3c, 0xff}, {0xd4, 0x4f, 0xa8, 0xff}, {0x10, 0xa0, 0xb0, 0xff},
	{0x9a, 0x9a, 0x10, 0xff}, {0x0a, 0x2f, 0x6b, 0xff}, {0xe8, 0xa8, 0x00, 0xff}, {0x5c, 0x8a, 0x00, 0xff},
	{0x6b, 0x0f, 0x3a, 0xff}, {0x00, 0x6b, 0x5e, 0xff}, {0x4a, 0x6f, 0xe3, 0xff}, {0xa6, 0x76, 0x1d, 0xff},
	{0x3b, 0x2b, 0x88, 0xff}, {0xf0, 0x5a, 0x7e, 0xff},
}

// keyGray is the colour of legend entries that show a style (a dash, a
// glyph) rather than a series, and of the Pareto frontier.
var keyGray = color.RGBA{0x50, 0x50, 0x50, 0xff}

// mixerSlot fixes the colour of each registered mixer (architectures.Names;
// a test keeps the two lists together), so a mixer has one colour in every
// figure whatever else the figure shows. The commonest get the most
// distinct colours.
var mixerSlot = map[string]int{
	"softmax": 0, "linear": 1, "gla": 2, "mamba": 3, "mamba2": 4, "based": 5, "deltanet": 6,
	"gated_deltanet": 7, "swa": 8, "rwkv6": 9, "rwkv7": 10, "hyena": 11, "h3": 12, "baseconv": 13,
	"retnet": 14, "rwkv4": 15, "conv": 16,
}

// mixerKey is what a mixer's colour is keyed by: the name of a single
// mixer without its arguments ("softmax(conv=2)" and "softmax" are one
// mixer), or the whole layer mix, spaces removed, for a hybrid.
func mixerKey(mixer string) string {
	m := strings.Join(strings.Fields(mixer), "")
	name, args, paren := strings.Cut(m, "(")
	single := name != "" && !strings.ContainsAny(name, ",+*)") &&
		(!paren || strings.HasSuffix(args, ")") && !strings.ContainsAny(args[:len(args)-1], "()"))
	if !single {
		return m
	}
	return name
}

// mixerColor is the colour of a mixer in every figure: a fixed colour for
// a registered mixer, and for anything else (a hybrid, a name lab does not
// know) a colour picked by a hash of its key, the same in every figure.
func mixerColor(mixer string) color.RGBA {
	k := mixerKey(mixer)
	if i, ok := mixerSlot[k]; ok {
		return palette[i]
	}
	h := fnv.New32a()
	h.Write([]byte(k))
	return palette[h.Sum32()%uint32(len(palette))]
}

// seriesStyler gives each series of one figure its colour and a variant
// number: series of one colour (one mixer at several widths, or two mixers
// that share a colour) are told apart by the variant's dash and glyph.
// Call it for the series in the order they are drawn.
type seriesStyler struct{ seen map[color.RGBA]int }

// style returns the line and glyph style of the next series of colour c.
func (s *seriesStyler) style(c color.RGBA, r vg.Length) (draw.LineStyle, draw.GlyphStyle, int) {
	if s.seen == nil {
		s.seen = map[color.RGBA]int{}
	}
	k := s.seen[c]
	s.seen[c]++
	return draw.LineStyle{Color: c, Width: vg.Points(1.2), Dashes: dashes[k%len(dashes)]},
		draw.GlyphStyle{Color: c, Radius: r, Shape: glyphs[k%len(glyphs)]}, k
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{}, draw.PlusGlyph{},
}

var dashes = [][]vg.Length{nil, {vg.Points(4), vg.Points(2)}, {vg.Points(1), vg.Points(2)}, {vg.Points(6), vg.Points(2), vg.Points(1), vg.Points(2)}}

// colorOf is the i-th colour of the palette, for series that are not
// mixers (the metrics of one run's curves, a sweep's series over another
// key); glyphOf and dashOf change every len(palette) series, so many
// series stay apart.
func colorOf(i int) color.RGBA       { return palette[i%len(palette)] }
func glyphOf(i int) draw.GlyphDrawer { return glyphs[(i/len(palette))%len(glyphs)] }
func dashOf(i int) []vg.Length       { return dashes[(i/len(palette))%len(dashes)] }
func lineStyle(i int) draw.LineStyle {
	return draw.LineStyle{Color: colorOf(i), Width: vg.Points(1.2), Dashes: dashOf(i)}
}
func glyphStyle(i int, r vg.Length) draw.GlyphStyle {
	return draw.GlyphStyle{Color: colorOf(i), Radius: r, Shape: glyphOf(i)}
}

// lighten mixes c with white: f=0 is c, f=1 is white.
func lighten(c color.RGBA, f float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(float64(v) + f*(255-float64(v)) + 0.5) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xff}
}

// newPlot returns a plot with lab's title and axis label sizes.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Title.TextStyle.Font.Variant = "Sans"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Variant = "Sans"
		a.Tick.Label.Font.Variant = "Sans"
	}
	setType(p, 1)
	return p
}

// setType sizes p's type: 11 point titles, 10 point axis labels and 8.5
// point tick labels, times s.
func setType(p *plot.Plot, s float64) {
	p.Title.TextStyle.Font.Size = vg.Points(11 * s)
	p.Title.Padding = vg.Points(6 * s)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(10 * s)
		a.Tick.Label.Font.Size = vg.Points(8.5 * s)
	}
}

// typeScale is how much a figure drawn on c scales its type: 1 at
// DefaultSize and above, down to 0.6 for small figures, so axis labels
// still fit beside the data.
func typeScale(c draw.Canvas) float64 {
	s := min(float64((c.Max.X-c.Min.X)/DefaultSize.W), float64((c.Max.Y-c.Min.Y)/DefaultSize.H))
	return max(0.6, min(1, s))
}

// drawWithLegend draws p with l in a strip at its right, the type scaled
// to the size of c, and note (if any) on a line under p's title.
func drawWithLegend(c draw.Canvas, p *plot.Plot, l plot.Legend, note string) {
	setType(p, typeScale(c))
	if note == "" {
		p.Draw(sideLegend(c, l, 0))
		return
	}
	w := fitLegends(c, &l)
	rest := c
	rest.Max.X -= w + vg.Points(4)
	top := headline(&rest, p.Title.TextStyle, p.Title.Text, p.Title.Padding, note)
	sideLegend(c, l, top-vg.Points(24))
	title := p.Title.Text
	p.Title.Text = ""
	defer func() { p.Title.Text = title }()
	p.Draw(rest)
}

// headline draws title (in sty, as gonum draws a plot's title) and under it
// note in smaller grey type, centred at the top of c; it lowers c's top
// below them and returns how much it took.
func headline(c *draw.Canvas, sty text.Style, title string, pad vg.Length, note string) vg.Length {
	top := c.Max.Y
	if title != "" {
		descent := sty.FontExtents().Descent
		c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y + descent}, title)
		c.Max.Y -= sty.Rectangle(title).Size().Y + pad/3
	}
	if note != "" {
		ns := noteStyle(sty)
		for _, line := range noteLines(note) {
			descent := ns.FontExtents().Descent
			c.FillText(ns, vg.Point{X: c.Center().X, Y: c.Max.Y + descent}, line)
			c.Max.Y -= ns.Rectangle(line).Size().Y
		}
	}
	c.Max.Y -= pad
	return top - c.Max.Y
}

// noteStyle is sty at 80% of its size, italic-free, dark grey.
func noteStyle(sty text.Style) text.Style {
	ns := sty
	ns.Font.Size = sty.Font.Size * 0.8
	ns.Font.Weight = 0
	ns.Color = color.Gray{0x50}
	return ns
}

// noteLines splits a note before a parenthesis into lines that fit a
// legend: "best of 4 over train.lr on test", "(2 runs ... left out)".
func noteLines(note string) []string {
	if i := strings.Index(note, " ("); i > 0 {
		return []string{note[:i], note[i+1:]}
	}
	return []string{note}
}

// accuracyAxis fixes a to [0, 1] with a label every 0.2.
func accuracyAxis(a *plot.Axis) {
	a.Min, a.Max = 0, 1.02
	var ts plot.ConstantTicks
	for i := 0; i <= 10; i++ {
		t := plot.Tick{Value: float64(i) / 10}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(t.Value, 'f', 1, 64)
		}
		ts = append(ts, t)
	}
	a.Tick.Marker = ts
}

// logAxis makes a a log axis over [lo, hi] (both positive), padded by a
// factor so glyphs at the ends are not cut. Values drawn against it must go
// through logT: the axis itself is linear in log10 of the data, because
// gonum's LogScale misplaces the axis label's glyph box and so pads the
// plot with empty space.
func logAxis(a *plot.Axis, lo, hi float64, base2 bool) {
	a.Min, a.Max = logT(lo/1.3), logT(hi*1.3)
	a.Tick.Marker = logSpace{logTicks{}}
	if base2 {
		a.Tick.Marker = logSpace{pow2Ticks{}}
	}
}

// logT maps a value to its place on a logAxis.
func logT(v float64) float64 { return math.Log10(v) }

// logSpace places the ticks of a ticker of data values on a logAxis.
type logSpace struct{ data plot.Ticker }

// Ticks returns the data ticks in [10^lo, 10^hi], placed at their logs.
func (t logSpace) Ticks(lo, hi float64) []plot.Tick {
	ts := t.data.Ticks(math.Pow(10, lo), math.Pow(10, hi))
	for i := range ts {
		ts[i].Value = logT(ts[i].Value)
	}
	return ts
}

// spansDecades reports whether the positive values vs run over at least a
// factor of ten, so a log axis reads better than a linear one.
func spansDecades(vs []float64) bool {
	lo, hi := math.Inf(1), 0.0
	for _, v := range vs {
		if !(v > 0) {
			return false
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi >= 10*lo
}

// pow2Ticks labels powers of two: sequence lengths.
type pow2Ticks struct{}

// Ticks returns a tick at each power of two in [lo, hi].
func (pow2Ticks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	a, b := int(math.Ceil(math.Log2(lo)-1e-9)), int(math.Floor(math.Log2(hi)+1e-9))
	every := 1 + (b-a)/10
	for k := a; k <= b; k++ {
		t := plot.Tick{Value: math.Exp2(float64(k))}
		if (k-a)%every == 0 {
			t.Label = pow2Label(t.Value)
		}
		ts = append(ts, t)
	}
	return ts
}

// logTicks labels 1, 10, 100, ... over wide ranges, and over narrow ones
// the first of 1-2-5, 1-2-3-5 or every multiple that gives three labels.
type logTicks struct{}

// Ticks returns major and minor ticks in [lo, hi].
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	for _, labelled := range [][]int{{1}, {1, 2, 5}, {1, 2, 3, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		var ts []plot.Tick
		n := 0
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for m := 1; m <= 9; m++ {
				v := float64(m) * math.Pow(10, e)
				if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: v}
				for _, l := range labelled {
					if m == l {
						t.Label = tickLabel(v)
						n++
					}
				}
				ts = append(ts, t)
			}
		}
		if n >= 3 || len(labelled) == 9 {
			return ts
		}
	}
	return nil
}

// pow2Label writes a power of two as a sequence length is read: 512, 16k, 1M.
func pow2Label(v float64) string {
	switch {
	case v >= 1<<20 && math.Mod(v, 1<<20) == 0:
		return strconv.FormatFloat(v/(1<<20), 'f', -1, 64) + "M"
	case v >= 1<<13 && math.Mod(v, 1<<10) == 0:
		return strconv.FormatFloat(v/(1<<10), 'f', -1, 64) + "k"
	}
	return tickLabel(v)
}

// tickLabel writes v compactly: 64, 0.5, 2e6.
func tickLabel(v float64) string {
	if v != 0 && (math.Abs(v) >= 1e4 || math.Abs(v) < 1e-3) {
		s := strconv.FormatFloat(v, 'e', -1, 64)
		return strings.Replace(strings.Replace(s, "e+0", "e", 1), "e+", "e", 1)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// sideLegend draws l in a strip at the right of c, drop lower than usual,
// and returns the rest of c for the plot.
func sideLegend(c draw.Canvas, l plot.Legend, drop vg.Length) draw.Canvas {
	w := fitLegends(c, &l)
	lc := c
	lc.Min.X = c.Max.X - w
	lc.Max.Y = c.Max.Y - vg.Points(24) - max(0, drop) // below the title
	l.Draw(lc)
	c.Max.X -= w + vg.Points(4)
	return c
}

// fitLegends shrinks the legends' type, together, until the widest takes
// at most 45% of c's width (or the type is as small as it goes), and
// returns the width of the strip that holds them; what is wider is cut at
// the edge.
func fitLegends(c draw.Canvas, ls ...*plot.Legend) vg.Length {
	var w vg.Length
	limit := 0.45 * (c.Max.X - c.Min.X)
	for _, size := range []float64{8, 7, 6, 5} {
		size = max(4, size*typeScale(c))
		w = 0
		for _, l := range ls {
			l.TextStyle.Font.Size = vg.Points(size)
			l.ThumbnailWidth = vg.Points(2 * size)
			r := l.Rectangle(c)
			w = max(w, r.Max.X-r.Min.X+vg.Points(8))
		}
		if w <= limit {
			break
		}
	}
	return min(w, limit)
}

const maxLabel = 44

// newLegend returns a small-type legend, thumbnails left, from the top.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = vg.Points(8)
	l.TextStyle.Font.Variant = "Sans"
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(16)
	l.Padding = vg.Points(1.5)
	return l
}

// shorten cuts s to maxLabel runes, marking the cut.
func shorten(s string) string {
	if r := []rune(s); len(r) > maxLabel {
		return string(r[:maxLabel-1]) + "…"
	}
	return s
}

package plot_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lab/bench"
	"lab/plot"
	"lab/store"
)

// svgItem is a <path> (its stroke or, without one, its fill) or a <text>
// (its content) of an SVG, in drawing order.
var svgItem = regexp.MustCompile(`<path [^>]*style="([^"]*)"|<text [^>]*>([^<]*)</text>`)

// legendColours returns, for every text of svg that match accepts, the
// colour of the path drawn just before it: a legend entry's thumbnail. A
// line or glyph thumbnail gives its stroke (or a filled glyph's fill), a
// swatch its fill.
func legendColours(svg string, match func(text string) bool) map[string]string {
	out := map[string]string{}
	last := ""
	for _, m := range svgItem.FindAllStringSubmatch(svg, -1) {
		if m[1] != "" {
			var stroke, fill string
			for _, decl := range strings.Split(m[1], ";") {
				k, v, _ := strings.Cut(decl, ":")
				switch k {
				case "stroke":
					stroke = v
				case "fill":
					fill = v
				}
			}
			switch {
			case stroke != "" && stroke != "none":
				last = stroke
			case fill != "" && fill != "none":
				last = fill
			}
			continue
		}
		if match(m[2]) {
			out[m[2]] = last
		}
	}
	return out
}

// colourOf is the legend colour of the one entry whose text starts with
// prefix.
func colourOf(t *testing.T, name, svg, prefix string) string {
	t.Helper()
	cs := legendColours(svg, func(s string) bool { return strings.HasPrefix(s, prefix) })
	if len(cs) != 1 {
		t.Fatalf("%s: %d legend entries start %q: %v", name, len(cs), prefix, cs)
	}
	for _, c := range cs {
		return c
	}
	return ""
}

// A mixer keeps its colour in every figure: each kind of figure drawn from
// two different sets of mixers gives gla (or rwkv4 in the sweep) the same
// colour in both, the colour the recall figure gives it; before, colours
// went by the order of the series, so gla was the third colour among four
// mixers and the first when softmax and linear were left out.
func TestMixerKeepsItsColour(t *testing.T) {
	db, ids := seeded(t)
	all, err := db.Runs(store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	mixerIs := func(ms ...string) func(store.Run) bool {
		return func(r store.Run) bool { return !slices.Contains(ms, plot.ModelOf(r).Mixer) }
	}
	some := slices.DeleteFunc(slices.Clone(all), mixerIs("gla(conv=2)", "conv(kernel=4)"))
	pair := slices.DeleteFunc(slices.Clone(all), mixerIs("softmax(conv=2)", "gla(conv=2)"))
	const gla = "gla(conv=2)"
	var want string
	for _, c := range []struct {
		name   string
		fig    func(runs []store.Run) (*plot.Figure, error)
		prefix string
	}{
		{"recall", plot.RecallVsLength, gla + " d="},
		{"tradeoff", func(rs []store.Run) (*plot.Figure, error) { return plot.Tradeoff(rs, "", plot.CostState) }, gla},
		{"map", func(rs []store.Run) (*plot.Figure, error) { return plot.Map(rs, []float64{0.05}) }, gla + ":"},
		{"curves", func(rs []store.Run) (*plot.Figure, error) {
			var ms []plot.RunMetrics
			for _, r := range rs {
				if r.ID == ids[0] || plot.ModelOf(r).Mixer == gla || plot.ModelOf(r).Mixer == "conv(kernel=4)" {
					m, err := db.Metrics(r.ID)
					if err != nil {
						return nil, err
					}
					ms = append(ms, plot.RunMetrics{Run: r, Metrics: m})
				}
			}
			return plot.Curves(ms)
		}, ""},
	} {
		colours := map[string]string{}
		for set, runs := range map[string][]store.Run{"all": all, "gla+conv": some, "softmax+gla": pair} {
			if c.name == "map" { // conv, the cheapest state, would take every cell
				runs = slices.DeleteFunc(slices.Clone(runs), mixerIs("softmax(conv=2)", "linear(feature=elu1, conv=2)", "gla(conv=2)"))
			}
			f, err := c.fig(runs)
			if err != nil {
				t.Fatalf("%s %s: %v", c.name, set, err)
			}
			svg := renderString(t, f, "svg")
			prefix := c.prefix
			if c.name == "curves" { // "<run id> gla(conv=2)": the first gla run of the figure
				for _, r := range runs {
					if plot.ModelOf(r).Mixer == gla {
						prefix = r.ID[:8] + " " + gla
						break
					}
				}
			}
			colours[set] = colourOf(t, c.name+" "+set, svg, prefix)
		}
		if want == "" {
			want = colours["all"]
		}
		kindWant := want
		if c.name == "map" { // cells and swatches: the mixer's colour lightened
			kindWant = lightened(t, want, 0.55)
		}
		for set, got := range colours {
			if got != kindWant {
				t.Errorf("%s: gla is %s with %s, want %s (its colour in every figure; all: %v)", c.name, got, set, kindWant, colours)
			}
		}
	}

	// Bench rows: the cost figure of every mixer and of two.
	bs, err := db.Benches("")
	if err != nil {
		t.Fatal(err)
	}
	two, err := plot.FilterBenches(bs, []string{"mixer!=softmax(conv=2)", "mixer!=linear(feature=elu1, conv=2)"})
	if err != nil {
		t.Fatal(err)
	}
	for name, rows := range map[string][]store.Bench{"all": bs, "two": two} {
		f, err := plot.CostVsLength(rows, "time")
		if err != nil {
			t.Fatal(err)
		}
		if got := colourOf(t, "cost "+name, renderString(t, f, "svg"), gla+" (slope"); got != want {
			t.Errorf("cost %s: gla is %s, want %s", name, got, want)
		}
	}

	// The sweep and its published points: rwkv4 alone or beside softmax,
	// lab's line and the published one in one colour.
	runs := sweepRuns(t)
	ref, err := plot.ReadReference(published)
	if err != nil {
		t.Fatal(err)
	}
	rwkv := slices.DeleteFunc(slices.Clone(runs), func(r store.Run) bool { return plot.ModelOf(r).Mixer != "rwkv4" })
	var sweepWant string
	for name, rs := range map[string][]store.Run{"both": runs, "rwkv4": rwkv} {
		f, err := plot.AccuracySweep(rs, plot.SweepOptions{X: "d_model", Facet: "seq_len", Eval: "test", Reference: ref})
		if err != nil {
			t.Fatal(err)
		}
		svg := renderString(t, f, "svg")
		lab := legendColours(svg, func(s string) bool { return s == "rwkv4" })["rwkv4"]
		pub := colourOf(t, "sweep "+name, svg, "rwkv4 (published)")
		if sweepWant == "" {
			sweepWant = lab
		}
		if lab != sweepWant || pub != sweepWant {
			t.Errorf("sweep %s: rwkv4 is %s, published rwkv4 %s; want both %s", name, lab, pub, sweepWant)
		}
	}
}

// The curves of many runs: no run is drawn in a grey, so the eighth run is
// not taken for the key of the metrics (dashes and glyphs in #505050);
// before, the palette's eighth colour was #606060.
func TestCurvesRunsAreNotKeyGrey(t *testing.T) {
	db, ids := seeded(t)
	var rs []plot.RunMetrics
	for _, id := range ids {
		r, err := db.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := db.Metrics(id)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, plot.RunMetrics{Run: *r, Metrics: ms})
	}
	if len(rs) < 8 {
		t.Fatalf("%d runs, want at least 8", len(rs))
	}
	f, err := plot.Curves(rs)
	if err != nil {
		t.Fatal(err)
	}
	svg := renderString(t, f, "svg")
	runs := legendColours(svg, func(s string) bool {
		return slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(s, id[:8]+" ") })
	})
	keys := legendColours(svg, func(s string) bool { return strings.Contains(s, "/") }) // train/loss, eval/L64/accuracy, ...
	if len(runs) != len(ids) || len(keys) == 0 {
		t.Fatalf("%d run entries (want %d), key entries %v", len(runs), len(ids), keys)
	}
	for k, c := range keys {
		if c != "#505050" {
			t.Errorf("key %q is %s, want #505050", k, c)
		}
	}
	seen := map[string]string{}
	for label, c := range runs {
		if c[1:3] == c[3:5] && c[3:5] == c[5:7] {
			t.Errorf("run %q is drawn in grey %s", label, c)
		}
		if o, ok := seen[c]; ok {
			t.Errorf("runs %q and %q share %s", o, label, c)
		}
		seen[c] = label
	}
}

// SVG text names a font-family list that ends in a generic family, so a
// viewer without Liberation Sans still draws sans-serif text.
func TestSVGFontFallback(t *testing.T) {
	db, ids := seeded(t)
	for name, f := range figures(t, db, ids) {
		svg := renderString(t, f, "svg")
		fams := regexp.MustCompile(`font-family:([^;"]*)[;"]`).FindAllStringSubmatch(svg, -1)
		if len(fams) == 0 {
			t.Errorf("%s: no font-family", name)
		}
		for _, m := range fams {
			list := strings.Split(m[1], ",")
			if len(list) < 2 || list[len(list)-1] != "sans-serif" || list[0] != "'Liberation Sans'" {
				t.Errorf("%s: font-family %q, want 'Liberation Sans' first and sans-serif last", name, m[1])
				break
			}
		}
	}
}

// The README's `lab plot cost --metric time --where device=cpu` after a
// default `lab bench cost` (every kind): the forward passes are timed in ms
// and a decode step in us/token, and the figure refused the two units.
// Times are now converted to ms, decode named as per token.
func TestCostTimeOneUnit(t *testing.T) {
	bs, err := bench.Measure(bench.Config{Mixers: []string{"softmax", "linear"}, Lengths: []int{16, 32},
		DModel: 8, Heads: 2, Batch: 2, Chunk: 8, MaxMem: 1 << 30, MinTime: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, b := range bs {
		if b.Metric == "time" && !slices.Contains(units, b.Unit) {
			units = append(units, b.Unit)
		}
	}
	if len(units) < 2 {
		t.Logf("bench writes time in %v", units) // one unit at the source already; the conversion is then idle
	}
	cpu, err := plot.FilterBenches(bs, []string{"device=cpu"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := plot.CostCurves(cpu, "time")
	if err != nil {
		t.Fatalf("cost time on a default bench: %v", err)
	}
	if d.Unit != "ms" || len(d.Series) != 8 || len(units) > 1 && !slices.Equal(d.PerToken, []string{"decode"}) {
		t.Fatalf("unit %q, %d series, per token %v; want ms, 8 (2 mixers x 4 kinds), decode", d.Unit, len(d.Series), d.PerToken)
	}
	for _, b := range bs { // each decode time is its us/token value in ms
		if b.Kind != "decode" || b.Metric != "time" || b.Unit != "us/token" {
			continue
		}
		for _, s := range d.Series {
			if s.Label == b.Mixer+" kind=decode" {
				for _, p := range s.Points {
					if p.SeqLen == b.SeqLen && !near(p.Value, b.Value/1000) {
						t.Errorf("%s decode L%d: %g ms, want %g", b.Mixer, b.SeqLen, p.Value, b.Value/1000)
					}
				}
			}
		}
	}
	f, err := plot.CostVsLength(cpu, "time")
	if err != nil {
		t.Fatal(err)
	}
	if svg := renderString(t, f, "svg"); !strings.Contains(svg, "time (ms)") || len(units) > 1 && !strings.Contains(svg, "decode: ms per token") {
		t.Errorf("the figure lacks the axis unit or the per-token note")
	}
}

// lightened mixes the colour #RRGGBB with white as the map's fill does:
// f=0 is the colour, f=1 white.
func lightened(t *testing.T, hex string, f float64) string {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	out := "#"
	for _, sh := range []uint{16, 8, 0} {
		c := float64((v >> sh) & 0xff)
		out += fmt.Sprintf("%02X", uint8(c+f*(255-c)+0.5))
	}
	return out
}

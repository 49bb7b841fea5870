package plot_test

import (
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lab/plot"
	"lab/plot/plottest"
	"lab/store"
)

// sweepRuns opens a database filled by plottest.FillSweep and returns its
// runs.
func sweepRuns(t *testing.T) []store.Run {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "lab.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := plottest.FillSweep(db, "sweep"); err != nil {
		t.Fatal(err)
	}
	runs, err := db.Runs(store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

const published = "../notebooks/zoology-fig2/published.csv"

func TestSweepData(t *testing.T) {
	runs := sweepRuns(t)
	best, err := store.BestOver(runs, "train.lr", "test")
	if err != nil {
		t.Fatal(err)
	}
	if best.Note() != "best of 3 over train.lr on test" || len(best.Runs) != len(runs)/3 {
		t.Fatalf("best over: %q, %d runs", best.Note(), len(best.Runs))
	}
	// Faceted by length, the best over lr: one point per run, the lr 1e-3
	// accuracy; without best-over, the mean over the three lrs with their
	// range.
	for _, c := range []struct {
		name   string
		runs   []store.Run
		mean   func(mixer string, l, d int) float64
		n      int
		lo, hi float64 // at rwkv4, L 128, d 256
	}{
		{"best", best.Runs, func(m string, l, d int) float64 { return plottest.SweepAccuracy(m, l, d, 1e-3) }, 1, 0.6, 0.6},
		{"mean", runs, func(m string, l, d int) float64 {
			var s float64
			for _, lr := range plottest.SweepLRs {
				s += plottest.SweepAccuracy(m, l, d, lr)
			}
			return s / 3
		}, 3, 0.36, 0.6},
	} {
		sw, err := plot.SweepData(c.runs, plot.SweepOptions{X: "d_model", Facet: "task.seq_len", Eval: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if sw.X != "model.d_model" || sw.Series != "model.mixer" || sw.Facet != "task.seq_len" || len(sw.Panels) != 4 || sw.Skipped != 0 || sw.MaxN != c.n {
			t.Fatalf("%s: keys %s %s %s, %d panels, %d skipped, max n %d", c.name, sw.X, sw.Series, sw.Facet, len(sw.Panels), sw.Skipped, sw.MaxN)
		}
		for i, pn := range sw.Panels {
			l := plottest.SweepSettings[i][0]
			if pn.Facet != []string{"64", "128", "256", "512"}[i] || len(pn.Series) != 2 || pn.Series[0].Label != "rwkv4" || pn.Series[1].Label != "softmax" {
				t.Fatalf("%s: panel %d: %q %+v", c.name, i, pn.Facet, pn.Series)
			}
			for _, s := range pn.Series {
				for k, q := range s.Points {
					d := plottest.SweepWidths[k]
					if q.X != float64(d) || q.N != c.n || !near(q.Mean, c.mean(s.Label, l, d)) {
						t.Errorf("%s: %s L%d: point %+v, want x %d mean %.4f n %d", c.name, s.Label, l, q, d, c.mean(s.Label, l, d), c.n)
					}
				}
			}
		}
		q := sw.Panels[1].Series[0].Points[2]
		if !near(q.Min, c.lo) || !near(q.Max, c.hi) {
			t.Errorf("%s: rwkv4 L128 d256 range [%g, %g], want [%g, %g]", c.name, q.Min, q.Max, c.lo, c.hi)
		}
	}
	// With the published points: a series per published mixer in the panels
	// of its length, and the differences where lab has a run.
	ref, err := plot.ReadReference(published)
	if err != nil {
		t.Fatal(err)
	}
	o := plot.SweepOptions{X: "model.d_model", Facet: "seq_len", Eval: "test", Reference: ref}
	sw, err := plot.SweepData(best.Runs, o)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range sw.Panels[0].Series {
		labels = append(labels, s.Label)
	}
	if strings.Join(labels, ",") != "rwkv4,softmax,softmax,baseconv,rwkv4,h3,hyena" || sw.RefSkipped != 0 {
		t.Errorf("L64 series %v, %d published rows skipped", labels, sw.RefSkipped)
	}
	if got := len(sw.Panels[1].Series); got != 5 { // no H3 or Hyena at L 128
		t.Errorf("L128: %d series, want 5", got)
	}
	ds, err := plot.Differences(sw.Panels, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	// softmax at 16 (L, d), rwkv4 at d 64 and 512 for 4 lengths.
	if len(ds) != 24 {
		t.Fatalf("%d differences, want 24", len(ds))
	}
	for _, d := range ds {
		if d.Mixer == "rwkv4" && d.Facet == "128" && d.X == 512 {
			want := plottest.SweepAccuracy("rwkv4", 128, 512, 1e-3) - 0.91
			if !near(d.Delta(), want) || d.N != 1 || d.Series != "rwkv4" {
				t.Errorf("rwkv4 L128 d512: %+v, delta want %.3f", d, want)
			}
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The sweep figure renders at the usual size and a cramped one, with and
// without facets and published points, and its bad input is one line.
func TestRenderSweep(t *testing.T) {
	runs := sweepRuns(t)
	best, err := store.BestOver(runs, "train.lr", "test")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := plot.ReadReference(published)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, c := range map[string]struct {
		runs []store.Run
		o    plot.SweepOptions
		note string
	}{
		"facets-best-ref": {best.Runs, plot.SweepOptions{X: "model.d_model", Facet: "task.seq_len", Eval: "test", Reference: ref}, best.Note()},
		"one-panel-mean":  {runs, plot.SweepOptions{X: "d_model", Series: "task.seq_len"}, ""},
		"lr-log10":        {runs, plot.SweepOptions{X: "train.lr", Facet: "mixer"}, ""},
	} {
		f, err := plot.AccuracySweep(c.runs, c.o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.SetNote(c.note)
		for _, size := range []plot.Size{plot.DefaultSize, {W: 28 * 72 / 2.54, H: 9 * 72 / 2.54, DPI: 100}, {W: 60, H: 60, DPI: 72}} {
			path := filepath.Join(dir, name+".png")
			if err := f.Save(path, size); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			fh, _ := os.Open(path)
			cfg, err := png.DecodeConfig(fh)
			fh.Close()
			if w, h := size.Pixels(); err != nil || cfg.Width != w || cfg.Height != h {
				t.Errorf("%s: %v, %dx%d, want %dx%d", name, err, cfg.Width, cfg.Height, w, h)
			}
		}
		if svg := renderString(t, f, "svg"); c.note != "" && !strings.Contains(svg, "best of 3 over train.lr on test") {
			t.Errorf("%s: the svg lacks the note", name)
		} else if c.o.Reference != nil && !strings.Contains(svg, "rwkv4 (published)") {
			t.Errorf("%s: the svg lacks the published legend", name)
		} else if c.o.Facet == "task.seq_len" && !strings.Contains(svg, "seq_len=512") {
			t.Errorf("%s: the svg lacks the panel titles", name)
		}
	}
	for _, c := range []struct {
		o   plot.SweepOptions
		msg string
	}{
		{plot.SweepOptions{}, "x key is required"},
		{plot.SweepOptions{X: "model.mixer"}, "numeric"},
		{plot.SweepOptions{X: "model.width"}, "model.width"},
		{plot.SweepOptions{X: "d_model", Facet: "task.depth"}, "task.depth"},
		{plot.SweepOptions{X: "d_model", Series: "bad key!"}, "bad key!"},
		{plot.SweepOptions{X: "d_model", Eval: "long"}, `"long"`},
		{plot.SweepOptions{X: "train.lr", Facet: "seq_len", Reference: ref}, `"lr"`},
	} {
		f, err := plot.AccuracySweep(runs, c.o)
		var bad interface{ BadInput() bool }
		if f != nil || !errors.As(err, &bad) || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v; want one line of bad input with %q", c.o, err, c.msg)
		}
	}
}

// The shipped published points parse, and bad reference files are bad
// input.
func TestReadReference(t *testing.T) {
	for _, p := range []string{published, "../notebooks/based-pareto/published.csv"} {
		if _, err := plot.ReadReference(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	dir := t.TempDir()
	for body, msg := range map[string]string{
		"mixer,d_model\nsoftmax,64\n":              `no "accuracy"`,
		"mixer,accuracy\n":                         "at least one row",
		"mixer,accuracy\nsoftmax,1.5\n":            "row 2",
		"mixer,accuracy\nsoftmax,0.5,extra\n":      "fields",
		"mixer,accuracy,seq_len\nsoftmax,0.5,64\n": "", // fine
	} {
		p := filepath.Join(dir, "ref.csv")
		os.WriteFile(p, []byte(body), 0o644)
		_, err := plot.ReadReference(p)
		if msg == "" {
			if err != nil {
				t.Errorf("%q: %v", body, err)
			}
			continue
		}
		var bad interface{ BadInput() bool }
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v; want bad input with %q", body, err, msg)
		}
	}
	if _, err := plot.ReadReference(filepath.Join(dir, "none.csv")); err == nil {
		t.Error("a missing file: no error")
	}
}

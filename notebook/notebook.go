// Package notebook renders the lab's notebooks: a markdown page of prose,
// tables and figures drawn from the runs database, written with its figures
// into notebooks/NAME/. A notebook spec names the experiments and cost
// benchmarks it rests on, so one command can regenerate it from nothing.
package notebook

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"gonum.org/v1/plot/vg"

	"lab/architectures"
	"lab/plot"
	"lab/spec"
	"lab/store"
)

// Spec is a notebook file.
type Spec struct {
	Name        string    `yaml:"name"`
	Title       string    `yaml:"title"`
	Intro       string    `yaml:"intro"`
	Experiments []string  `yaml:"experiments"` // spec paths, relative to the repository root
	Bench       *BenchRun `yaml:"bench"`
	Sections    []Section `yaml:"sections"`

	path string // the file Load read, for references relative to it
}

// BenchRun is a `lab bench cost` the notebook needs.
type BenchRun struct {
	Mixers  []string `yaml:"mixers"`
	Lengths []int    `yaml:"lengths"`
	DModel  int      `yaml:"d_model"`
	Heads   int      `yaml:"heads"`
	Batch   int      `yaml:"batch"`
	MaxMem  float64  `yaml:"max_mem_gib"`
	MinTime string   `yaml:"min_time"`
}

// Section is prose, a table of runs, or a figure.
type Section struct {
	Heading string   `yaml:"heading"`
	Text    string   `yaml:"text"`
	Table   string   `yaml:"table"`  // "runs", "bench" or "differences" (lab − published)
	Figure  string   `yaml:"figure"` // recall-vs-length, tradeoff, map, sweep, cost
	Cost    string   `yaml:"cost"`   // tradeoff: state|flops|time
	Eval    string   `yaml:"eval"`   // tradeoff, sweep, differences: eval set; with best_over: the set that picks
	Metric  string   `yaml:"metric"` // cost: metric; bench table: metric
	Kind    string   `yaml:"kind"`   // cost/bench table: bench kind filter
	Levels  string   `yaml:"levels"` // map
	Where   []string `yaml:"where"`
	// BestOver keeps, among runs that differ only in this config key (e.g.
	// train.lr), the best on Eval (store.BestOver); the figure or table
	// says so. Any section that reads runs takes it.
	BestOver string `yaml:"best_over"`
	// Reference is a CSV of published points (plot.ReadReference), relative
	// to the notebook's folder (notebooks/NAME/) or to the spec file: drawn
	// beside lab's on sweep and tradeoff (state) figures, and compared in
	// the differences table.
	Reference string `yaml:"reference"`
	X         string `yaml:"x"`      // sweep, differences: the numeric config key on the x axis
	Facet     string `yaml:"facet"`  // sweep, differences: one panel per value of this key
	Series    string `yaml:"series"` // sweep, differences: one line per value (default model.mixer)
	Width     string `yaml:"width"`  // figure width (16cm by default; 28cm suits four panels)
	Height    string `yaml:"height"` // figure height (10cm by default)
}

// Load reads a notebook spec.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &architectures.InputError{Msg: fmt.Sprintf("notebook %s: %v", path, err)}
	}
	var s Spec
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, &architectures.InputError{Msg: fmt.Sprintf("notebook %s: %v", path, strings.ReplaceAll(err.Error(), "\n", " "))}
	}
	if s.Name == "" || len(s.Sections) == 0 {
		return nil, &architectures.InputError{Msg: fmt.Sprintf("notebook %s: name and sections are required", path)}
	}
	s.path = path
	return &s, nil
}

// Runner does the training and measuring Gather asks for. The notebook
// package reads specs (package spec) and the database but does not import
// the trainer or the cost benchmark: the CLI passes a Runner built on
// experiments.Run and bench.Measure.
type Runner interface {
	// Train trains the spec's trials, skipping those done in db, and
	// returns the one-line summary of the outcomes.
	Train(s *spec.Spec, db *store.DB) (summary string, err error)
	// Measure runs the cost benchmark b (each shape for at least minTime),
	// adding each row to db as it is measured and reporting it to progress.
	Measure(b BenchRun, minTime time.Duration, db *store.DB, progress func(string)) error
}

// Gather trains the notebook's experiments (skipping trials already done in
// db) and runs its cost benchmark when db has no bench rows for it.
func (s *Spec) Gather(db *store.DB, run Runner, progress func(string)) error {
	for _, p := range s.Experiments {
		sp, err := spec.Load(p)
		if err != nil {
			return err
		}
		progress("training " + p + " (done trials are skipped)")
		summary, err := run.Train(sp, db)
		if err != nil {
			return err
		}
		progress(summary)
	}
	if s.Bench == nil {
		return nil
	}
	have, err := db.Benches("")
	if err != nil {
		return err
	}
	if len(have) > 0 {
		progress("bench rows present: not measuring again")
		return nil
	}
	minTime, err := time.ParseDuration(s.Bench.MinTime)
	if err != nil {
		minTime = 200 * time.Millisecond
	}
	progress("measuring costs")
	return run.Measure(*s.Bench, minTime, db, progress)
}

// Render writes dir/README.md and its figures from the database. Every
// section is rendered in memory first, so a section that fails leaves
// nothing new in dir.
func (s *Spec) Render(db *store.DB, dir, regenerate string) error {
	files := map[string][]byte{} // figure file name to PNG
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", s.Title)
	if s.Intro != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Intro))
	}
	fmt.Fprintf(&b, "Regenerate this notebook, data included, with one command:\n\n```sh\n%s\n```\n\n", regenerate)
	for i, sec := range s.Sections {
		if sec.Heading != "" {
			fmt.Fprintf(&b, "## %s\n\n", sec.Heading)
		}
		if sec.Text != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(sec.Text))
		}
		var err error
		switch {
		case sec.Table == "runs":
			err = runsTable(&b, db, sec)
		case sec.Table == "bench":
			err = benchTable(&b, db, sec)
		case sec.Table == "differences":
			err = differencesTable(&b, db, sec, s.reference(sec, dir))
		case sec.Table != "":
			err = fmt.Errorf("unknown table %q: runs, bench, differences", sec.Table)
		case sec.Figure != "":
			name := fmt.Sprintf("fig%d-%s.png", i+1, sec.Figure)
			var png []byte
			png, err = s.figure(db, sec, dir)
			if err == nil {
				files[name] = png
				fmt.Fprintf(&b, "![%s](%s)\n\n", sec.Figure, name)
			}
		}
		if err != nil {
			return fmt.Errorf("notebook %s, section %d: %w", s.Name, i+1, err)
		}
	}
	published := ""
	for _, sec := range s.Sections {
		if sec.Reference != "" {
			published = " Published points come from the reference files named above, not from runs."
			break
		}
	}
	fmt.Fprintf(&b, "---\nRendered by `lab notebook` on %s from the runs database; every lab number and figure above comes from the runs in it.%s\n", time.Now().UTC().Format("2006-01-02"), published)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, png := range files {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String()), 0o644)
}

// reference returns the path of the section's reference file: relative to
// the notebook's folder when it is there, else to the spec file's folder
// (or its NAME/ folder); "" when the section has none.
func (s *Spec) reference(sec Section, dir string) string {
	r := sec.Reference
	if r == "" || filepath.IsAbs(r) {
		return r
	}
	specDir := filepath.Dir(s.path)
	for _, p := range []string{filepath.Join(dir, r), filepath.Join(specDir, s.Name, r), filepath.Join(specDir, r)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, r) // missing: the error names it
}

// sectionRuns returns the finished runs a section selects, the best of
// each group when it has best_over, and the note that says so.
func sectionRuns(db *store.DB, sec Section) ([]store.Run, string, error) {
	runs, err := db.Runs(store.Filter{Status: "done", Where: sec.Where})
	if err != nil || sec.BestOver == "" {
		return runs, "", err
	}
	b, err := store.BestOver(runs, sec.BestOver, sec.Eval)
	if err != nil {
		return nil, "", err
	}
	return b.Runs, b.Note(), nil
}

// figure draws a figure section as a PNG.
func (s *Spec) figure(db *store.DB, sec Section, dir string) ([]byte, error) {
	size := plot.DefaultSize
	for _, side := range []struct {
		v string
		l *vg.Length
	}{{sec.Width, &size.W}, {sec.Height, &size.H}} {
		if side.v == "" {
			continue
		}
		l, err := plot.ParseLength(side.v)
		if err != nil {
			return nil, err
		}
		*side.l = l
	}
	var ref *plot.Reference
	if p := s.reference(sec, dir); p != "" {
		var err error
		if ref, err = plot.ReadReference(p); err != nil {
			return nil, err
		}
	}
	var f *plot.Figure
	if sec.Figure == "cost" {
		bs, err := db.Benches(sec.Kind)
		if err != nil {
			return nil, err
		}
		if f, err = plot.CostVsLength(bs, sec.Metric); err != nil {
			return nil, err
		}
	} else {
		runs, note, err := sectionRuns(db, sec)
		if err != nil {
			return nil, err
		}
		switch sec.Figure {
		case "recall-vs-length":
			f, err = plot.RecallVsLength(runs)
		case "sweep":
			f, err = plot.AccuracySweep(runs, plot.SweepOptions{X: sec.X, Facet: sec.Facet, Series: sec.Series, Eval: sec.Eval, Reference: ref})
		case "tradeoff":
			c, perr := plot.ParseCost(defaultStr(sec.Cost, "state"))
			if perr != nil {
				return nil, perr
			}
			f, err = plot.TradeoffWith(runs, sec.Eval, c, ref)
		case "map":
			lv, perr := plot.ParseLevels(defaultStr(sec.Levels, "0.1,0.2,0.5,0.7,0.9"))
			if perr != nil {
				return nil, perr
			}
			f, err = plot.Map(runs, lv)
		default:
			return nil, fmt.Errorf("unknown figure %q: recall-vs-length, tradeoff, map, sweep, cost", sec.Figure)
		}
		if err != nil {
			return nil, err
		}
		f.SetNote(note)
	}
	var buf bytes.Buffer
	if err := f.Render(&buf, "png", size); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func defaultStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

package notebook

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"lab/plot"
	"lab/store"
)

// runsTable writes one row per run: mixer, width, accuracy per eval set,
// state bytes, step time.
func runsTable(b *strings.Builder, db *store.DB, sec Section) error {
	runs, note, err := sectionRuns(db, sec)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("no finished runs match %v: train them first (lab notebook NOTEBOOK.yaml --run)", sec.Where)
	}
	if note != "" {
		fmt.Fprintf(b, "Runs: the %s.\n\n", note)
	}
	var evals []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, x := range r.Results {
			if !seen[x.EvalName] {
				seen[x.EvalName] = true
				evals = append(evals, x.EvalName)
			}
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].TrialIndex < runs[j].TrialIndex })
	fmt.Fprintf(b, "| mixer | d_model |")
	for _, e := range evals {
		fmt.Fprintf(b, " acc %s |", e)
	}
	fmt.Fprintf(b, " state bytes | ms/step | run |\n|---|---|")
	for range evals {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|\n")
	for _, r := range runs {
		var cfg struct {
			Model struct {
				Mixer  string `json:"mixer"`
				DModel int    `json:"d_model"`
			} `json:"model"`
		}
		json.Unmarshal(r.Config, &cfg)
		fmt.Fprintf(b, "| %s | %d |", cfg.Model.Mixer, cfg.Model.DModel)
		acc := map[string]float64{}
		for _, x := range r.Results {
			acc[x.EvalName] = x.Accuracy
		}
		for _, e := range evals {
			if a, ok := acc[e]; ok {
				fmt.Fprintf(b, " %.3f |", a)
			} else {
				b.WriteString(" - |")
			}
		}
		fmt.Fprintf(b, " %d | %.1f | `%s` |\n", r.StateBytes, r.StepTimeMS, r.ID[:8])
	}
	b.WriteString("\n")
	return nil
}

// benchTable writes the bench rows of one kind and metric as mixer × length.
func benchTable(b *strings.Builder, db *store.DB, sec Section) error {
	bs, err := db.Benches(sec.Kind)
	if err != nil {
		return err
	}
	cell := map[string]map[int]string{}
	var mixers []string
	lengths := map[int]bool{}
	unit := ""
	for _, x := range bs {
		if x.Metric != sec.Metric && x.Metric != "needs_bytes" {
			continue
		}
		if cell[x.Mixer] == nil {
			cell[x.Mixer] = map[int]string{}
			mixers = append(mixers, x.Mixer)
		}
		lengths[x.SeqLen] = true
		if x.Metric == "needs_bytes" {
			cell[x.Mixer][x.SeqLen] = fmt.Sprintf("not run: needs ≥ %.1f GiB", x.Value/(1<<30))
		} else {
			cell[x.Mixer][x.SeqLen] = fmt.Sprintf("%.4g", x.Value)
			unit = x.Unit
		}
	}
	if len(mixers) == 0 {
		return fmt.Errorf("no bench rows of kind %q, metric %q", sec.Kind, sec.Metric)
	}
	var ls []int
	for l := range lengths {
		ls = append(ls, l)
	}
	sort.Ints(ls)
	fmt.Fprintf(b, "%s %s (%s):\n\n| mixer |", sec.Kind, sec.Metric, unit)
	for _, l := range ls {
		fmt.Fprintf(b, " L=%d |", l)
	}
	b.WriteString("\n|---|")
	for range ls {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, m := range mixers {
		fmt.Fprintf(b, "| %s |", m)
		for _, l := range ls {
			v := cell[m][l]
			if v == "" {
				v = "-"
			}
			fmt.Fprintf(b, " %s |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return nil
}

// differencesTable writes lab − published for each published point of the
// section's reference where lab has a matching sweep point (same series,
// facet value and x), and says how many published points have none.
func differencesTable(b *strings.Builder, db *store.DB, sec Section, refPath string) error {
	if refPath == "" {
		return fmt.Errorf("table differences needs reference: FILE.csv")
	}
	ref, err := plot.ReadReference(refPath)
	if err != nil {
		return err
	}
	runs, note, err := sectionRuns(db, sec)
	if err != nil {
		return err
	}
	o := plot.SweepOptions{X: sec.X, Facet: sec.Facet, Series: sec.Series, Eval: sec.Eval}
	sw, err := plot.SweepData(runs, o)
	if err != nil {
		return err
	}
	ds, err := plot.Differences(sw.Panels, ref, o)
	if err != nil {
		return err
	}
	xcol, fcol := lastKey(sw.X), lastKey(sw.Facet)
	lab := "lab (mean of its runs)"
	if note != "" {
		lab = "lab (" + note + ")"
	}
	if len(ds) == 0 {
		fmt.Fprintf(b, "No published point of %s has a matching lab run yet (%d runs read).\n\n", filepath.Base(refPath), len(runs))
		return nil
	}
	b.WriteString("| mixer |")
	if fcol != "" {
		fmt.Fprintf(b, " %s |", fcol)
	}
	fmt.Fprintf(b, " %s | published | %s | lab − published | runs |\n|---|", xcol, lab)
	if fcol != "" {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|---|---|\n")
	far := 0
	for _, d := range ds {
		fmt.Fprintf(b, "| %s |", d.Series)
		if fcol != "" {
			fmt.Fprintf(b, " %s |", d.Facet)
		}
		delta := fmt.Sprintf("%+.2f", d.Delta())
		if math.Abs(d.Delta()) > 0.1 {
			delta = "**" + delta + "**"
			far++
		}
		fmt.Fprintf(b, " %g | %.2f | %.3f | %s | %d |\n", d.X, d.Published, d.Lab, delta, d.N)
	}
	fmt.Fprintf(b, "\n%d of %d published points have a lab run to compare (%s); %d differ by more than 0.1 (in bold).\n\n",
		len(ds), len(ref.Rows), filepath.Base(refPath), far)
	return nil
}

// lastKey is a config key's last element: seq_len for task.seq_len.
func lastKey(k string) string {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[i+1:]
	}
	return k
}

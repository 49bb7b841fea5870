package notebook

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lab/plot/plottest"
	"lab/store"
)

const notebookYAML = `name: t
title: A test notebook
intro: Made from a synthetic database.
sections:
  - heading: Runs
    table: runs
    where: [spec_name=synthetic]
  - figure: recall-vs-length
  - figure: tradeoff
    cost: state
  - figure: map
  - figure: cost
    metric: time
`

func TestRender(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "runs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := plottest.Fill(db, 1); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "nb.yaml")
	os.WriteFile(p, []byte(notebookYAML), 0o644)
	nb, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := nb.Render(db, out, "lab notebook nb.yaml --run"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "README.md"))
	for _, want := range []string{"# A test notebook", "lab notebook nb.yaml --run", "| mixer | d_model |", "![map](fig4-map.png)"} {
		if !strings.Contains(string(md), want) {
			t.Fatalf("notebook lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{"fig2-recall-vs-length.png", "fig3-tradeoff.png", "fig4-map.png", "fig5-cost.png"} {
		fh, err := os.Open(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(fh); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fh.Close()
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{"name: x\n", "name: x\nsections: [{figure: map}]\nbogus: 1\n"} {
		p := filepath.Join(dir, "nb.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Load(p); err == nil {
			t.Fatalf("%q accepted", body)
		}
	}
}

// The shipped notebooks of issue 14 render from a synthetic sweep database
// (nothing is trained): the sweep figure with the published points, the
// differences table, the tradeoff with the published frontier.
func TestRenderShipped(t *testing.T) {
	for _, c := range []struct {
		spec  string
		want  []string
		files []string
	}{
		{"../notebooks/zoology-fig2.yaml", []string{"notebooks/zoology-fig2/runs.sqlite", "![sweep](fig1-sweep.png)",
			"| mixer | seq_len | d_model | published | lab (best of 3 over train.lr on test) | lab − published | runs |",
			"| rwkv4 | 128 | 512 | 0.91 | 0.800 | **-0.11** | 1 |", "| softmax | 64 | 64 | 0.99 | 0.990 | +0.00 | 1 |",
			"24 of 40 published points have a lab run to compare (published.csv); 4 differ by more than 0.1 (in bold)."},
			[]string{"fig1-sweep.png"}},
		{"../notebooks/based-pareto.yaml", []string{"notebooks/based-pareto/runs.sqlite", "![tradeoff](fig1-tradeoff.png)",
			"Runs: the best of 3 over train.lr on each run's first eval set."}, []string{"fig1-tradeoff.png"}},
	} {
		nb, err := Load(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		db, err := store.Open(filepath.Join(dir, "runs.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := plottest.FillSweep(db, nb.Name); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		if err := nb.Render(db, out, "lab notebook "+c.spec+" --run"); err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		md, _ := os.ReadFile(filepath.Join(out, "README.md"))
		for _, want := range c.want {
			if !strings.Contains(string(md), want) {
				t.Errorf("%s: README lacks %q:\n%s", c.spec, want, md)
			}
		}
		for _, f := range c.files {
			fh, err := os.Open(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(fh); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			fh.Close()
		}
		if k := os.Getenv("LAB_KEEP_NOTEBOOK"); k != "" {
			os.MkdirAll(filepath.Join(k, nb.Name), 0o755)
			for _, f := range append(c.files, "README.md") {
				b, _ := os.ReadFile(filepath.Join(out, f))
				os.WriteFile(filepath.Join(k, nb.Name, f), b, 0o644)
			}
		}
	}
}

// Section fields that need each other, or name what is not there, fail
// with the section named.
func TestRenderSectionErrors(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "runs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := plottest.FillSweep(db, "s"); err != nil {
		t.Fatal(err)
	}
	for body, msg := range map[string]string{
		"  - table: differences\n    x: d_model\n":                      "reference",
		"  - figure: sweep\n    x: d_model\n    reference: none.csv\n":  "none.csv",
		"  - figure: sweep\n    x: d_model\n    best_over: train.mom\n": "train.mom",
		"  - figure: sweep\n    facet: seq_len\n":                       "x key",
		"  - figure: sweep\n    x: d_model\n    width: wide\n":          "wide",
		"  - table: pivot\n": "unknown table",
		"  - figure: map\n    best_over: train.lr\n    eval: nope\n    levels: \"0.5\"\n": "no results",
	} {
		p := filepath.Join(dir, "nb.yaml")
		os.WriteFile(p, []byte("name: e\ntitle: E\nsections:\n"+body), 0o644)
		nb, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		err = nb.Render(db, filepath.Join(dir, "out"), "x")
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "section 1") {
			t.Errorf("%q: %v; want an error naming section 1 and %q", body, err, msg)
		}
	}
	// A good figure before a bad section is not written either.
	p := filepath.Join(dir, "nb.yaml")
	os.WriteFile(p, []byte("name: e\ntitle: E\nsections:\n  - figure: sweep\n    x: d_model\n  - table: pivot\n"), 0o644)
	nb, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := nb.Render(db, filepath.Join(dir, "out"), "x"); err == nil || !strings.Contains(err.Error(), "section 2") {
		t.Errorf("want section 2 to fail, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("a failed render left its folder: %v", err)
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"lab/bench"
	"lab/experiments"
	"lab/notebook"
	"lab/spec"
	"lab/store"
)

// notebookRunner trains and measures for notebook.Gather.
type notebookRunner struct{}

func (notebookRunner) Train(s *spec.Spec, db *store.DB) (string, error) {
	outs, err := experiments.Run(s, experiments.Options{DB: db, Resume: true})
	if err != nil {
		return "", err
	}
	return experiments.Summary(outs), nil
}

func (notebookRunner) Measure(b notebook.BenchRun, minTime time.Duration, db *store.DB, progress func(string)) error {
	_, err := bench.Measure(bench.Config{Mixers: b.Mixers, Lengths: b.Lengths, DModel: b.DModel, Heads: b.Heads, Batch: b.Batch,
		Chunk: 64, MaxMem: int64(b.MaxMem * (1 << 30)), MinTime: minTime, Seed: 1,
		Progress: func(r store.Bench) {
			progress(fmt.Sprintf("%s L=%d %s %s %.4g %s", r.Mixer, r.SeqLen, r.Kind, r.Metric, r.Value, r.Unit))
			db.AddBench([]store.Bench{r})
		}})
	return err
}

func notebookCmd() *cli.Command {
	return &cli.Command{
		Name:      "notebook",
		Usage:     "render a notebook (markdown, tables and figures from the database) into notebooks/NAME/",
		ArgsUsage: "NOTEBOOK.yaml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "runs database (default: notebooks/NAME/runs.sqlite)"},
			&cli.BoolFlag{Name: "run", Usage: "first train the notebook's experiments and measure its costs (done trials are skipped)"},
			&cli.StringFlag{Name: "o", Usage: "output folder (default: notebooks/NAME)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("notebook: want one NOTEBOOK.yaml")
			}
			nb, err := notebook.Load(c.Args().First())
			if err != nil {
				return err
			}
			dir := c.String("o")
			if dir == "" {
				dir = filepath.Join("notebooks", nb.Name)
			}
			dbPath := c.String("db")
			if dbPath == "" {
				dbPath = filepath.Join(dir, "runs.sqlite")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("notebook: %w", err)
			}
			db, err := store.Open(dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			if c.Bool("run") {
				if err := nb.Gather(db, notebookRunner{}, func(s string) { fmt.Fprintln(c.App.ErrWriter, s) }); err != nil {
					return err
				}
			}
			regen := fmt.Sprintf("lab notebook %s --run", c.Args().First())
			if err := nb.Render(db, dir, regen); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s\n", filepath.Join(dir, "README.md"))
			return nil
		},
	}
}

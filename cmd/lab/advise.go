package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"lab/advise"
	"lab/store"
)

func adviseCmd() *cli.Command {
	return &cli.Command{
		Name:  "advise",
		Usage: "the cheapest configurations that reached a recall target at a length, from the runs in the database",
		Flags: []cli.Flag{dbFlag, formatFlag,
			&cli.IntFlag{Name: "seq-len", Required: true, Usage: "sequence length you will run at"},
			&cli.Float64Flag{Name: "recall", Required: true, Usage: "accuracy you need, in (0, 1]"},
			&cli.StringFlag{Name: "task", Usage: "only runs of this task (e.g. mqar)"},
			bestOverFlag(),
			&cli.StringFlag{Name: "eval", Usage: "with --best-over: the eval set that picks the best run (default: each run's first result)"},
		},
		Action: func(c *cli.Context) error {
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			n, r := c.Int("seq-len"), c.Float64("recall")
			if n <= 0 {
				return usageErr("--seq-len %d: must be a positive integer", n)
			}
			if r <= 0 || r > 1 {
				return usageErr("--recall %g: must be in (0, 1]", r)
			}
			db, err := openRead(c)
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs(store.Filter{Status: "done"})
			if err != nil {
				return err
			}
			runs, note, err := bestOver(c, "advise", runs, false)
			if err != nil {
				return err
			}
			a, err := advise.Advise(runs, n, r, c.String("task"))
			if err != nil {
				return err
			}
			a.BestOver = note
			w := c.App.Writer
			if c.String("format") == "json" {
				return writeJSON(w, a)
			}
			if note != "" {
				fmt.Fprintf(w, "from the %s\n", note)
			}
			if a.UsedLen != n {
				fmt.Fprintf(w, "no run was evaluated at L=%d; answering from the nearest measured length, L=%d\n", n, a.UsedLen)
			}
			if len(a.Options) == 0 {
				fmt.Fprintf(w, "no configuration reached recall %.3g at L=%d", r, a.UsedLen)
				if a.Best != nil {
					fmt.Fprintf(w, "; the best was %s (d_model %d) at %.3f (run %s)", a.Best.Mixer, a.Best.DModel, a.Best.Accuracy, shortID(a.Best.RunID))
				}
				fmt.Fprintln(w)
			} else {
				fmt.Fprintf(w, "configurations that reached recall %.3g at L=%d, cheapest state first:\n", r, a.UsedLen)
				t := &table{cols: []string{"mixer", "d_model", "accuracy", fmt.Sprintf("state_bytes@%d", n), fmt.Sprintf("flops/token@%d", n), "train_ms/step", "run"}}
				for _, o := range a.Options {
					t.add(o.Mixer, o.DModel, round(o.Accuracy, "%.3f"), o.StateBytes, round(o.FLOPs, "%.3g"), round(o.StepMS, "%.1f"), shortID(o.RunID))
				}
				if err := t.write(w, c.String("format")); err != nil {
					return err
				}
			}
			if len(a.Missing) > 0 {
				fmt.Fprintln(w, "\nto answer better, measure:")
				for _, m := range a.Missing {
					fmt.Fprintln(w, "  - "+m)
				}
			}
			return nil
		},
	}
}

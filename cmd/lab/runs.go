package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"lab/store"
)

// openRead opens the database of a command that only reads: read-only, so
// it works in a directory lab may not write to, and never creating one (a
// missing file is a typo in --db, not an empty record).
func openRead(c *cli.Context) (*store.DB, error) {
	db, err := store.Open(c.String("db"), store.ReadOnly())
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, usageErr("%s: no database at %s (set --db or LAB_DB)", c.Command.FullName(), c.String("db"))
	}
	return db, err
}

func runsCmd() *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list runs, filtered",
		Flags: []cli.Flag{dbFlag, formatFlag,
			&cli.StringSliceFlag{Name: "where", Usage: "filter KEY=VALUE or KEY!=VALUE; KEY is a column (status, device, spec_name) or a config path (model.mixer, task.seq_len); repeatable"},
			&cli.IntFlag{Name: "limit", Usage: "at most this many runs (newest first), 0 = all"},
			bestOverFlag(),
			&cli.StringFlag{Name: "eval", Usage: "with --best-over: the eval set that picks the best run (default: each run's first result)"},
		},
		Action: func(c *cli.Context) error {
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			db, err := openRead(c)
			if err != nil {
				return err
			}
			defer db.Close()
			f := store.Filter{Where: c.StringSlice("where"), Limit: c.Int("limit")}
			if c.String("best-over") != "" {
				f.Limit = 0 // the best of every group first, then the limit
			}
			runs, err := db.Runs(f)
			if err != nil {
				return err
			}
			runs, note, err := bestOver(c, "runs", runs, false)
			if err != nil {
				return err
			}
			if n := c.Int("limit"); n > 0 && len(runs) > n {
				runs = runs[:n]
			}
			if note != "" { // on stderr, so csv and json stay parseable
				fmt.Fprintln(c.App.ErrWriter, note)
			}
			if c.String("format") == "json" {
				if runs == nil {
					runs = []store.Run{}
				}
				return writeJSON(c.App.Writer, runs)
			}
			t := &table{cols: []string{"id", "spec", "trial", "status", "device", "params", "state_bytes", "ms/step", "results"}}
			for _, r := range runs {
				exact := c.String("format") == "csv"
				var res []string
				for _, x := range r.Results {
					res = append(res, x.EvalName+"="+cell(round(x.Accuracy, "%.3f"), exact))
				}
				t.add(shortID(r.ID), r.SpecName, r.TrialName, r.Status, r.Device, r.Params, r.StateBytes, round(r.StepTimeMS, "%.1f"), strings.Join(res, " "))
			}
			return t.write(c.App.Writer, c.String("format"))
		},
	}
}

func showCmd() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print one run: config, training curve summary, results and recall by distance",
		ArgsUsage: "RUN_ID (a unique prefix is enough)",
		Flags:     []cli.Flag{dbFlag, formatFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("show: want one RUN_ID")
			}
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			db, err := openRead(c)
			if err != nil {
				return err
			}
			defer db.Close()
			r, err := db.Run(c.Args().First())
			if err != nil {
				return err
			}
			ms, err := db.Metrics(r.ID)
			if err != nil {
				return err
			}
			bd, err := db.ByDistance(r.ID)
			if err != nil {
				return err
			}
			if c.String("format") == "json" {
				return writeJSON(c.App.Writer, map[string]any{"run": r, "metrics": ms, "recall_by_distance": bd})
			}
			out := c.App.Writer
			fmt.Fprintf(out, "run %s  %s  %s  status %s  device %s\n", r.ID, r.SpecName, r.TrialName, r.Status, r.Device)
			fmt.Fprintf(out, "params %d  state_bytes %d  flops/token %.3g  wall %.1fs  %.2f ms/step\n", r.Params, r.StateBytes, r.FLOPsPerToken, r.WallSeconds, r.StepTimeMS)
			if r.Error != "" {
				fmt.Fprintf(out, "error: %s\n", firstLine(r.Error))
			}
			fmt.Fprintf(out, "config: %s\n\n", string(r.Config))
			summarizeCurves(out, ms)
			t := &table{cols: []string{"eval", "seq_len", "kv_pairs", "accuracy", "loss", "examples"}}
			for _, x := range r.Results {
				t.add(x.EvalName, x.SeqLen, x.KVPairs, round(x.Accuracy, "%.4f"), x.Loss, x.Examples)
			}
			fmt.Fprintln(out, "results:")
			t.write(out, c.String("format"))
			names := make([]string, 0, len(bd))
			for k := range bd {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(out, "\nrecall by key-query distance, %s:\n", n)
				t := &table{cols: []string{"distance", "correct", "total", "accuracy"}}
				for _, b := range bd[n] {
					t.add(fmt.Sprintf("[%d, %d)", b.Lo, b.Hi), b.Correct, b.Total, round(float64(b.Correct)/float64(max(1, b.Total)), "%.3f"))
				}
				t.write(out, c.String("format"))
			}
			return nil
		},
	}
}

// summarizeCurves prints first/last/best of each logged metric.
func summarizeCurves(w io.Writer, ms []store.Metric) {
	t := &table{cols: []string{"metric", "points", "first", "last", "best"}}
	for _, a := range store.Curves(ms) {
		t.add(a.Name, a.Points, fmt.Sprintf("%.4f @%d", a.First, a.FirstStep), fmt.Sprintf("%.4f @%d", a.Last, a.LastStep), fmt.Sprintf("%.4f", a.Best))
	}
	fmt.Fprintln(w, "curves:")
	t.write(w, "table")
	fmt.Fprintln(w)
}

func queryCmd() *cli.Command {
	return &cli.Command{
		Name:      "query",
		Usage:     "run a read-only SQL query on the database",
		ArgsUsage: `"SELECT ..."`,
		Flags:     []cli.Flag{dbFlag, formatFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("query: want one SQL statement in quotes")
			}
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			db, err := openRead(c)
			if err != nil {
				return err
			}
			defer db.Close()
			cols, rows, err := db.Query(c.Args().First())
			if err != nil {
				return err
			}
			if c.String("format") == "json" {
				out := make([]map[string]any, len(rows))
				for i, r := range rows {
					out[i] = map[string]any{}
					for j, col := range cols {
						out[i][col] = r[j]
					}
				}
				return writeJSON(c.App.Writer, out)
			}
			t := &table{cols: cols}
			for _, r := range rows {
				t.add(r...)
			}
			return t.write(c.App.Writer, c.String("format"))
		},
	}
}

package main

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"lab/plot"
	"lab/store"
)

// maxCurveRuns bounds lab plot curves: more runs do not read in one figure.
const maxCurveRuns = 20

// plotCmd is `lab plot`: figures drawn from the runs database.
func plotCmd() *cli.Command {
	return &cli.Command{
		Name:  "plot",
		Usage: "draw a figure from the runs database (png, svg or pdf, by the -o extension)",
		Subcommands: []*cli.Command{
			{
				Name:   "recall-vs-length",
				Usage:  "accuracy vs evaluation length, one line per model, mean over seeds with min-max bars",
				Flags:  plotFlags(statusFlag(), bestOverFlag(), evalFlag(false)),
				Action: plotRuns(func(c *cli.Context, runs []store.Run) (*plot.Figure, error) { return plot.RecallVsLength(runs) }),
			},
			{
				Name:  "tradeoff",
				Usage: "accuracy vs cost, one point per run, with the Pareto frontier",
				Flags: plotFlags(statusFlag(), bestOverFlag(), evalFlag(true), referenceFlag(),
					&cli.StringFlag{Name: "cost", Value: "state", Usage: "x axis: state (state_bytes), flops (flops_per_token) or time (step_time_ms)"}),
				Action: plotRuns(func(c *cli.Context, runs []store.Run) (*plot.Figure, error) {
					cost, err := plot.ParseCost(c.String("cost"))
					if err != nil {
						return nil, err
					}
					ref, err := readReference(c)
					if err != nil {
						return nil, err
					}
					return plot.TradeoffWith(runs, c.String("eval"), cost, ref)
				}),
			},
			{
				Name:  "map",
				Usage: "decision map: the cheapest mixer (by stored state bytes) meeting each recall level at each length",
				Flags: plotFlags(statusFlag(), bestOverFlag(), evalFlag(false),
					&cli.StringFlag{Name: "levels", Value: "0.5,0.7,0.8,0.9,0.95,0.99", Usage: "recall levels (accuracy thresholds), comma-separated"}),
				Action: plotRuns(func(c *cli.Context, runs []store.Run) (*plot.Figure, error) {
					levels, err := plot.ParseLevels(c.String("levels"))
					if err != nil {
						return nil, err
					}
					return plot.Map(runs, levels)
				}),
			},
			{
				Name:  "sweep",
				Usage: "accuracy vs a numeric config key, one line per series, one panel per facet value, mean over runs with min-max bars",
				Flags: plotFlags(statusFlag(), bestOverFlag(), evalFlag(true), referenceFlag(),
					&cli.StringFlag{Name: "x", Usage: "numeric config key on the x axis, required (model.d_model, train.lr; short names such as d_model work)"},
					&cli.StringFlag{Name: "facet", Usage: "config key with one panel per value (task.seq_len gives Zoology's four panels)"},
					&cli.StringFlag{Name: "series", Value: "model.mixer", Usage: "config key with one line per value"}),
				Action: plotRuns(func(c *cli.Context, runs []store.Run) (*plot.Figure, error) {
					ref, err := readReference(c)
					if err != nil {
						return nil, err
					}
					return plot.AccuracySweep(runs, plot.SweepOptions{X: c.String("x"), Facet: c.String("facet"),
						Series: c.String("series"), Eval: c.String("eval"), Reference: ref})
				}),
			},
			{
				Name:   "cost",
				Usage:  "measured time or memory vs length from bench rows, log-log, with a slope per mixer",
				Flags:  plotFlags(&cli.StringFlag{Name: "metric", Usage: "the bench metric to plot (default: the first found)"}),
				Action: plotCost,
			},
			{
				Name:      "curves",
				Usage:     "loss and accuracy vs training step for runs",
				ArgsUsage: "[RUN ...] (unique id prefixes; or select with --where)",
				Flags:     plotFlags(bestOverFlag(), evalFlag(false)),
				Action:    plotCurves,
			},
		},
	}
}

// plotFlags are the flags every plot takes, then extra.
func plotFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{dbFlag,
		&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Usage: "output file, required; .png, .svg or .pdf"},
		&cli.StringSliceFlag{Name: "where", Usage: "filter KEY=VALUE or KEY!=VALUE (runs: a column or config path such as model.mixer; cost: a bench field such as mixer, device, kind); repeatable"},
		&cli.StringFlag{Name: "width", Value: "16cm", Usage: "figure width: cm, mm, in or pt (a bare number is cm)"},
		&cli.StringFlag{Name: "height", Value: "10cm", Usage: "figure height: cm, mm, in or pt (a bare number is cm)"},
		&cli.IntFlag{Name: "dpi", Value: plot.DefaultDPI, Usage: "resolution of PNG output, dots per inch"},
	}, extra...)
}

func bestOverFlag() cli.Flag {
	return &cli.StringFlag{Name: "best-over", Usage: "among runs that differ only in this config key (e.g. train.lr), keep the best on --eval; the figure says so"}
}

// evalFlag is --eval; plotted says whether the figure plots that set's
// accuracy, or the flag only decides --best-over.
func evalFlag(plotted bool) cli.Flag {
	if plotted {
		return &cli.StringFlag{Name: "eval", Usage: "the eval set whose accuracy to plot and to pick --best-over by (default: each run's first result)"}
	}
	return &cli.StringFlag{Name: "eval", Usage: "with --best-over: the eval set that picks the best run (default: each run's first result)"}
}

func referenceFlag() cli.Flag {
	return &cli.StringFlag{Name: "reference", Usage: "CSV of published points (mixer, accuracy and a column per axis) drawn as hollow markers on dashed lines"}
}

// readReference reads --reference, or returns nil when it is not given.
func readReference(c *cli.Context) (*plot.Reference, error) {
	if c.String("reference") == "" {
		return nil, nil
	}
	return plot.ReadReference(c.String("reference"))
}

// bestOver applies --best-over to runs and returns the runs kept and the
// note the figure or table carries ("" without the flag). --eval alone,
// where it only serves --best-over, is bad input.
func bestOver(c *cli.Context, what string, runs []store.Run, evalAlone bool) ([]store.Run, string, error) {
	key, eval := c.String("best-over"), c.String("eval")
	if key == "" {
		if eval != "" && !evalAlone {
			return nil, "", usageErr("%s: --eval %s picks the run --best-over keeps; give --best-over KEY too", what, eval)
		}
		return runs, "", nil
	}
	b, err := store.BestOver(runs, key, eval)
	if err != nil {
		return nil, "", err
	}
	if len(b.Runs) == 0 {
		on := "any result"
		if eval != "" {
			on = fmt.Sprintf("a result on eval set %q", eval)
		}
		return nil, "", usageErr("%s: --best-over %s: none of %d runs has %s with a finite accuracy", what, key, len(runs), on)
	}
	return b.Runs, b.Note(), nil
}

func statusFlag() cli.Flag {
	return &cli.StringFlag{Name: "status", Value: "done", Usage: "only runs with this status; \"any\" for all"}
}

// figureOut checks the output file and size before anything is read, so
// bad input fails fast and writes nothing.
func figureOut(c *cli.Context) (string, plot.Size, error) {
	out := c.String("o")
	if out == "" {
		return "", plot.Size{}, usageErr("plot %s: -o FILE is required (.png, .svg or .pdf)", c.Command.Name)
	}
	if _, err := plot.Format(out); err != nil {
		return "", plot.Size{}, err
	}
	w, err := plot.ParseLength(c.String("width"))
	if err != nil {
		return "", plot.Size{}, usageErr("--width: %s", err)
	}
	h, err := plot.ParseLength(c.String("height"))
	if err != nil {
		return "", plot.Size{}, usageErr("--height: %s", err)
	}
	s := plot.Size{W: w, H: h, DPI: c.Int("dpi")}
	if s.DPI <= 0 {
		return "", plot.Size{}, usageErr("--dpi %d: want a positive number", s.DPI)
	}
	return out, s, s.Check()
}

// openExisting opens the database read-only, refusing to create one that is
// missing: a plot of a new, empty database is a typo.
func openExisting(c *cli.Context) (*store.DB, error) { return openRead(c) }

// plotRuns is the action of a figure drawn from filtered runs.
func plotRuns(fig func(*cli.Context, []store.Run) (*plot.Figure, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usageErr("plot %s: unexpected argument %q; filter runs with --where", c.Command.Name, c.Args().First())
		}
		out, size, err := figureOut(c)
		if err != nil {
			return err
		}
		if _, err := readReference(c); err != nil { // fail before the database is read
			return err
		}
		if c.Command.Name == "sweep" && c.String("x") == "" {
			return usageErr("plot sweep: --x KEY is required (a numeric config key such as model.d_model)")
		}
		db, err := openExisting(c)
		if err != nil {
			return err
		}
		defer db.Close()
		f := store.Filter{Where: c.StringSlice("where"), Status: c.String("status")}
		if f.Status == "any" {
			f.Status = ""
		}
		runs, err := db.Runs(f)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return usageErr("plot %s: no runs match (status %s, where %v)", c.Command.Name, c.String("status"), f.Where)
		}
		plotted := c.Command.Name == "tradeoff" || c.Command.Name == "sweep"
		runs, note, err := bestOver(c, "plot "+c.Command.Name, runs, plotted)
		if err != nil {
			return err
		}
		figure, err := fig(c, runs)
		if err != nil {
			return err
		}
		figure.SetNote(note)
		return save(c, figure, out, size)
	}
}

func save(c *cli.Context, f *plot.Figure, out string, s plot.Size) error {
	if err := f.Save(out, s); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s\n", out)
	return nil
}

func plotCost(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("plot cost: unexpected argument %q; filter rows with --where", c.Args().First())
	}
	out, size, err := figureOut(c)
	if err != nil {
		return err
	}
	db, err := openExisting(c)
	if err != nil {
		return err
	}
	defer db.Close()
	bs, err := db.Benches("")
	if err != nil {
		return err
	}
	if bs, err = plot.FilterBenches(bs, c.StringSlice("where")); err != nil {
		return err
	}
	f, err := plot.CostVsLength(bs, c.String("metric"))
	if err != nil {
		return err
	}
	return save(c, f, out, size)
}

func plotCurves(c *cli.Context) error {
	ids, where := c.Args().Slice(), c.StringSlice("where")
	for _, a := range ids {
		if len(a) > 1 && a[0] == '-' {
			return usageErr("plot curves: flags go before the RUN ids, got %q after them", a)
		}
	}
	if len(ids) == 0 && len(where) == 0 {
		return usageErr("plot curves: give RUN ids (unique prefixes) or --where")
	}
	out, size, err := figureOut(c)
	if err != nil {
		return err
	}
	db, err := openExisting(c)
	if err != nil {
		return err
	}
	defer db.Close()
	f := store.Filter{Where: where}
	for _, id := range ids {
		r, err := db.Run(id) // one run per prefix, or a clear error
		if err != nil {
			return err
		}
		f.IDs = append(f.IDs, r.ID)
	}
	runs, err := db.Runs(f)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return usageErr("plot curves: no runs match (ids %v, where %v)", ids, where)
	}
	runs, note, err := bestOver(c, "plot curves", runs, false)
	if err != nil {
		return err
	}
	switch {
	case len(runs) > maxCurveRuns:
		return usageErr("plot curves: %d runs match; at most %d read in one figure, narrow with --where or give ids", len(runs), maxCurveRuns)
	}
	if len(f.IDs) > 0 { // in the order given
		slices.SortStableFunc(runs, func(a, b store.Run) int {
			return slices.Index(f.IDs, a.ID) - slices.Index(f.IDs, b.ID)
		})
	}
	rms := make([]plot.RunMetrics, len(runs))
	for i, r := range runs {
		ms, err := db.Metrics(r.ID)
		if err != nil {
			return err
		}
		rms[i] = plot.RunMetrics{Run: r, Metrics: ms}
	}
	fig, err := plot.Curves(rms)
	if err != nil {
		return err
	}
	fig.SetNote(note)
	return save(c, fig, out, size)
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"lab/experiments"
	"lab/store"
)

// signalsReady, when set, is called once lab run listens for SIGINT and
// SIGTERM: a test sends its signal from it.
var signalsReady func()

func runCmd() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "train every trial of a spec's sweep and log it to the database",
		ArgsUsage: "SPEC.yaml",
		Flags: append([]cli.Flag{
			dbFlag,
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "where to train: cpu, cuda (GPU 0), cuda:N, or GPUs cuda:0,cuda:1 (one trial on each at a time)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
			&cli.BoolFlag{Name: "resume", Usage: "skip trials done in the database, continue unfinished ones from their last checkpoint"},
			&cli.IntFlag{Name: "workers", Value: 1, Usage: "trials trained at once: on the CPU they share the cores; on CUDA they share the listed GPUs round-robin (at least one per GPU)"},
			&cli.IntSliceFlag{Name: "trial", Usage: "train only these trial indices (0-based; repeatable); Slurm array tasks use it"},
			maxMemFlag,
		}, precisionFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("run: want one SPEC file, got %d arguments", c.NArg())
			}
			dev, err := experiments.ParseDevice(c.String("device"))
			if err != nil {
				return err
			}
			prec, err := precisionOf(c, dev.CUDA)
			if err != nil {
				return err
			}
			workers := c.Int("workers")
			if workers < 1 || workers > experiments.MaxWorkers {
				return usageErr("--workers %d: must be an integer in [1, %d]", workers, experiments.MaxWorkers)
			}
			maxMem, err := maxMemOf(c, 0)
			if err != nil {
				return err
			}
			spec, trials, err := experiments.LoadChecked(c.Args().First(), maxMem)
			if err != nil {
				return err
			}
			if c.IsSet("trial") { // before the database is opened: a bad index writes nothing
				if _, err := experiments.SelectTrials(trials, c.IntSlice("trial")); err != nil {
					return err
				}
			}
			// Find the GPUs and the CUDA libraries before the database is
			// opened: without them nothing is written.
			if _, err := dev.Probe(); err != nil {
				return err
			}
			db, err := store.Open(c.String("db"))
			if err != nil {
				return err
			}
			defer db.Close()
			// SIGINT or SIGTERM cancels the sweep; lab then exits 128+signal
			// (130 for ^C) as a shell expects of an interrupted command.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigc := make(chan os.Signal, 1)
			signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigc)
			var sig atomic.Value
			go func() {
				select {
				case s := <-sigc:
					sig.Store(s)
					cancel()
				case <-ctx.Done():
				}
			}()
			if signalsReady != nil {
				signalsReady()
			}
			opt := experiments.Options{DB: db, Device: dev.String(), Precision: prec, Resume: c.Bool("resume"), Workers: workers, Context: ctx, MaxMem: maxMem}
			if c.IsSet("trial") {
				opt.Trials = c.IntSlice("trial")
			}
			if !c.Bool("quiet") {
				tty := workers == 1 && len(dev.Indices) <= 1 && c.App.ErrWriter == os.Stderr && term.IsTerminal(int(os.Stderr.Fd()))
				w := &lockedWriter{w: c.App.ErrWriter}
				width := 0
				if tty {
					width, _, _ = term.GetSize(int(os.Stderr.Fd()))
				}
				opt.NewProgress = func() experiments.Reporter { return experiments.NewReporter(w, tty, width) }
			}
			outs, err := experiments.Run(spec, opt)
			if err != nil {
				return err
			}
			printOutcomes(c.App.Writer, outs)
			fmt.Fprintln(c.App.Writer, experiments.Summary(outs))
			failed := 0
			for _, o := range outs {
				if o.Status == "failed" {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d trials failed (see `lab runs --where status=failed`)", failed, len(outs))
			}
			if ctx.Err() != nil {
				code := 130
				if s, ok := sig.Load().(syscall.Signal); ok {
					code = 128 + int(s)
				}
				return &exitErr{code: code, msg: "interrupted: unfinished trials saved a checkpoint; run again with --resume"}
			}
			return nil
		},
	}
}

// printOutcomes writes the results table of a sweep.
func printOutcomes(w io.Writer, outs []experiments.Outcome) {
	t := &table{cols: []string{"run", "trial", "mixer", "status", "device", "params", "state_bytes", "ms/step"}}
	var evals []string
	seen := map[string]bool{}
	for _, o := range outs {
		for _, r := range o.Results {
			if !seen[r.EvalName] {
				seen[r.EvalName] = true
				evals = append(evals, r.EvalName)
			}
		}
	}
	for _, e := range evals {
		t.cols = append(t.cols, "acc_"+e)
	}
	for _, o := range outs {
		if o.Status == experiments.NotStarted {
			continue // no run: the summary counts it
		}
		row := []any{shortID(o.RunID), o.Trial.Name, o.Trial.Spec.Model.Mixer, o.Status, o.Device, o.Params, o.StateBytes, fmt.Sprintf("%.1f", o.StepMS)}
		acc := map[string]float64{}
		for _, r := range o.Results {
			acc[r.EvalName] = r.Accuracy
		}
		for _, e := range evals {
			if a, ok := acc[e]; ok {
				row = append(row, fmt.Sprintf("%.3f", a))
			} else {
				row = append(row, "-")
			}
		}
		t.add(row...)
	}
	t.write(w, "table")
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return strings.TrimSpace(id)
}

// lockedWriter serialises progress lines from trials running at once.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var maxMemFlag = &cli.StringFlag{Name: "max-mem", Usage: "refuse a trial estimated to need more memory than this: bytes, or with KiB, MiB, GiB, TiB (default: the machine's MemAvailable)"}

// maxMemOf reads --max-mem: its bytes, or def where it is not given.
func maxMemOf(c *cli.Context, def int64) (int64, error) {
	if !c.IsSet("max-mem") {
		return def, nil
	}
	n, err := experiments.ParseBytes(c.String("max-mem"))
	if err != nil {
		return 0, usageErr("--max-mem %v", err)
	}
	return n, nil
}

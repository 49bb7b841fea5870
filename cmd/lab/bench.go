package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"lab/bench"
	"lab/store"
)

var defaultBenchMixers = []string{"softmax", "swa(window=256)", "linear", "retnet", "gla", "mamba2", "rwkv6", "deltanet"}

func benchCmd() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure costs",
		Subcommands: []*cli.Command{benchTrainCmd(), {
			Name:  "cost",
			Usage: "time each mixer's forward, forward+backward, prefill and per-token decode, and its memory, across lengths; log bench rows",
			Flags: []cli.Flag{dbFlag,
				&cli.StringSliceFlag{Name: "mixer", Usage: "a mixer to measure (repeatable; default: a spread of families)"},
				&cli.IntSliceFlag{Name: "length", Usage: "sequence lengths (repeatable)", Value: cli.NewIntSlice(256, 1024, 4096, 16384, 65536)},
				&cli.IntFlag{Name: "d-model", Value: 64},
				&cli.IntFlag{Name: "heads", Value: 2},
				&cli.IntFlag{Name: "batch", Value: 4, Usage: "batch of the forward and forward+backward passes"},
				&cli.IntFlag{Name: "chunk", Value: 64},
				&cli.Float64Flag{Name: "max-mem", Value: 8, Usage: "GiB a graph may plan; larger shapes are recorded as needs_bytes"},
				&cli.DurationFlag{Name: "min-time", Value: 200 * time.Millisecond, Usage: "time spent per measurement"},
				&cli.StringSliceFlag{Name: "kind", Usage: "measure only these: forward, forward_backward, prefill, decode (repeatable; default all)"},
			},
			Action: func(c *cli.Context) error {
				mixers := c.StringSlice("mixer")
				if len(mixers) == 0 {
					mixers = defaultBenchMixers
				}
				maxMem, err := bench.MaxMemBytes(c.Float64("max-mem"))
				if err != nil {
					return err
				}
				cfg := bench.Config{
					Mixers: mixers, Lengths: c.IntSlice("length"), DModel: c.Int("d-model"), Heads: c.Int("heads"),
					Batch: c.Int("batch"), Chunk: c.Int("chunk"), MaxMem: maxMem,
					MinTime: c.Duration("min-time"), Seed: 1, Kinds: c.StringSlice("kind"),
				}
				if err := cfg.Check(); err != nil { // sizes, kinds and every mixer, before the first row is written
					return err
				}
				db, err := store.Open(c.String("db"))
				if err != nil {
					return err
				}
				defer db.Close()
				var werr error
				cfg.Progress = func(b store.Bench) {
					fmt.Fprintf(c.App.ErrWriter, "%-16s L=%-6d %-16s %-11s %12.4g %s\n", b.Mixer, b.SeqLen, b.Kind, b.Metric, b.Value, b.Unit)
					if _, err := db.AddBench([]store.Bench{b}); err != nil && werr == nil {
						werr = err
					}
				}
				_, err = bench.Measure(cfg)
				if err != nil {
					return err
				}
				return werr
			},
		}},
	}
}

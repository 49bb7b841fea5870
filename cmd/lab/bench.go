package main

import (
	"fmt"
	"math"
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
				for _, n := range []string{"d-model", "heads", "batch", "chunk"} {
					if c.Int(n) <= 0 {
						return usageErr("--%s %d: must be a positive integer", n, c.Int(n))
					}
				}
				if c.Int("d-model")%c.Int("heads") != 0 {
					return usageErr("--heads %d: must divide --d-model %d", c.Int("heads"), c.Int("d-model"))
				}
				for _, l := range c.IntSlice("length") {
					if l <= 0 {
						return usageErr("--length %d: must be a positive integer", l)
					}
				}
				for _, k := range c.StringSlice("kind") {
					switch k {
					case "forward", "forward_backward", "prefill", "decode":
					default:
						return usageErr("--kind %q: allowed: forward, forward_backward, prefill, decode", k)
					}
				}
				if m := c.Float64("max-mem"); !(m > 0) || math.IsInf(m, 0) || m*(1<<30) < 1 {
					return usageErr("--max-mem %v: want a positive number of GiB (such as 8 or 0.5) that a graph may plan", c.Float64("max-mem"))
				}
				cfg := bench.Config{
					Mixers: mixers, Lengths: c.IntSlice("length"), DModel: c.Int("d-model"), Heads: c.Int("heads"),
					Batch: c.Int("batch"), Chunk: c.Int("chunk"), MaxMem: int64(c.Float64("max-mem") * (1 << 30)),
					MinTime: c.Duration("min-time"), Seed: 1, Kinds: c.StringSlice("kind"),
				}
				if err := cfg.Check(); err != nil { // every mixer, before the first row is written
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

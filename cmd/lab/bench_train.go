package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"lab/bench"
	"lab/experiments"
	"lab/store"
)

// benchTrainCmd is `lab bench train`: ms per training step of the issue's
// workload on one device, printed as the table scripts/torch_reference.py
// prints for PyTorch.
func benchTrainCmd() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "time whole training steps (forward, backward, AdamW) of a small LM per mixer, width and length; print ms per step",
		Description: "The workload: --layers blocks of [pre-norm, mixer, residual, pre-norm, MLP (--mlp-ratio x GELU), residual],\n" +
			"token and learned position embeddings, final norm, untied LM head (at every position, or --targets of them),\n" +
			"masked cross-entropy, AdamW. On CUDA each step is one CUDA graph launch (TrainStep), timed with device events;\n" +
			"on the CPU with the host clock. Median of --reps steps after --warmup. scripts/torch_reference.py prints the\n" +
			"same table for PyTorch.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, cuda or cuda:N (one device)"},
			&cli.StringSliceFlag{Name: "mixer", Usage: "mixers (repeatable; default softmax and linear(feature=elu1))"},
			&cli.IntSliceFlag{Name: "d-model", Value: cli.NewIntSlice(64, 128, 256), Usage: "widths (repeatable)"},
			&cli.IntSliceFlag{Name: "length", Value: cli.NewIntSlice(64, 256, 1024), Usage: "sequence lengths (repeatable)"},
			&cli.IntFlag{Name: "batch", Value: 64},
			&cli.IntFlag{Name: "vocab", Value: 8192},
			&cli.IntFlag{Name: "layers", Value: 2},
			&cli.IntFlag{Name: "heads", Value: 1},
			&cli.IntFlag{Name: "mlp-ratio", Value: 4},
			&cli.StringFlag{Name: "norm", Value: "layernorm", Usage: "layernorm or rmsnorm"},
			&cli.IntFlag{Name: "chunk", Value: 64, Usage: "chunk length of chunked mixers"},
			&cli.Float64Flag{Name: "targets", Value: 1, Usage: "fraction of positions with a target (the LM head runs only there)"},
			&cli.IntFlag{Name: "warmup", Value: 3, Usage: "untimed steps first"},
			&cli.IntFlag{Name: "reps", Value: 20, Usage: "timed steps (the median is printed)"},
			&cli.StringFlag{Name: "out", Usage: "also write the results to FILE: .csv (one row per shape) or .md (the table)"},
			&cli.StringFlag{Name: "db", EnvVars: []string{"LAB_DB"}, Usage: "also record the results as bench rows (kind train_step) in this database"},
		}, precisionFlags()...),
		Action: func(c *cli.Context) error {
			dev, err := experiments.ParseDevice(c.String("device"))
			if err != nil {
				return err
			}
			if len(dev.Indices) > 1 {
				return usageErr("bench train: --device %s: name one device", dev)
			}
			out := c.String("out")
			if ext := strings.ToLower(filepath.Ext(out)); out != "" && ext != ".csv" && ext != ".md" {
				return usageErr("bench train: --out %s: want a .csv or .md file", out)
			}
			prec, err := precisionOf(c, dev.CUDA)
			if err != nil {
				return err
			}
			mixers := c.StringSlice("mixer")
			if len(mixers) == 0 {
				mixers = []string{"softmax", "linear(feature=elu1)"}
			}
			cfg := bench.TrainConfig{
				Mixers: mixers, DModels: c.IntSlice("d-model"), Lengths: c.IntSlice("length"),
				Batch: c.Int("batch"), Vocab: c.Int("vocab"), Layers: c.Int("layers"), Heads: c.Int("heads"),
				MLPRatio: c.Int("mlp-ratio"), Norm: c.String("norm"), Chunk: c.Int("chunk"), TargetFrac: c.Float64("targets"),
				Precision: prec, Warmup: c.Int("warmup"), Reps: c.Int("reps"), CUDA: dev.CUDA, Seed: 5,
			}
			if dev.CUDA {
				cfg.Index = dev.Indices[0]
			}
			if err := cfg.Check(); err != nil { // the norm and sizes
				return err
			}
			// Every shape is built once before any is timed: a bad mixer
			// or size fails at once.
			for _, m := range mixers {
				if err := bench.CheckMixer(cfg, m); err != nil {
					return err
				}
			}
			if _, err := dev.Probe(); err != nil {
				return err
			}
			var db *store.DB
			if c.String("db") != "" {
				if db, err = store.Open(c.String("db")); err != nil {
					return err
				}
				defer db.Close()
			}
			w := c.App.Writer
			cfg.Progress = func(r bench.TrainResult) {
				fmt.Fprintf(c.App.ErrWriter, "%s d=%d L=%d: %s\n", r.Mixer, r.DModel, r.SeqLen, cellOf(r))
			}
			rs, err := bench.Train(cfg)
			if err != nil {
				return err
			}
			label := "cpu"
			if len(rs) > 0 {
				label = rs[0].Device
			}
			fmt.Fprintln(w, "ms per training step (lab bench train)")
			fmt.Fprintln(w, cfg.TrainHeader(label))
			bench.WriteTrainTable(w, "lab", rs, cfg.Lengths, true)
			fmt.Fprintln(w)
			bench.WriteTrainDetails(w, "lab", rs, true)
			if out != "" {
				if err := writeTrainOut(out, rs, cfg); err != nil {
					return err
				}
			}
			if db != nil {
				host, _ := os.Hostname()
				if _, err := db.AddBench(bench.TrainRows(rs, cfg, host)); err != nil {
					return err
				}
			}
			failed := 0
			for _, r := range rs {
				if r.Err != nil {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("bench train: %d of %d shapes failed (see the lines above)", failed, len(rs))
			}
			return nil
		},
	}
}

func cellOf(r bench.TrainResult) string {
	if r.Err != nil {
		return "failed: " + firstLine(r.Err.Error())
	}
	return fmt.Sprintf("%.3f ms, loss %.4f", r.MS, r.Loss)
}

func writeTrainOut(path string, rs []bench.TrainResult, cfg bench.TrainConfig) error {
	f, err := os.Create(path)
	if err != nil {
		return usageErr("bench train: --out %s: %v", path, err)
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		if err := bench.WriteTrainCSV(f, "lab", rs); err != nil {
			return err
		}
	} else {
		label := "cpu"
		if len(rs) > 0 {
			label = rs[0].Device
		}
		fmt.Fprintf(f, "ms per training step; %s\n\n", cfg.TrainHeader(label))
		bench.WriteTrainMarkdown(f, "lab", rs, cfg.Lengths)
	}
	return f.Close()
}

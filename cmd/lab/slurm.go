package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"lab/experiments"
	"lab/slurm"
	"lab/store"
)

func slurmCmd() *cli.Command {
	return &cli.Command{
		Name:      "slurm",
		Usage:     "write an sbatch array script: one Slurm array task per trial, one database shard each",
		ArgsUsage: "SPEC.yaml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "o", Required: true, Usage: "script file to write"},
			&cli.StringFlag{Name: "shards", Usage: "folder for the shards and logs (default: <script>.shards)"},
			&cli.StringFlag{Name: "partition", Usage: "Slurm partition"},
			&cli.StringFlag{Name: "time", Usage: "time limit per trial, e.g. 01:00:00"},
			&cli.IntFlag{Name: "cpus-per-task", Usage: "CPU cores per trial"},
			&cli.IntFlag{Name: "gpus-per-task", Usage: "GPUs per trial"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "device each trial trains on"},
			&cli.StringFlag{Name: "lab", Usage: "path of the lab binary on the cluster (default: this one)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("slurm: want one SPEC file")
			}
			dev, err := experiments.ParseDevice(c.String("device"))
			if err != nil {
				return err
			}
			// The login node is not the compute node: memory is not priced
			// here; each array task's lab run prices its trial on its node.
			spec, trials, err := experiments.LoadChecked(c.Args().First(), math.MaxInt64)
			if err != nil {
				return err
			}
			out, shards := slurm.Paths(c.String("o"), c.String("shards"))
			specAbs, _ := filepath.Abs(c.Args().First())
			labBin := c.String("lab")
			if labBin == "" {
				if labBin, err = os.Executable(); err != nil {
					labBin = "lab"
				}
			}
			if c.Int("gpus-per-task") < 0 || c.Int("cpus-per-task") < 0 {
				return usageErr("slurm: --gpus-per-task and --cpus-per-task must be >= 0")
			}
			if err := os.MkdirAll(shards, 0o755); err != nil {
				return fmt.Errorf("slurm: %w", err)
			}
			f, err := os.Create(out)
			if err != nil {
				return usageErr("slurm: -o %s: %v", c.String("o"), err)
			}
			defer f.Close()
			job := slurm.Job{Spec: c.Args().First(), SpecAbs: specAbs, Name: spec.Name, Trials: len(trials), Out: out, Shards: shards,
				Device: dev.String(), Lab: labBin, Partition: c.String("partition"), Time: c.String("time"),
				CPUs: c.Int("cpus-per-task"), GPUs: c.Int("gpus-per-task")}
			if err := job.Write(f); err != nil {
				return err
			}
			if err := os.Chmod(out, 0o755); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s: %d array tasks, shards in %s\n", out, len(trials), shards)
			return nil
		},
	}
}

func dbCmd() *cli.Command {
	return &cli.Command{
		Name:  "db",
		Usage: "database maintenance",
		Subcommands: []*cli.Command{{
			Name:      "merge",
			Usage:     "merge databases (shards, other machines) into OUT without duplicating runs",
			ArgsUsage: "OUT.sqlite IN.sqlite...",
			Action: func(c *cli.Context) error {
				if c.NArg() < 2 {
					return usageErr("db merge: want OUT and at least one IN database")
				}
				args := c.Args().Slice()
				added, skipped, err := store.Merge(args[0], args[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "merged %d inputs into %s: %d runs added, %d already there\n", len(args)-1, args[0], added, skipped)
				return nil
			},
		}},
	}
}

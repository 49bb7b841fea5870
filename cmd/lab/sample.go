package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"lab/architectures"
	"lab/tasks"
)

func flagName(param string) string { return strings.ReplaceAll(param, "_", "-") }

// sampleCmd has one subcommand per task, with a flag per task parameter.
func sampleCmd() *cli.Command {
	cmd := &cli.Command{
		Name:      "sample",
		Usage:     "print examples of a task",
		ArgsUsage: "TASK [--param value ...]",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("sample: name a task: %s", strings.Join(taskNames(), ", "))
			}
			return usageErr("sample: unknown task %q: known tasks: %s", c.Args().First(), strings.Join(taskNames(), ", "))
		},
	}
	for _, info := range tasks.List() {
		info := info
		flags := []cli.Flag{
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "data seed"},
			&cli.IntFlag{Name: "n", Value: 2, Usage: "number of examples"},
			&cli.StringFlag{Name: "format", Value: "json", Usage: "json or text"},
		}
		for _, p := range info.Params {
			flags = append(flags, &cli.Float64Flag{Name: flagName(p.Name), Value: p.Default, Usage: p.Doc})
		}
		cmd.Subcommands = append(cmd.Subcommands, &cli.Command{
			Name: info.Name, Usage: info.Doc, Flags: flags,
			Action: func(c *cli.Context) error {
				params := map[string]float64{}
				for _, p := range info.Params {
					params[p.Name] = c.Float64(flagName(p.Name))
				}
				t, err := tasks.New(info.Name, params)
				if err != nil {
					return err
				}
				n := c.Int("n")
				if n <= 0 {
					return usageErr("--n %d: must be a positive integer", n)
				}
				b, err := t.Generate(n, c.Uint64("seed"))
				if err != nil {
					return err
				}
				type example struct {
					Inputs  []int32 `json:"inputs"`
					Targets []int32 `json:"targets"`
				}
				ex := make([]example, b.N)
				for i := range ex {
					in, tg, _ := b.Row(i)
					ex[i] = example{in, tg}
				}
				switch c.String("format") {
				case "json":
					return writeJSON(c.App.Writer, ex)
				case "text":
					for i, e := range ex {
						fmt.Fprintf(c.App.Writer, "example %d\n", i)
						fmt.Fprintf(c.App.Writer, "  inputs : %v\n  targets: %v\n", e.Inputs, e.Targets)
					}
					return nil
				}
				return usageErr("--format %q: allowed: json, text", c.String("format"))
			},
		})
	}
	return cmd
}

func taskNames() []string {
	var n []string
	for _, i := range tasks.List() {
		n = append(n, i.Name)
	}
	return n
}

func tasksCmd() *cli.Command {
	return &cli.Command{
		Name:  "tasks",
		Usage: "list the synthetic tasks with their parameters and generation rules",
		Flags: []cli.Flag{formatFlag},
		Action: func(c *cli.Context) error {
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			if c.String("format") == "json" {
				return writeJSON(c.App.Writer, tasks.List())
			}
			t := &table{cols: []string{"task", "parameters (defaults)", "rule"}}
			for _, i := range tasks.List() {
				var ps []string
				for _, p := range i.Params {
					ps = append(ps, fmt.Sprintf("%s=%g", p.Name, p.Default))
				}
				t.add(i.Name, strings.Join(ps, " "), i.Rule)
			}
			return t.write(c.App.Writer, c.String("format"))
		},
	}
}

func mixersCmd() *cli.Command {
	return &cli.Command{
		Name:  "mixers",
		Usage: "list the token mixers: family, arguments with defaults, state size",
		Flags: []cli.Flag{formatFlag},
		Action: func(c *cli.Context) error {
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			list := architectures.List()
			if c.String("format") == "json" {
				type row struct {
					Name, Family, Doc, State string
					Args                     []architectures.Arg
				}
				var rs []row
				for _, s := range list {
					rs = append(rs, row{s.Name, s.Family, s.Doc, s.StateFormula, s.Args})
				}
				return writeJSON(c.App.Writer, rs)
			}
			t := &table{cols: []string{"name", "family", "arguments", "state per layer", "what"}}
			for _, s := range list {
				var as []string
				for _, a := range s.Args {
					v := a.Name + "=" + a.Default
					if len(a.Enum) > 0 {
						v += " (" + strings.Join(a.Enum, "|") + ")"
					}
					as = append(as, v)
				}
				t.add(s.Name, s.Family, strings.Join(as, ", "), s.StateFormula, s.Doc)
			}
			return t.write(c.App.Writer, c.String("format"))
		},
	}
}

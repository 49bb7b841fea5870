package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves flags that follow positional arguments in front of them,
// so `lab run SPEC --db x` works as well as `lab run --db x SPEC` (urfave/cli
// v2 stops reading flags at the first positional argument). It walks the
// command path to know which flags take a value.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	var cmd *cli.Command
	i := 1
	for i < len(args) {
		next := findCmd(cmds, args[i])
		if next == nil {
			break
		}
		cmd = next
		out = append(out, args[i])
		cmds = cmd.Subcommands
		i++
	}
	if cmd == nil {
		return args
	}
	var flags, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || notFlag(a) {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && takesValue(cmd, strings.TrimLeft(a, "-")) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	out = append(out, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// unknownCommand returns a bad-input error when, along the command path of
// args, a positional argument stands where a subcommand must (`lab plot
// bogus`, `lab bogus`): it names the word and lists the allowed ones.
func unknownCommand(app *cli.App, args []string) error {
	cmds, path := app.Commands, ""
	for i := 1; i < len(args) && len(cmds) > 0; i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") || a == "help" || a == "h" {
			return nil
		}
		next := findCmd(cmds, a)
		if next == nil {
			noun := "command"
			if path == "plot" {
				noun = "kind"
			}
			var names []string
			for _, c := range cmds {
				if !c.Hidden {
					names = append(names, c.Name)
				}
			}
			where := ""
			if path != "" {
				where = path + ": "
			}
			return usageErr("%sunknown %s %q; allowed: %s", where, noun, a, strings.Join(names, ", "))
		}
		path = strings.TrimSpace(path + " " + next.Name)
		cmds = next.Subcommands
	}
	return nil
}

// notFlag reports whether an argument that starts with '-' cannot be a flag:
// a flag's name holds no space, so "-- count the runs\nSELECT ..." (a query
// opening with a SQL comment) is a positional argument.
func notFlag(a string) bool {
	name, _, _ := strings.Cut(a, "=")
	return strings.ContainsAny(name, " \t\n\r")
}

func findCmd(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// takesValue reports whether the named flag of cmd reads a value (every
// flag kind but bool does; unknown flags are left to the parser).
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

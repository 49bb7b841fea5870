// Command lab trains token-mixing sequence models on synthetic recall tasks,
// logs every run to SQLite and answers questions about them. Run `lab help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// badInput is an error the user can fix (exit status 2).
type badInput struct{ msg string }

func (e *badInput) Error() string  { return e.msg }
func (e *badInput) BadInput() bool { return true }

func usageErr(format string, a ...any) error { return &badInput{fmt.Sprintf(format, a...)} }

// exitErr is an error with its own process status (130 after SIGINT).
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

// exitCode maps an error to the process status: an *exitErr's own, 2 for
// bad input, 1 otherwise.
func exitCode(err error) int {
	var x *exitErr
	if errors.As(err, &x) {
		return x.code
	}
	var b interface{ BadInput() bool }
	if errors.As(err, &b) && b.BadInput() {
		return 2
	}
	return 1
}

var dbFlag = &cli.StringFlag{
	Name: "db", Value: "lab.sqlite", EnvVars: []string{"LAB_DB"},
	Usage: "SQLite database of runs",
}

var formatFlag = &cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, csv or json"}

func newApp() *cli.App {
	return &cli.App{
		Name:  "lab",
		Usage: "how much recall does a token mixer buy, and at what cost?",
		Commands: []*cli.Command{
			runCmd(), runsCmd(), showCmd(), queryCmd(), sampleCmd(), mixersCmd(), tasksCmd(), slurmCmd(), dbCmd(), benchCmd(), plotCmd(), adviseCmd(), notebookCmd(), devicesCmd(),
		},
		OnUsageError: func(c *cli.Context, err error, sub bool) error {
			return usageErr("%s", err)
		},
		HideHelpCommand: false,
	}
}

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run executes the CLI and returns the process status.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	app.ExitErrHandler = func(*cli.Context, error) {} // we choose the status
	err := unknownCommand(app, args)
	if err == nil {
		err = app.Run(flagsFirst(app, args))
	}
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "flag provided but not defined") || strings.Contains(msg, "Required flag") || strings.HasPrefix(msg, "invalid value") {
			err = usageErr("%s", msg)
		}
		fmt.Fprintln(stderr, "lab: "+firstLine(err.Error()))
		return exitCode(err)
	}
	return 0
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Package plot draws lab's figures from the runs database: recall against
// sequence length, the accuracy-cost tradeoff with its Pareto frontier, the
// decision map (the cheapest mixer that meets a recall level at a length),
// measured cost against length with log-log slopes, training curves, and
// accuracy against any numeric config key in panels (the sweep), with
// published points from a reference CSV beside lab's (reference.go).
//
// It reads what package store returns and never trains anything. The data
// shaping (grouping over seeds, the frontier, slope fits, the choice of each
// map cell, the sweep's panels and the differences from published points)
// is in pure functions: group.go, tradeoff.go, decision.go, cost.go,
// curves.go, sweep.go and reference.go. Every figure can carry a note under
// its title (Figure.SetNote), which the CLI uses to say that only the best
// run over a key was kept (store.BestOver). The drawing is in the render_*.go files, built on
// gonum.org/v1/plot, and figure.go writes a figure as PNG, SVG or PDF.
package plot

import (
	"errors"
	"fmt"
)

// ErrNoData is the cause of the InputError returned when nothing in the
// database matches what a figure needs.
var ErrNoData = errors.New("no data")

// InputError is an error the user can fix: no matching runs or rows, a bad
// size, an unknown output format. Its BadInput method lets the CLI map it to
// exit status 2.
type InputError struct {
	Msg string // what was wrong, naming the input
	Err error  // the cause, if any
}

// Error returns the message.
func (e *InputError) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// BadInput reports that the error is the user's to fix.
func (e *InputError) BadInput() bool { return true }

func badInput(format string, a ...any) error {
	return &InputError{Msg: fmt.Sprintf("plot: "+format, a...)}
}

func noData(format string, a ...any) error {
	return &InputError{Msg: fmt.Sprintf("plot: "+format, a...), Err: ErrNoData}
}

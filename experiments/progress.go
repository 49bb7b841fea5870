package experiments

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Reporter receives progress from a sweep.
type Reporter interface {
	Start(t Trial, index, total, steps int)
	Step(step int, loss, lastAcc float64)
	Done(o Outcome)
}

// NewReporter returns a progress bar redrawn in place when tty is true, fitted
// to a terminal of width columns (0: 80), and plain lines otherwise: one
// every 10% of a trial and at least one every PlainEvery, so a log is never
// silent for long.
func NewReporter(w io.Writer, tty bool, width int) Reporter {
	if width <= 0 {
		width = 80
	}
	return &reporter{w: w, tty: tty, width: width, now: time.Now}
}

// PlainEvery is the longest a plain (non-terminal) progress log stays silent
// during a trial.
const PlainEvery = 30 * time.Second

type reporter struct {
	w            io.Writer
	tty          bool
	width        int
	now          func() time.Time // the clock; tests replace it
	name         string
	index, total int
	steps        int
	start        time.Time
	lastDraw     time.Time
	lastPlain    int       // the last tenth of the trial printed
	lastPlainAt  time.Time // when the last plain line was printed
	first        int       // the step the trial started (or resumed) from; -1 before the first Step
}

func (r *reporter) Start(t Trial, index, total, steps int) {
	r.name, r.index, r.total, r.steps = t.Name, index, total, steps
	r.start, r.lastPlain, r.first = r.now(), 0, -1
	r.lastPlainAt = r.start
	if !r.tty {
		fmt.Fprintf(r.w, "trial %d/%d %s: %d steps\n", index+1, total, t.Name, steps)
	}
}

func fmtAcc(a float64) string {
	if math.IsNaN(a) {
		return "-"
	}
	return fmt.Sprintf("%.3f", a)
}

func (r *reporter) Step(step int, loss, lastAcc float64) {
	now := r.now()
	if r.first < 0 {
		// The first report after Start: a resumed trial starts past step 0,
		// and the ETA counts only the steps trained since.
		r.first = step - 1
		r.lastPlain = r.first * 10 / r.steps
	}
	el := now.Sub(r.start)
	eta := time.Duration(float64(el) / float64(step-r.first) * float64(r.steps-step)).Round(time.Second)
	if r.tty {
		if now.Sub(r.lastDraw) < 100*time.Millisecond && step != r.steps {
			return
		}
		r.lastDraw = now
		head := fmt.Sprintf("[%d/%d] %s ", r.index+1, r.total, r.name)
		tail := fmt.Sprintf(" %d/%d loss %.3f acc %s eta %s", step, r.steps, loss, fmtAcc(lastAcc), eta)
		if room := r.width - 1 - utf8.RuneCountInString(tail); utf8.RuneCountInString(head) > room {
			// A narrow terminal shortens the trial name before the numbers.
			head = clip(head, max(room-2, 0)) + "… "
		}
		// The bar takes what the terminal leaves, up to 24 cells; the line
		// stays one column short of the width so it never wraps.
		width := min(24, r.width-1-utf8.RuneCountInString(head)-utf8.RuneCountInString(tail))
		bar := ""
		if width >= 4 {
			fill := width * step / r.steps
			bar = strings.Repeat("█", fill) + strings.Repeat("·", width-fill)
		}
		fmt.Fprint(r.w, "\r\033[K"+clip(head+bar+tail, r.width-1))
		return
	}
	tenth := step * 10 / r.steps
	if tenth > r.lastPlain || now.Sub(r.lastPlainAt) >= PlainEvery || step == r.steps {
		r.lastPlain, r.lastPlainAt = tenth, now
		fmt.Fprintf(r.w, "trial %d/%d %s: step %d/%d loss %.4f acc %s eta %s\n",
			r.index+1, r.total, r.name, step, r.steps, loss, fmtAcc(lastAcc), eta)
	}
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func (r *reporter) Done(o Outcome) {
	if r.tty {
		fmt.Fprint(r.w, "\r\033[K")
	}
	acc := "-"
	if len(o.Results) > 0 {
		parts := make([]string, len(o.Results))
		for i, res := range o.Results {
			parts[i] = fmt.Sprintf("%s=%.3f", res.EvalName, res.Accuracy)
		}
		acc = strings.Join(parts, " ")
	}
	line := fmt.Sprintf("trial %d/%d %s: %s in %s, %.1f ms/step, acc %s", r.index+1, r.total, o.Trial.Name, o.Status, o.Wall.Round(time.Millisecond), o.StepMS, acc)
	if o.Err != nil {
		line += " (" + firstLine(o.Err.Error()) + ")"
	}
	fmt.Fprintln(r.w, line)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

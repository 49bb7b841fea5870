package experiments

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock is a reporter clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestReporter(tty bool, width int) (*reporter, *bytes.Buffer, *fakeClock) {
	var b bytes.Buffer
	r := NewReporter(&b, tty, width).(*reporter)
	c := &fakeClock{t: time.Unix(1e9, 0)}
	r.now = c.now
	return r, &b, c
}

// Every redraw of the bar fits the terminal: it never wraps into stale lines.
func TestProgressFitsTerminal(t *testing.T) {
	for _, width := range []int{120, 80, 60, 30} {
		r, b, c := newTestReporter(true, width)
		r.Start(Trial{Name: "model.mixer=linear(feature=elu1, conv=2),task.seq_len=1024"}, 11, 12, 100000)
		for _, s := range []int{1, 500, 99999, 100000} {
			c.t = c.t.Add(time.Second)
			r.Step(s, 1.2345, 0.5)
		}
		draws := strings.Split(b.String(), "\r\033[K")[1:]
		if len(draws) != 4 {
			t.Fatalf("width %d: %d draws, want 4: %q", width, len(draws), b.String())
		}
		for _, d := range draws {
			if n := utf8.RuneCountInString(d); n >= width || strings.Contains(d, "\n") {
				t.Fatalf("width %d: a %d-column line: %q", width, n, d)
			}
		}
		if width >= 60 && !strings.Contains(draws[1], " eta ") {
			t.Fatalf("width %d: the name is shortened before the numbers: %q", width, draws[1])
		}
	}
}

// A piped log gets a line at least every 30 s, not only every 10%.
func TestProgressPlainEvery30s(t *testing.T) {
	r, b, c := newTestReporter(false, 0)
	r.Start(Trial{Name: "t"}, 0, 1, 1000)
	r.Step(1, 2, 0) // the first step: 0.1%, no line yet
	c.t = c.t.Add(29 * time.Second)
	r.Step(2, 2, 0)
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("%d lines after 29 s, want only the start line: %q", n, b.String())
	}
	c.t = c.t.Add(2 * time.Second)
	r.Step(3, 2, 0)
	if !strings.Contains(b.String(), "step 3/1000") {
		t.Fatalf("no line after 31 s of silence: %q", b.String())
	}
}

// After a resume the ETA counts the steps trained since the resume, not
// from step 0 (it said "step 201/1000 ... eta 1s").
func TestProgressResumeETA(t *testing.T) {
	r, b, c := newTestReporter(false, 0)
	r.Start(Trial{Name: "t"}, 0, 1, 1000)
	c.t = c.t.Add(10 * time.Second)
	r.Step(201, 2, 0) // resumed from step 200: one step in 10 s
	c.t = c.t.Add(30 * time.Second)
	r.Step(204, 2, 0) // four steps in 40 s: 796 left take 7960 s
	if !strings.Contains(b.String(), "step 204/1000 loss 2.0000 acc 0.000 eta 2h12m40s") {
		t.Fatalf("resumed ETA: %q", b.String())
	}
	if strings.Contains(b.String(), "step 201/1000") {
		t.Fatalf("the resumed step is not a new tenth: %q", b.String())
	}
}

// stepRecorder keeps every Step report.
type stepRecorder struct {
	steps []int
	accs  []float64
}

func (r *stepRecorder) Start(Trial, int, int, int) {}
func (r *stepRecorder) Done(Outcome)               {}
func (r *stepRecorder) Step(s int, _, acc float64) {
	r.steps, r.accs = append(r.steps, s), append(r.accs, acc)
}

// After a resume the progress shows the accuracy of the last evaluation
// (it showed "-"), and the last report carries the final evaluation's
// accuracy, not the one before it.
func TestProgressAccuracyAfterResume(t *testing.T) {
	s := tinySpec(t)
	db := openDB(t, filepath.Join(t.TempDir(), "p.sqlite"))
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(t, db)
	o.Context = ctx
	o.NewProgress = func() Reporter { return cancelAt{17, cancel} }
	if outs, err := Run(s, o); err != nil || outs[0].Status != "cancelled" {
		t.Fatalf("%v %+v", err, outs)
	}
	rec := &stepRecorder{}
	o = opts(t, db)
	o.Resume = true
	o.NewProgress = func() Reporter { return rec }
	outs, err := Run(s, o)
	if err != nil || outs[0].Status != "done" {
		t.Fatalf("resume: %v %+v", err, outs)
	}
	ms, err := db.Metrics(outs[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	at10 := math.NaN()
	for _, m := range ms {
		if m.Step == 10 && strings.HasSuffix(m.Name, "/accuracy") {
			at10 = m.Value
		}
	}
	if len(rec.steps) == 0 || rec.steps[0] != 18 || rec.accs[0] != at10 {
		t.Fatalf("first report after the resume: step %v acc %v, want 18 and the step-10 accuracy %v", rec.steps[:1], rec.accs[:1], at10)
	}
	n := len(rec.steps)
	if rec.steps[n-1] != 40 || rec.accs[n-1] != outs[0].Results[0].Accuracy {
		t.Fatalf("last report: step %d acc %v, want 40 and the final accuracy %v", rec.steps[n-1], rec.accs[n-1], outs[0].Results[0].Accuracy)
	}
}

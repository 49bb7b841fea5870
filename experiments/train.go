package experiments

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"time"

	"lab/spec"
	"lab/store"
)

// train runs one trial end to end under run id, from the checkpoint file
// ckpt when it is not empty; failures are recorded, not returned.
func train(p *Prepared, id, ckpt string, idx, n int, b backend, opt Options) (o Outcome) {
	t := p.Trial
	o = Outcome{Trial: t, RunID: id, Device: b.label(), Params: p.Model.ParamCount(), StateBytes: p.Model.StateBytes(p.Train.SeqLen())}
	var rep Reporter
	if opt.NewProgress != nil {
		rep = opt.NewProgress()
	}
	start := time.Now()
	stopBeat := heartbeat(opt.DB, id)
	defer func() {
		stopBeat()
		if r := recover(); r != nil {
			o.Status, o.Err = "failed", fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		o.Wall = time.Since(start)
		f := store.Finish{Status: o.Status, Results: o.Results, Wall: o.Wall.Seconds(), StepTimeMS: o.StepMS}
		if o.Err != nil {
			f.Err = o.Err.Error()
		}
		if err := opt.DB.FinishRun(id, f); err != nil && o.Err == nil {
			o.Err = err
		}
		if rep != nil {
			rep.Done(o)
		}
	}()
	if rep != nil {
		rep.Start(t, idx, n, t.Spec.Train.Steps)
	}
	o.Status, o.Results, o.StepMS, o.ResumedAt, o.Err = loop(p, id, ckpt, rep, b, opt)
	return o
}

// heartbeat refreshes the run's heartbeat until the returned stop is called.
func heartbeat(db *store.DB, id string) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				db.Heartbeat(id) // a missed beat only risks a late "interrupted"
			}
		}
	}()
	return func() { close(done) }
}

// errDiverged marks a NaN or infinite loss.
var errDiverged = errors.New("loss is not finite")

// checkpointEvery is the spec's interval, or 10% of the steps, rounded up to
// a multiple of the loss-logging interval so that a resumed run logs the
// same numbers as an uninterrupted one.
func checkpointEvery(tr spec.TrainSpec, logEvery int) int {
	c := tr.CheckpointEvery
	if c == 0 {
		c = max(1, tr.Steps/10)
	}
	return (c + logEvery - 1) / logEvery * logEvery
}

// loop is the training loop proper.
func loop(p *Prepared, runID, ckpt string, rep Reporter, b backend, opt Options) (status string, results []store.Result, stepMS float64, resumed int, err error) {
	tr := p.Trial.Spec.Train
	st, err := newStepper(p, b, opt.data)
	if err != nil {
		return "failed", nil, 0, 0, err
	}
	defer st.prog.free()
	first := 0
	if ckpt != "" {
		if first, err = st.restore(ckpt); err != nil {
			return "failed", nil, 0, 0, fmt.Errorf("resume from %s: %w", ckpt, err)
		}
	}
	evals := make([]*evaluator, len(p.Evals))
	for i, e := range p.Evals {
		if evals[i], err = newEvaluator(p.Model, e, max(tr.Batch, 64), b, opt.data); err != nil {
			return "failed", nil, 0, first, fmt.Errorf("eval %s: %w", e.Name, err)
		}
		defer evals[i].prog.free()
	}
	evalAll := func(step int) ([]store.Result, error) {
		if err := st.prog.pullParams(); err != nil {
			return nil, err
		}
		var rs []store.Result
		var ms []store.Metric
		for _, e := range evals {
			r, err := e.run()
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
			ms = append(ms, store.Metric{Step: step, Name: "eval/" + r.EvalName + "/accuracy", Value: r.Accuracy},
				store.Metric{Step: step, Name: "eval/" + r.EvalName + "/loss", Value: r.Loss})
		}
		return rs, opt.DB.LogMetrics(runID, ms)
	}
	logEvery := max(1, tr.Steps/50)
	ckEvery := checkpointEvery(tr, logEvery)
	ckPath := filepath.Join(opt.CheckpointDir, runID+".safetensors")
	var lossSum float64
	var lossN int
	var trainTime time.Duration
	lastAcc := math.NaN()
	if first > 0 && len(p.Evals) > 0 {
		// A resumed run shows the accuracy of its last evaluation before
		// the resume, not "-".
		if ms, err := opt.DB.Metrics(runID); err == nil {
			name, at := "eval/"+p.Evals[0].Name+"/accuracy", -1
			for _, m := range ms {
				if m.Name == name && m.Step <= first && m.Step > at {
					lastAcc, at = m.Value, m.Step
				}
			}
		}
	}
	var lastLoss float64
	stopIdx := stopSet(p, tr)
	for step := first; step < tr.Steps; step++ {
		if opt.Context.Err() != nil {
			if err := st.save(ckPath, step); err != nil {
				return "failed", nil, 0, first, err
			}
			return "cancelled", nil, msPer(trainTime, step-first), first, fmt.Errorf("cancelled at step %d (checkpoint saved; --resume continues)", step)
		}
		t0 := time.Now()
		l, err := st.step()
		trainTime += time.Since(t0)
		if errors.Is(err, errDiverged) {
			// Steps are counted from 1, as train/loss and the progress count them.
			last := "no finite loss before it"
			if step > first {
				last = fmt.Sprintf("the last finite loss was %.4g at step %d", lastLoss, step)
			}
			return "diverged", nil, msPer(trainTime, step-first+1), first, fmt.Errorf("%w: the loss was %v at step %d of %d (%s)", err, l, step+1, tr.Steps, last)
		}
		if err != nil {
			return "failed", nil, 0, first, err
		}
		lastLoss = l
		lossSum += l
		lossN++
		done := step + 1
		if done%logEvery == 0 || done == tr.Steps {
			if err := opt.DB.LogMetrics(runID, []store.Metric{{Step: done, Name: "train/loss", Value: lossSum / float64(lossN)}}); err != nil {
				return "failed", nil, 0, first, err
			}
			lossSum, lossN = 0, 0
		}
		if tr.EvalEvery > 0 && done%tr.EvalEvery == 0 && done != tr.Steps {
			rs, err := evalAll(done)
			if err != nil {
				return "failed", nil, 0, first, err
			}
			lastAcc = rs[0].Accuracy
			if stopIdx >= 0 && rs[stopIdx].Accuracy >= tr.StopAt {
				// Early stop: these are the run's results, and the step is
				// recorded as the metric train/stopped_at.
				if err := opt.DB.LogMetrics(runID, []store.Metric{{Step: done, Name: StoppedMetric, Value: float64(done)}}); err != nil {
					return "failed", nil, 0, first, err
				}
				if err := st.save(ckPath, done); err != nil {
					return "failed", nil, 0, first, err
				}
				if rep != nil {
					rep.Step(done, l, lastAcc)
				}
				return "done", rs, msPer(trainTime, done-first), first, nil
			}
		}
		if done%ckEvery == 0 && done != tr.Steps {
			if err := st.save(ckPath, done); err != nil {
				return "failed", nil, 0, first, err
			}
		}
		if rep != nil && done != tr.Steps { // the last step is reported with its own evaluation
			rep.Step(done, l, lastAcc)
		}
	}
	results, err = evalAll(tr.Steps)
	if err != nil {
		return "failed", nil, 0, first, err
	}
	if rep != nil && tr.Steps > first {
		acc := math.NaN()
		if len(results) > 0 {
			acc = results[0].Accuracy
		}
		rep.Step(tr.Steps, lastLoss, acc)
	}
	if err := st.save(ckPath, tr.Steps); err != nil {
		return "failed", nil, 0, first, err
	}
	return "done", results, msPer(trainTime, tr.Steps-first), first, nil
}

// StoppedMetric is the metric a run stopped early by train.stop_at logs,
// its value the step it stopped at.
const StoppedMetric = "train/stopped_at"

// stopSet is the index among the eval sets of the one train.stop_at reads,
// or -1 when the run has no early stop.
func stopSet(p *Prepared, tr spec.TrainSpec) int {
	if tr.StopAt <= 0 {
		return -1
	}
	for i, e := range p.Evals {
		if e.Name == tr.StopEval {
			return i
		}
	}
	return 0
}

func msPer(d time.Duration, steps int) float64 {
	if steps <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000 / float64(steps)
}

package cuda

// #include "shim.h"
import "C"

import (
	"errors"
	"slices"
)

// ltTuneReps is how many timed runs each candidate kernel gets (after one
// untimed); the median counts.
const ltTuneReps = 5

// tuneLt times each candidate kernel of a plan on the operands A and B and
// scratch outputs of the plan's shape (the program's buffers are not
// written, so a tuning after a Run leaves its outputs as they were), and
// keeps the fastest in pl.algo. (On the H100 the tuned and untuned steps
// measured the same, runs 39 and 40 in NOTES.md.)
func (b *BLAS) tuneLt(pl *ltPlan, cands []C.lab_cublasLtHeuristic, s LtShape, A, B Buffer) (err error) {
	d := b.d
	var scratch []Buffer
	defer func() {
		for _, x := range scratch {
			err = errors.Join(err, d.Free(x))
		}
	}()
	alloc := func(n int) (Buffer, error) {
		x, err := d.AllocFloats(n)
		if err == nil {
			scratch = append(scratch, x)
		}
		return x, err
	}
	y, err := alloc(s.M * s.LDY)
	if err != nil {
		return err
	}
	bias, err := alloc(max(s.M, s.N))
	if err != nil {
		return err
	}
	var aux Buffer
	if s.Epi == EpiGELUBias || s.Epi == EpiDGELUBGrad {
		if aux, err = alloc(s.M * s.LDY); err != nil {
			return err
		}
		if err := d.Fill32(b.stream, aux, 0); err != nil {
			return err
		}
	}
	a, err := b.lt()
	if err != nil {
		return err
	}
	if err := b.ltPointers(a, pl, s, bias, aux); err != nil {
		return err
	}
	start, err := d.NewEvent()
	if err != nil {
		return err
	}
	defer start.Close()
	stop, err := d.NewEvent()
	if err != nil {
		return err
	}
	defer stop.Close()
	best, bestMS := -1, float32(0)
	for i, c := range cands {
		if c.state != 0 || int64(c.workspaceSize) > b.ws.Bytes {
			continue
		}
		pl.algo = c
		if b.runLt(pl, A, B, y) != nil { // a kernel that refuses these operands is skipped
			continue
		}
		ms := make([]float32, ltTuneReps)
		for r := range ms {
			if err := errors.Join(start.Record(b.stream), b.runLt(pl, A, B, y), stop.Record(b.stream), stop.Sync()); err != nil {
				return err
			}
			if ms[r], err = stop.Since(start); err != nil {
				return err
			}
		}
		slices.Sort(ms)
		if m := ms[len(ms)/2]; best < 0 || m < bestMS {
			best, bestMS = i, m
		}
	}
	if best < 0 {
		return errors.New("no candidate kernel ran")
	}
	pl.algo = cands[best]
	return nil
}

package experiments

import (
	"fmt"

	"lab/kernels"
	"lab/tasks"
)

// feeder holds one compiled forward graph over a fixed [B, L] batch whose LM
// head runs only at the K = B·TargetsPerExample target positions.
type feeder struct {
	b, l, k          int
	ids, at, targets *kernels.Node
	logits           *kernels.Node
}

// newFeeder declares the integer inputs of a batch.
func newFeeder(g *kernels.Graph, task tasks.Task, batch int) *feeder {
	f := &feeder{b: batch, l: task.SeqLen(), k: batch * task.TargetsPerExample()}
	f.ids = g.IntInput("ids", f.b, f.l)
	f.at = g.IntInput("at", f.k)
	f.targets = g.IntInput("targets", f.k)
	return f
}

// feed is the host buffers of a program's three integer inputs.
type feed struct{ ids, at, targets []int32 }

// buffers looks up the feeder's inputs in a program (ints returns the host
// buffer of an input node).
func (f *feeder) buffers(ints func(*kernels.Node) []int32) feed {
	return feed{ints(f.ids), ints(f.at), ints(f.targets)}
}

// fill copies examples rows[0..B) of src (indices into src) into the inputs
// in: token ids, the flat positions that have a target, and the targets.
func (f *feeder) fill(in feed, src *tasks.Batch, rows []int) error {
	ids, at, tg := in.ids, in.at, in.targets
	k := 0
	for bi, r := range rows {
		copy(ids[bi*f.l:(bi+1)*f.l], src.Inputs[r*src.L:(r+1)*src.L])
		for t, v := range src.Targets[r*src.L : (r+1)*src.L] {
			if v == tasks.Ignore {
				continue
			}
			if k == f.k {
				return fmt.Errorf("example %d has more targets than the task declares (%d per example)", r, f.k/f.b)
			}
			at[k], tg[k] = int32(bi*f.l+t), v
			k++
		}
	}
	if k != f.k {
		return fmt.Errorf("batch has %d targets, the task declares %d", k, f.k)
	}
	return nil
}

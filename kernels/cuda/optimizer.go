package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"lab/kernels"
)

// adamChunk is the most elements one block of the update handles.
const adamChunk = 8192

// Optimizer is AdamW on the device, the twin of kernels.Optimizer: the same
// global-norm clip, bias correction, decoupled decay on parameters with
// Decay set, and learning-rate schedule (kernels.AdamW.LRAt). The moments
// live on the device; the gradient norm, the schedule and the step count
// are computed there too, so a step is three launches (squared sums per
// chunk, one block for the norm and this step's rates, the update per
// chunk) with no copy from the host, captured as one CUDA graph.
type Optimizer struct {
	Config kernels.AdamW

	p       *Program
	params  []*kernels.Param
	mv      Buffer // first moments of every parameter, then second moments
	total   int    // elements over all parameters
	table   Buffer // the chunk table (adam.cu)
	chunks  int
	partial Buffer // float64 per chunk
	hyper   Buffer // float64 [8] (adam.cu)
	step    int

	sumsq, prep, update *Function

	graph, fused    *Graph
	runs, fusedRuns int
	version         int // the program version the fused graph captured
}

// NewOptimizer pairs each parameter with its gradient node, which must be
// an output of p with the parameter's size. Weights are p's device copies:
// they change on the device only, until p.DownloadParams.
func NewOptimizer(p *Program, cfg kernels.AdamW, params []*kernels.Param, grads []*kernels.Node) (*Optimizer, error) {
	if len(params) != len(grads) {
		return nil, fmt.Errorf("cuda: NewOptimizer: %d parameters, %d gradients", len(params), len(grads))
	}
	o := &Optimizer{Config: cfg, p: p, params: params}
	var err error
	for _, c := range []struct {
		name string
		f    **Function
	}{{"adam_sumsq", &o.sumsq}, {"adam_prep", &o.prep}, {"adam_update", &o.update}} {
		if *c.f, err = p.k.Function(c.name); err != nil {
			return nil, err
		}
	}
	ws, gs := make([]Buffer, len(params)), make([]Buffer, len(params))
	for i, pr := range params {
		if gs[i], err = p.node(grads[i], "NewOptimizer"); err != nil {
			return nil, err
		}
		if grads[i].Len() != pr.Value.Len() {
			return nil, fmt.Errorf("cuda: NewOptimizer: gradient %v for parameter %s of %d values", grads[i], pr.Name, pr.Value.Len())
		}
		if ws[i], err = p.paramBuffer(pr); err != nil {
			return nil, err
		}
		o.total += pr.Value.Len()
	}
	if o.mv, err = p.alloc(2 * o.total); err != nil {
		return nil, err
	}
	if err = p.d.Fill32(nil, o.mv, 0); err != nil {
		return nil, err
	}
	// The chunk table: five little-endian uint64 per chunk.
	var tab []byte
	word := func(v uint64) { tab = binary.LittleEndian.AppendUint64(tab, v) }
	off := 0
	for i, pr := range params {
		n := pr.Value.Len()
		decay := uint64(0)
		if pr.Decay {
			decay = 1
		}
		for lo := 0; lo < n; lo += adamChunk {
			c := uint64(min(adamChunk, n-lo))
			word(ws[i].Ptr + uint64(lo)*4)
			word(gs[i].Ptr + uint64(lo)*4)
			word(o.mv.Ptr + uint64(off+lo)*4)
			word(o.mv.Ptr + uint64(o.total+off+lo)*4)
			word(c | decay<<32)
			o.chunks++
		}
		off += n
	}
	if o.chunks == 0 {
		return nil, errors.New("cuda: NewOptimizer: no parameters")
	}
	if o.table, err = p.alloc(len(tab) / 4); err != nil {
		return nil, err
	}
	if err = p.d.htod(o.table, unsafe.Pointer(&tab[0]), int64(len(tab))); err != nil {
		return nil, err
	}
	if o.partial, err = p.alloc(2 * o.chunks); err != nil {
		return nil, err
	}
	if o.hyper, err = p.alloc(16); err != nil {
		return nil, err
	}
	return o, o.SetStep(0)
}

// record queues one update on the program's stream.
func (o *Optimizer) record() error {
	c := o.Config
	s := o.p.s
	if err := o.sumsq.Launch(s, Dim3{X: o.chunks}, Dim3{X: 256}, 0, o.table, o.partial); err != nil {
		return err
	}
	if err := o.prep.Launch(s, Dim3{X: 1}, Dim3{X: 256}, 0, o.partial, int32(o.chunks), o.hyper, c.LR,
		int64(c.Warmup), int64(c.Steps), c.MinLRRatio, c.Beta1, c.Beta2, c.Clip, c.WeightDecay); err != nil {
		return err
	}
	return o.update.Launch(s, Dim3{X: o.chunks}, Dim3{X: 256}, 0, o.table, o.hyper,
		float32(c.Beta1), float32(c.Beta2), float32(c.Eps))
}

// Step queues one AdamW update from the gradients the last Run computed
// and returns the learning rate it uses (Config.LRAt of the step count).
// Like Run, it does not wait: the first call launches the three kernels,
// the second captures them as a CUDA graph, later calls replay it.
func (o *Optimizer) Step() (lr float64, err error) {
	lr = o.Config.LRAt(o.step)
	if err := o.p.replay(&o.graph, &o.runs, o.record); err != nil {
		return lr, err
	}
	o.step++
	return lr, nil
}

// TrainStep queues the program's schedule (forward and backward) and the
// update as one CUDA graph: a whole training step in one launch. It returns
// the learning rate used. The update runs whatever the loss; read the loss
// (Program.Read) to stop on divergence, as the CPU trainer does.
func (o *Optimizer) TrainStep() (lr float64, err error) {
	if o.version != o.p.version && o.fused != nil {
		o.fused.Close()
		o.fused = nil
	}
	o.version = o.p.version
	lr = o.Config.LRAt(o.step)
	err = o.p.replay(&o.fused, &o.fusedRuns, func() error {
		if err := o.p.record(); err != nil {
			return err
		}
		return o.record()
	})
	if err != nil {
		return lr, err
	}
	o.step++
	return lr, nil
}

// Steps is the number of updates queued so far.
func (o *Optimizer) Steps() int { return o.step }

// SetStep sets the update count (resuming from a checkpoint), after
// queued work.
func (o *Optimizer) SetStep(step int) error {
	if err := o.p.s.Sync(); err != nil {
		return err
	}
	h := make([]float64, 8)
	h[5] = float64(step)
	if err := o.p.d.htod(o.hyper, unsafe.Pointer(&h[0]), 64); err != nil {
		return err
	}
	o.step = step
	return nil
}

// Norm waits for queued work and returns the gradient norm (before
// clipping) that the last update measured.
func (o *Optimizer) Norm() (float64, error) {
	if err := o.p.Sync(); err != nil {
		return 0, err
	}
	h := make([]float64, 8)
	if err := o.p.d.dtoh(unsafe.Pointer(&h[0]), o.hyper, 64); err != nil {
		return 0, err
	}
	return h[0], nil
}

// State waits for queued work and returns copies of the moment buffers (for
// checkpoints) in parameter order, and the step count.
func (o *Optimizer) State() (m, v [][]float32, step int, err error) {
	if err := o.p.Sync(); err != nil {
		return nil, nil, 0, err
	}
	all := make([]float32, 2*o.total)
	if err := o.p.d.CopyOut(all, o.mv); err != nil {
		return nil, nil, 0, err
	}
	off := 0
	for _, pr := range o.params {
		n := pr.Value.Len()
		m = append(m, all[off:off+n:off+n])
		v = append(v, all[o.total+off:o.total+off+n:o.total+off+n])
		off += n
	}
	return m, v, o.step, nil
}

// SetState restores the moment buffers (in parameter order) and the step
// count, as State returned them.
func (o *Optimizer) SetState(m, v [][]float32, step int) error {
	if len(m) != len(o.params) || len(v) != len(o.params) {
		return fmt.Errorf("cuda: SetState: %d and %d moment tensors for %d parameters", len(m), len(v), len(o.params))
	}
	all := make([]float32, 2*o.total)
	off := 0
	for i, pr := range o.params {
		n := pr.Value.Len()
		if len(m[i]) != n || len(v[i]) != n {
			return fmt.Errorf("cuda: SetState: moments of %s hold %d and %d values, want %d", pr.Name, len(m[i]), len(v[i]), n)
		}
		copy(all[off:], m[i])
		copy(all[o.total+off:], v[i])
		off += n
	}
	if err := o.SetStep(step); err != nil {
		return err
	}
	return o.p.d.CopyIn(o.mv, all)
}

// Free releases the optimizer's captured graphs; its buffers belong to the
// program and are freed with it.
func (o *Optimizer) Free() error {
	var errs []error
	for _, g := range []**Graph{&o.graph, &o.fused} {
		if *g != nil {
			errs = append(errs, (*g).Close())
			*g = nil
		}
	}
	return errors.Join(errs...)
}

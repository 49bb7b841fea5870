package experiments

import (
	"errors"
	"fmt"

	"lab/kernels"
	"lab/kernels/cuda"
)

// cudaBackend runs a trial's programs on one GPU. Each program has its own
// device copy of the weights: the trainer's are the ones that change, and
// evaluation copies them over (pullParams on the trainer, then pushParams
// on the evaluator) before it runs.
type cudaBackend struct {
	dev  *cuda.Device
	prec cuda.Precision
	name string
}

// openCUDA opens GPU info.Index.
func openCUDA(info cuda.DeviceInfo, prec cuda.Precision) (*cudaBackend, error) {
	d, err := cuda.Open(info.Index)
	if err != nil {
		return nil, fmt.Errorf("open cuda:%d: %w", info.Index, err)
	}
	return &cudaBackend{dev: d, prec: prec, name: DeviceLabel(info, prec)}, nil
}

func (b *cudaBackend) label() string { return b.name }

// healthy synchronises the device: a kernel fault leaves the CUDA context
// unusable, and every later call reports it.
func (b *cudaBackend) healthy() error {
	if err := b.dev.Sync(); err != nil {
		return fmt.Errorf("%s is unusable after a fault: %w", b.name, err)
	}
	return nil
}

func (b *cudaBackend) close() error { return b.dev.Close() }

// freeMemory is the device memory free now (cuMemGetInfo).
func (b *cudaBackend) freeMemory() (int64, error) {
	free, _, err := b.dev.MemInfo()
	return free, err
}

// wrap names the device and, for an out-of-memory error, what was free.
func (b *cudaBackend) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cuda.Error
	if errors.As(err, &ce) && ce.Code == cuda.ErrOutOfMemory {
		free, total, merr := b.dev.MemInfo()
		if merr == nil {
			return fmt.Errorf("%s: %s: out of device memory (%.2f GiB free of %.2f GiB; use a smaller batch, model or sequence): %w",
				b.name, what, gib(free), gib(total), err)
		}
		return fmt.Errorf("%s: %s: out of device memory: %w", b.name, what, err)
	}
	return fmt.Errorf("%s: %s: %w", b.name, what, err)
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

func (b *cudaBackend) compile(what string, g *kernels.Graph, outputs []*kernels.Node) (*cuda.Program, error) {
	p, err := cuda.Compile(b.dev, g, outputs...)
	if err != nil {
		return nil, b.wrap(what, err)
	}
	if b.prec != cuda.TF32 {
		if err := p.SetPrecision(b.prec); err != nil {
			p.Free()
			return nil, b.wrap(what, err)
		}
	}
	return p, nil
}

func (b *cudaBackend) compileEval(g *kernels.Graph, outputs ...*kernels.Node) (evalProgram, error) {
	p, err := b.compile("compile the evaluation graph", g, outputs)
	if err != nil {
		return nil, err
	}
	return &cudaEval{b: b, io: newDeviceIO(p)}, nil
}

func (b *cudaBackend) compileTrain(g *kernels.Graph, loss *kernels.Node, params []*kernels.Param, grads []*kernels.Node, cfg kernels.AdamW) (trainProgram, error) {
	p, err := b.compile("compile the training step", g, append([]*kernels.Node{loss}, grads...))
	if err != nil {
		return nil, err
	}
	o, err := cuda.NewOptimizer(p, cfg, params, grads)
	if err != nil {
		p.Free()
		return nil, b.wrap("set up AdamW", err)
	}
	return &cudaTrain{b: b, io: newDeviceIO(p), opt: o, loss: loss, lossBuf: make([]float32, 1)}, nil
}

// deviceIO stages a program's integer inputs and float outputs on the host.
type deviceIO struct {
	p    *cuda.Program
	in   []staged
	outs map[*kernels.Node][]float32
}

type staged struct {
	n   *kernels.Node
	buf []int32
}

func newDeviceIO(p *cuda.Program) deviceIO {
	return deviceIO{p: p, outs: map[*kernels.Node][]float32{}}
}

func (d *deviceIO) ints(n *kernels.Node) []int32 {
	for _, s := range d.in {
		if s.n == n {
			return s.buf
		}
	}
	s := staged{n, make([]int32, n.Len())}
	d.in = append(d.in, s)
	return s.buf
}

// upload copies every staged input to the device.
func (d *deviceIO) upload() error {
	for _, s := range d.in {
		if err := d.p.SetInts(s.n, s.buf); err != nil {
			return err
		}
	}
	return nil
}

func (d *deviceIO) read(n *kernels.Node) ([]float32, error) {
	buf, ok := d.outs[n]
	if !ok {
		buf = make([]float32, n.Len())
		d.outs[n] = buf
	}
	return buf, d.p.Read(n, buf)
}

type cudaEval struct {
	b  *cudaBackend
	io deviceIO
}

func (e *cudaEval) ints(n *kernels.Node) []int32 { return e.io.ints(n) }

func (e *cudaEval) run() error {
	if err := e.io.upload(); err != nil {
		return e.b.wrap("evaluation inputs", err)
	}
	return e.b.wrap("evaluation", e.io.p.Run())
}

func (e *cudaEval) floats(n *kernels.Node) ([]float32, error) {
	v, err := e.io.read(n)
	return v, e.b.wrap("evaluation", err)
}

func (e *cudaEval) pushParams() error {
	return e.b.wrap("copy weights to the evaluator", e.io.p.UploadParams())
}
func (e *cudaEval) free() { e.io.p.Free() }

type cudaTrain struct {
	b       *cudaBackend
	io      deviceIO
	opt     *cuda.Optimizer
	loss    *kernels.Node
	lossBuf []float32
}

func (t *cudaTrain) ints(n *kernels.Node) []int32 { return t.io.ints(n) }

// train uploads the batch, launches forward, backward and update as one
// CUDA graph, and reads the loss back. Setting the next batch waits for
// this step anyway (the inputs are overwritten in place), so reading the
// four bytes of the loss every step costs a copy, not lost overlap. Unlike
// the CPU trainer the update has already run when the loss is found not
// finite; the trial stops there either way.
func (t *cudaTrain) train() (float64, error) {
	if err := t.io.upload(); err != nil {
		return 0, t.b.wrap("training inputs", err)
	}
	if _, err := t.opt.TrainStep(); err != nil {
		return 0, t.b.wrap("training step", err)
	}
	if err := t.io.p.Read(t.loss, t.lossBuf); err != nil {
		return 0, t.b.wrap("training step", err)
	}
	l := float64(t.lossBuf[0])
	if isNonFinite(l) {
		return l, errDiverged
	}
	return l, nil
}

func (t *cudaTrain) pullParams() error {
	return t.b.wrap("copy weights from the device", t.io.p.DownloadParams())
}

func (t *cudaTrain) pushParams() error {
	return t.b.wrap("copy weights to the device", t.io.p.UploadParams())
}

func (t *cudaTrain) optState() (m, v [][]float32, steps int, err error) {
	m, v, steps, err = t.opt.State()
	return m, v, steps, t.b.wrap("read the optimizer state", err)
}

func (t *cudaTrain) setOptState(m, v [][]float32, steps int) error {
	return t.b.wrap("restore the optimizer state", t.opt.SetState(m, v, steps))
}

func (t *cudaTrain) free() {
	t.opt.Free()
	t.io.p.Free()
}

package experiments

import (
	"math"

	"lab/kernels"
)

// backend compiles a trial's graphs for one device: the CPU (kernels) or a
// GPU (kernels/cuda). A backend is used by one trial at a time.
type backend interface {
	// label is what the run row records as its device.
	label() string
	// compileTrain compiles forward and backward of loss and an AdamW
	// optimizer over params (grads[i] is the gradient node of params[i]).
	compileTrain(g *kernels.Graph, loss *kernels.Node, params []*kernels.Param, grads []*kernels.Node, cfg kernels.AdamW) (trainProgram, error)
	// compileEval compiles a forward graph whose outputs are read back.
	compileEval(g *kernels.Graph, outputs ...*kernels.Node) (evalProgram, error)
	// healthy is nil while the device can take more work; after a device
	// fault (a CUDA context that is lost) it says why.
	healthy() error
	close() error
}

// evalProgram is a compiled forward graph.
type evalProgram interface {
	// ints is the host buffer of an integer input, filled before run.
	ints(n *kernels.Node) []int32
	run() error
	// floats is the value of an output after run (valid until the next run).
	floats(n *kernels.Node) ([]float32, error)
	// pushParams makes the program use the current host parameter values.
	pushParams() error
	free()
}

// trainProgram is a compiled training step: forward, backward, AdamW.
type trainProgram interface {
	ints(n *kernels.Node) []int32
	// train runs one step on the inputs and returns the batch loss; a
	// non-finite loss is errDiverged.
	train() (float64, error)
	// pullParams copies the trained weights into the host parameter tensors.
	pullParams() error
	// pushParams copies the host parameter tensors to the program's weights.
	pushParams() error
	// optState returns the AdamW moments (parameter order) and step count.
	optState() (m, v [][]float32, steps int, err error)
	setOptState(m, v [][]float32, steps int) error
	free()
}

// cpuBackend runs on package kernels' CPU programs. Parameters are shared
// with the model: every program reads and the optimizer writes the host
// tensors in place, so pushing and pulling weights costs nothing.
type cpuBackend struct{}

func (cpuBackend) label() string  { return "cpu" }
func (cpuBackend) healthy() error { return nil }
func (cpuBackend) close() error   { return nil }

func (cpuBackend) compileEval(g *kernels.Graph, outputs ...*kernels.Node) (evalProgram, error) {
	p, err := kernels.Compile(g, outputs...)
	if err != nil {
		return nil, err
	}
	return cpuEval{p}, nil
}

func (cpuBackend) compileTrain(g *kernels.Graph, loss *kernels.Node, params []*kernels.Param, grads []*kernels.Node, cfg kernels.AdamW) (trainProgram, error) {
	p, err := kernels.Compile(g, append([]*kernels.Node{loss}, grads...)...)
	if err != nil {
		return nil, err
	}
	gt := make([]*kernels.Tensor, len(grads))
	for i, gn := range grads {
		gt[i] = p.Value(gn)
	}
	return &cpuTrain{prog: p, loss: p.Value(loss), opt: kernels.NewOptimizer(cfg, params, gt)}, nil
}

type cpuEval struct{ p *kernels.Program }

func (e cpuEval) ints(n *kernels.Node) []int32              { return e.p.Value(n).Ints }
func (e cpuEval) run() error                                { e.p.Run(); return nil }
func (e cpuEval) floats(n *kernels.Node) ([]float32, error) { return e.p.Value(n).Data, nil }
func (cpuEval) pushParams() error                           { return nil }
func (cpuEval) free()                                       {}

type cpuTrain struct {
	prog *kernels.Program
	loss *kernels.Tensor
	opt  *kernels.Optimizer
}

func (t *cpuTrain) ints(n *kernels.Node) []int32 { return t.prog.Value(n).Ints }

// train skips the update when the loss is not finite.
func (t *cpuTrain) train() (float64, error) {
	t.prog.Run()
	l := float64(t.loss.Data[0])
	if isNonFinite(l) {
		return l, errDiverged
	}
	t.opt.Step()
	return l, nil
}

func (t *cpuTrain) pullParams() error { return nil }
func (t *cpuTrain) pushParams() error { return nil }

func (t *cpuTrain) optState() (m, v [][]float32, steps int, err error) {
	m, v, steps = t.opt.State()
	return m, v, steps, nil
}

func (t *cpuTrain) setOptState(m, v [][]float32, steps int) error {
	cm, cv, _ := t.opt.State()
	for i := range cm {
		copy(cm[i], m[i])
		copy(cv[i], v[i])
	}
	t.opt.SetStep(steps)
	return nil
}

func (t *cpuTrain) free() {}

func isNonFinite(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

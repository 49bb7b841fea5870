package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"lab/architectures"
	"lab/kernels"
	"lab/kernels/cuda"
)

// TrainConfig is the workload of `lab bench train`, the training
// step: Layers blocks of [pre-norm, mixer, residual, pre-norm, MLP,
// residual], token and learned position embeddings, final norm, untied LM
// head at the target positions, masked cross-entropy, AdamW.
type TrainConfig struct {
	Mixers   []string
	DModels  []int
	Lengths  []int
	Batch    int
	Vocab    int
	Layers   int
	Heads    int
	MLPRatio int    // hidden width of the GELU MLP, in multiples of d_model
	Norm     string // layernorm or rmsnorm
	Chunk    int    // chunk length of the chunked mixers
	// TargetFrac is the fraction of positions that carry a target (1:
	// every position; the LM head runs only there). One target in ten is
	// ignored (kernels.Ignore), as in a masked loss.
	TargetFrac float64
	Precision  cuda.Precision // CUDA: how GEMMs multiply (TF32, the zero value; FP32; BF16)
	Warmup     int            // untimed steps first
	Reps       int            // timed steps; the median is reported
	// CUDA selects GPU Index; otherwise the CPU (host timing).
	CUDA  bool
	Index int
	Seed  uint64
	// Progress, when set, hears each shape as it is measured.
	Progress func(TrainResult)

	mutate func(*architectures.Model) // tests: change the model before it is compiled
}

// TrainResult is one shape's measurement.
type TrainResult struct {
	Mixer  string
	DModel int
	SeqLen int
	Device string  // "cpu" or the GPU's label
	MS     float64 // median ms per training step
	MinMS  float64 // fastest step
	// PlannedBytes is the planned activation and gradient memory;
	// DeviceBytes, on CUDA, all device memory the step took (weights,
	// moments, inputs, scratch and cuBLAS included).
	PlannedBytes, DeviceBytes int64
	Params                    int64
	Loss                      float64 // after the warm-up and timed steps
	Err                       error   // the shape could not be measured (out of memory, say)
}

// BenchAdam is the optimizer of the timed steps.
var BenchAdam = kernels.AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Clip: 1,
	Warmup: 10, Steps: 1000, MinLRRatio: 0.1}

// Check rejects a config that cannot run (bad input).
func (c *TrainConfig) Check() error {
	bad := func(format string, a ...any) error { return &architectures.InputError{Msg: fmt.Sprintf(format, a...)} }
	switch c.Norm {
	case "layernorm", "rmsnorm":
	default:
		return bad("bench train: --norm %q: allowed: layernorm, rmsnorm", c.Norm)
	}
	if len(c.Mixers) == 0 || len(c.DModels) == 0 || len(c.Lengths) == 0 {
		return bad("bench train: name at least one mixer, d_model and length")
	}
	for _, v := range [][]int{c.DModels, c.Lengths, {c.Batch, c.Vocab, c.Layers, c.Heads, c.MLPRatio, c.Chunk, c.Reps}} {
		for _, x := range v {
			if x <= 0 {
				return bad("bench train: sizes must be positive integers, got %d", x)
			}
		}
	}
	for _, d := range c.DModels {
		if d%c.Heads != 0 {
			return bad("bench train: --heads %d must divide d_model %d", c.Heads, d)
		}
	}
	if c.Warmup < 0 {
		return bad("bench train: --warmup %d: must be >= 0", c.Warmup)
	}
	if !(c.TargetFrac > 0 && c.TargetFrac <= 1) {
		return bad("bench train: --targets %v: a fraction in (0, 1]", c.TargetFrac)
	}
	return nil
}

// Train measures every mixer at every width and length. A shape that fails
// (out of device memory, a loss that is not finite) is returned with Err
// set and the others go on; an error is returned only when the device
// cannot be used at all.
func Train(c TrainConfig) ([]TrainResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var dev *cuda.Device
	label := "cpu"
	if c.CUDA {
		infos, err := cuda.Devices()
		if err != nil {
			return nil, err
		}
		if c.Index < 0 || c.Index >= len(infos) {
			return nil, &architectures.InputError{Msg: fmt.Sprintf("bench train: GPU %d does not exist: this machine has %d", c.Index, len(infos))}
		}
		if dev, err = cuda.Open(c.Index); err != nil {
			return nil, err
		}
		defer dev.Close()
		label = fmt.Sprintf("cuda:%d (%s)", c.Index, infos[c.Index].Name)
	}
	var out []TrainResult
	for _, mix := range c.Mixers {
		for _, d := range c.DModels {
			for _, l := range c.Lengths {
				r := TrainResult{Mixer: mix, DModel: d, SeqLen: l, Device: label}
				r.Err = c.one(dev, &r)
				if r.Err == nil && (math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0)) {
					r.Err = fmt.Errorf("loss %v after %d steps", r.Loss, c.Warmup+c.Reps)
				}
				if r.Err != nil {
					var ie *architectures.InputError
					if errors.As(r.Err, &ie) {
						return out, r.Err
					}
				}
				out = append(out, r)
				if c.Progress != nil {
					c.Progress(r)
				}
			}
		}
	}
	return out, nil
}

// trainGraph is one shape's training graph.
type trainGraph struct {
	m                 *architectures.Model
	g                 *kernels.Graph
	ids, at, tg, loss *kernels.Node
	grads             []*kernels.Node
	params            []*kernels.Param
	idsV, atV, tgV    []int32
}

func (c *TrainConfig) graph(mix string, d, l int) (*trainGraph, error) {
	m, err := architectures.NewModel(architectures.ModelConfig{Vocab: c.Vocab, D: d, Heads: c.Heads, Layers: c.Layers,
		MaxLen: l, Mix: mix, Channel: "mlp", MLPRatio: c.MLPRatio, Norm: c.Norm, Position: "learned", Chunk: c.Chunk}, c.Seed)
	if err != nil {
		return nil, err
	}
	n := c.Batch * l
	k := max(1, int(math.Round(c.TargetFrac*float64(n))))
	tr := &trainGraph{m: m, g: kernels.NewGraph(), params: m.Params()}
	rng := rand.New(rand.NewPCG(c.Seed, uint64(d)<<32|uint64(l)))
	tr.idsV, tr.atV, tr.tgV = make([]int32, n), make([]int32, k), make([]int32, k)
	for i := range tr.idsV {
		tr.idsV[i] = int32(rng.IntN(c.Vocab))
	}
	for i := range tr.atV {
		// Spread evenly: every position when k = n.
		tr.atV[i] = int32(i * n / k)
		tr.tgV[i] = int32(rng.IntN(c.Vocab))
		if rng.IntN(10) == 0 {
			tr.tgV[i] = kernels.Ignore
		}
	}
	g := tr.g
	err = kernels.Catch(func() {
		tr.ids, tr.at, tr.tg = g.IntInput("ids", c.Batch, l), g.IntInput("at", k), g.IntInput("targets", k)
		tr.loss = m.Loss(g, tr.ids, tr.at, tr.tg, architectures.Chunked)
		nodes := make([]*kernels.Node, len(tr.params))
		for i, p := range tr.params {
			nodes[i] = g.Param(p)
		}
		tr.grads = g.Grad(tr.loss, nodes)
	})
	return tr, err
}

// one measures one shape into r.
func (c *TrainConfig) one(dev *cuda.Device, r *TrainResult) error {
	tr, err := c.graph(r.Mixer, r.DModel, r.SeqLen)
	if err != nil {
		return err
	}
	r.Params = tr.m.ParamCount()
	if c.mutate != nil {
		c.mutate(tr.m)
	}
	outs := append([]*kernels.Node{tr.loss}, tr.grads...)
	var times []float64
	if dev == nil {
		p, err := kernels.Compile(tr.g, outs...)
		if err != nil {
			return err
		}
		r.PlannedBytes = p.PlannedBytes
		copy(p.Value(tr.ids).Ints, tr.idsV)
		copy(p.Value(tr.at).Ints, tr.atV)
		copy(p.Value(tr.tg).Ints, tr.tgV)
		gt := make([]*kernels.Tensor, len(tr.grads))
		for i, gn := range tr.grads {
			gt[i] = p.Value(gn)
		}
		o := kernels.NewOptimizer(BenchAdam, tr.params, gt)
		for i := 0; i < c.Warmup+c.Reps; i++ {
			t0 := time.Now()
			p.Run()
			o.Step()
			if i >= c.Warmup {
				times = append(times, float64(time.Since(t0).Nanoseconds())/1e6)
			}
		}
		r.Loss = float64(p.Value(tr.loss).Data[0])
	} else {
		free0, _, err := dev.MemInfo()
		if err != nil {
			return err
		}
		if times, err = c.timeCUDA(dev, tr, r); err != nil {
			r.DeviceBytes = 0
			return err
		}
		r.DeviceBytes += free0
	}
	slices.Sort(times)
	r.MS, r.MinMS = times[len(times)/2], times[0]
	return nil
}

// timeCUDA compiles the step for dev and times TrainStep (forward,
// backward and update: one CUDA graph launch) with device events around
// each launch. It sets r's planned bytes, loss and the device's free
// memory (negated) while the step was allocated.
func (c *TrainConfig) timeCUDA(dev *cuda.Device, tr *trainGraph, r *TrainResult) ([]float64, error) {
	p, err := cuda.Compile(dev, tr.g, append([]*kernels.Node{tr.loss}, tr.grads...)...)
	if err != nil {
		return nil, err
	}
	defer p.Free()
	r.PlannedBytes = p.PlannedBytes
	if err := p.SetPrecision(c.Precision); err != nil {
		return nil, err
	}
	o, err := cuda.NewOptimizer(p, BenchAdam, tr.params, tr.grads)
	if err != nil {
		return nil, err
	}
	defer o.Free()
	for _, in := range []struct {
		n *kernels.Node
		v []int32
	}{{tr.ids, tr.idsV}, {tr.at, tr.atV}, {tr.tg, tr.tgV}} {
		if err := p.SetInts(in.n, in.v); err != nil {
			return nil, err
		}
	}
	start, err := dev.NewEvent()
	if err != nil {
		return nil, err
	}
	defer start.Close()
	stop, err := dev.NewEvent()
	if err != nil {
		return nil, err
	}
	defer stop.Close()
	for i := 0; i < c.Warmup; i++ {
		if _, err := o.TrainStep(); err != nil {
			return nil, err
		}
	}
	if err := p.Sync(); err != nil {
		return nil, err
	}
	free, _, err := dev.MemInfo()
	if err != nil {
		return nil, err
	}
	r.DeviceBytes = -free
	times := make([]float64, c.Reps)
	for i := range times {
		if err := p.RecordEvent(start); err != nil {
			return nil, err
		}
		if _, err := o.TrainStep(); err != nil {
			return nil, err
		}
		if err := p.RecordEvent(stop); err != nil {
			return nil, err
		}
		if err := stop.Sync(); err != nil {
			return nil, err
		}
		ms, err := stop.Since(start)
		if err != nil {
			return nil, err
		}
		times[i] = float64(ms)
	}
	loss := make([]float32, 1)
	if err := p.Read(tr.loss, loss); err != nil {
		return nil, err
	}
	r.Loss = float64(loss[0])
	return times, nil
}

// CheckMixer builds the model of mixer at the config's first width and
// length without running it: an unknown mixer or a size it refuses is an
// error before anything is timed.
func CheckMixer(c TrainConfig, mixer string) error {
	if err := c.Check(); err != nil {
		return err
	}
	_, err := architectures.NewModel(architectures.ModelConfig{Vocab: c.Vocab, D: c.DModels[0], Heads: c.Heads, Layers: c.Layers,
		MaxLen: c.Lengths[0], Mix: mixer, Channel: "mlp", MLPRatio: c.MLPRatio, Norm: c.Norm, Position: "learned", Chunk: c.Chunk}, c.Seed)
	return err
}

package experiments

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"

	"lab/architectures"
	"lab/checkpoint"
	"lab/kernels"
	"lab/spec"
	"lab/tasks"
)

// stepper owns one trial's compiled training step: the data pool, the batch
// order, and the program with its optimizer on the trial's backend.
type stepper struct {
	pool   *tasks.Batch
	f      *feeder
	in     feed // the program's input buffers the feeder fills
	prog   trainProgram
	rng    *rand.Rand
	pcg    *rand.PCG // rng's source, saved in checkpoints
	order  []int
	rows   []int
	params []*kernels.Param
	next   int
	// key is the dropout key input (nil without dropout), set from
	// keySeed and the step so that a resumed run draws the same masks.
	key     *kernels.Node
	keyBuf  []int32
	keySeed uint64
	done    int // steps taken (restored from checkpoints)
}

func newStepper(p *Prepared, b backend, data *dataCache) (*stepper, error) {
	s := p.Trial.Spec
	tr := s.Train
	pool, err := data.generate(p.Train, s.Task.TrainExamples, subSeed(s.Seed, "train"))
	if err != nil {
		return nil, err
	}
	g := kernels.NewGraph()
	params := p.Model.Params()
	st := &stepper{pool: pool, f: newFeeder(g, p.Train, tr.Batch), rows: make([]int, tr.Batch), params: params}
	var loss *kernels.Node
	var grads []*kernels.Node
	if p.Model.NeedsKey() {
		st.key, st.keySeed = g.IntInput("dropout_key", 1), subSeed(s.Seed, "dropout")
	}
	err = kernels.Catch(func() {
		loss = p.Model.TrainLoss(g, st.f.ids, st.f.at, st.f.targets, st.key, architectures.Chunked)
		nodes := make([]*kernels.Node, len(params))
		for i, pp := range params {
			nodes[i] = g.Param(pp)
		}
		grads = g.Grad(loss, nodes)
	})
	if err != nil {
		return nil, err
	}
	st.prog, err = b.compileTrain(g, loss, params, grads, adamW(tr))
	if err != nil {
		return nil, err
	}
	st.in = st.f.buffers(st.prog.ints)
	if st.key != nil {
		st.keyBuf = st.prog.ints(st.key)
	}
	st.pcg = rand.NewPCG(subSeed(s.Seed, "order"), 1)
	st.rng = rand.New(st.pcg)
	st.order = st.rng.Perm(pool.N)
	return st, nil
}

// adamW is the optimizer a train section asks for: warmup (a fraction of
// the steps below 1, whole steps from 1), then cosine to min_lr_ratio·lr,
// or a constant rate (cosine from lr to lr).
func adamW(tr spec.TrainSpec) kernels.AdamW {
	warm := int(tr.Warmup)
	if tr.Warmup < 1 {
		warm = int(tr.Warmup * float64(tr.Steps))
	}
	floor := tr.MinLRRatio
	if tr.Schedule == "constant" {
		floor = 1
	}
	return kernels.AdamW{
		LR: tr.LR, Beta1: tr.Beta1, Beta2: tr.Beta2, Eps: 1e-8, WeightDecay: tr.WeightDecay,
		Clip: tr.Clip, Warmup: warm, Steps: tr.Steps, MinLRRatio: floor,
	}
}

func (st *stepper) swap(a, b int) { st.order[a], st.order[b] = st.order[b], st.order[a] }

// step trains on the next batch (reshuffling the pool each epoch) and
// returns the batch loss; a non-finite loss skips the update.
func (st *stepper) step() (float64, error) {
	for i := range st.rows {
		if st.next == len(st.order) {
			st.rng.Shuffle(len(st.order), st.swap)
			st.next = 0
		}
		st.rows[i] = st.order[st.next]
		st.next++
	}
	if err := st.f.fill(st.in, st.pool, st.rows); err != nil {
		return 0, err
	}
	if st.key != nil {
		st.keyBuf[0] = kernels.DropoutKey(st.keySeed, st.done)
	}
	st.done++
	return st.prog.train()
}

// save writes the trial's whole training state after step steps: weights
// (named as the model names them, prefixed by position so names are unique),
// AdamW moments, the data order and the order generator.
func (st *stepper) save(path string, step int) error {
	if err := st.prog.pullParams(); err != nil {
		return err
	}
	m, v, optSteps, err := st.prog.optState()
	if err != nil {
		return err
	}
	ts := map[string]checkpoint.Tensor{}
	for i, p := range st.params {
		ts[fmt.Sprintf("%03d.%s", i, p.Name)] = checkpoint.Tensor{Shape: p.Value.Shape, F32: p.Value.Data}
		ts[fmt.Sprintf("adam_m.%03d", i)] = checkpoint.Tensor{Shape: p.Value.Shape, F32: m[i]}
		ts[fmt.Sprintf("adam_v.%03d", i)] = checkpoint.Tensor{Shape: p.Value.Shape, F32: v[i]}
	}
	order := make([]int32, len(st.order))
	for i, o := range st.order {
		order[i] = int32(o)
	}
	ts["data_order"] = checkpoint.Tensor{Shape: []int{len(order)}, I32: order}
	g, err := st.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	meta := map[string]string{
		"step": strconv.Itoa(step), "optimizer_steps": strconv.Itoa(optSteps),
		"data_next": strconv.Itoa(st.next), "order_rng": base64.StdEncoding.EncodeToString(g),
		"format": "lab checkpoint v1",
	}
	if err := checkpoint.Save(path, ts, meta); err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", step, err)
	}
	return nil
}

// restore loads a checkpoint written by save and returns its step.
func (st *stepper) restore(path string) (int, error) {
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		return 0, err
	}
	m, v := make([][]float32, len(st.params)), make([][]float32, len(st.params))
	for i, p := range st.params {
		for _, c := range []struct {
			key string
			dst *[]float32
		}{{fmt.Sprintf("%03d.%s", i, p.Name), nil}, {fmt.Sprintf("adam_m.%03d", i), &m[i]}, {fmt.Sprintf("adam_v.%03d", i), &v[i]}} {
			t, ok := ts[c.key]
			if !ok || len(t.F32) != p.Value.Len() {
				return 0, fmt.Errorf("tensor %s missing or of another size: the spec changed since the checkpoint", c.key)
			}
			if c.dst == nil {
				copy(p.Value.Data, t.F32)
			} else {
				*c.dst = t.F32
			}
		}
	}
	order := ts["data_order"].I32
	if len(order) != len(st.order) {
		return 0, fmt.Errorf("data order of %d examples, the pool has %d", len(order), len(st.order))
	}
	for i, o := range order {
		st.order[i] = int(o)
	}
	step, err1 := strconv.Atoi(meta["step"])
	optSteps, err2 := strconv.Atoi(meta["optimizer_steps"])
	next, err3 := strconv.Atoi(meta["data_next"])
	g, err4 := base64.StdEncoding.DecodeString(meta["order_rng"])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return 0, fmt.Errorf("bad checkpoint metadata %v", meta)
	}
	if err := st.pcg.UnmarshalBinary(g); err != nil {
		return 0, err
	}
	if err := st.prog.pushParams(); err != nil {
		return 0, err
	}
	if err := st.prog.setOptState(m, v, optSteps); err != nil {
		return 0, err
	}
	st.next = next
	st.done = step
	return step, nil
}

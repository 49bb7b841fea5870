package experiments

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"

	"lab/architectures"
	"lab/tasks"
)

// Prepared is a trial with everything built that can fail on bad input: the
// tasks and the model. Preparing every trial before the first run row is
// written means a bad spec writes nothing.
type Prepared struct {
	Trial Trial
	Train tasks.Task
	Evals []PreparedEval
	Model *architectures.Model
	Price Price // the memory it was estimated to need (price.go)
}

// PreparedEval is one held-out set.
type PreparedEval struct {
	Name     string
	Task     tasks.Task
	Examples int
	Seed     uint64
}

// subSeed derives an independent stream seed from the spec seed and a label,
// so training data, each eval set and the weights never share a stream.
func subSeed(seed uint64, label string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(label))
	return h.Sum64()
}

// Prepare validates a trial against the task and mixer registries and builds
// its model (weights from the spec seed).
// taskError turns a task parameter error into a *SpecError naming the file,
// the field (task.kv_pairs, eval[1].kv_pairs, or sweep.task.kv_pairs when the
// sweep set it) and its line; eval is the eval set's index, -1 for the
// training task.
func taskError(t Trial, err error, eval int) error {
	var pe *tasks.ParamError
	if !errors.As(err, &pe) || pe.Param == "" {
		if eval >= 0 {
			return fmt.Errorf("%s: eval[%d]: %w", t.Name, eval, err)
		}
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	field := "task." + pe.Param
	if eval >= 0 {
		if _, own := t.Spec.Eval[eval].Params[pe.Param]; own {
			field = fmt.Sprintf("eval[%d].%s", eval, pe.Param)
		}
	}
	e := &SpecError{File: t.Spec.File(), Trial: t.Name, Field: field, Value: strconv.FormatFloat(pe.Value, 'g', -1, 64),
		Problem: "task " + pe.Task + ": " + pe.Allowed, Line: t.Spec.Line(field)}
	for _, o := range t.Overrides {
		if o.Key == field {
			e.Field, e.Trial = "sweep."+field, ""
		}
	}
	return e
}

// mixerError turns a bad mixer argument found when the model is built into
// a *SpecError naming the file, model.mixer (sweep.model.mixer when swept)
// and its line.
func mixerError(t Trial, err error) error {
	var ie *architectures.InputError
	if !errors.As(err, &ie) {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	const field = "model.mixer"
	e := &SpecError{File: t.Spec.File(), Trial: t.Name, Field: field, Value: strconv.Quote(t.Spec.Model.Mixer),
		Problem: ie.Msg, Line: t.Spec.Line(field)}
	for _, o := range t.Overrides {
		if o.Key == field {
			e.Field, e.Trial = "sweep."+field, ""
		}
	}
	return e
}

func Prepare(t Trial) (*Prepared, error) { return PrepareWithin(t, 0) }

// PrepareWithin is Prepare that first prices the trial (PriceSpec) and
// refuses one estimated to need more than maxMem bytes (0: the machine's
// MemAvailable) before the model's weights are allocated.
func PrepareWithin(t Trial, maxMem int64) (*Prepared, error) {
	s := t.Spec
	train, err := tasks.New(s.Task.Name, s.Task.Params)
	if err != nil {
		return nil, taskError(t, err, -1)
	}
	p := &Prepared{Trial: t, Train: train}
	maxLen := train.SeqLen()
	for i, e := range s.Eval {
		params := maps.Clone(s.Task.Params)
		if params == nil {
			params = map[string]float64{}
		}
		maps.Copy(params, e.Params)
		et, err := tasks.New(s.Task.Name, params)
		if err != nil {
			return nil, taskError(t, err, i)
		}
		maxLen = max(maxLen, et.SeqLen())
		p.Evals = append(p.Evals, PreparedEval{Name: e.Name, Task: et, Examples: e.Examples, Seed: subSeed(s.Seed, "eval/"+e.Name)})
	}
	p.Price = PriceSpec(&s, train, p.Evals)
	if err := checkPrice(t, p.Price, maxMem); err != nil {
		return nil, err
	}
	m := s.Model
	p.Model, err = architectures.NewModel(architectures.ModelConfig{
		Vocab: train.Vocab(), D: m.DModel, Heads: m.Heads, Layers: m.Layers, MaxLen: maxLen,
		Mix: m.Mixer, Channel: m.Channel, MLPRatio: m.MLPRatio, Norm: m.Norm, Position: m.Position, Chunk: m.Chunk,
		TieEmbeddings: m.TieEmbeddings, EmbedDropout: m.EmbedDropout,
	}, subSeed(s.Seed, "weights"))
	if err != nil {
		return nil, mixerError(t, err)
	}
	for _, e := range p.Evals {
		if e.Task.Vocab() != train.Vocab() {
			return nil, &SpecError{Field: "eval." + e.Name + ".vocab", Value: fmt.Sprint(e.Task.Vocab()), Allowed: fmt.Sprintf("the training vocabulary (%d): the model has one embedding table", train.Vocab())}
		}
	}
	return p, nil
}

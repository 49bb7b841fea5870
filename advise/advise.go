// Package advise answers "which mixer should I use at length N if I need
// recall R?" from the runs in the database: the cheapest configurations that
// reached R at N (or at the nearest measured length, saying so), with their
// state bytes at N and their measured cost, and what is missing to answer
// better.
package advise

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"lab/architectures"
	"lab/hybrid"
	"lab/spec"
	"lab/store"
)

// Option is one configuration that met the recall target.
type Option struct {
	RunID      string
	Mixer      string
	DModel     int
	Task       string
	Accuracy   float64
	EvalName   string
	StateBytes int64   // recurrent state per sequence at the asked length
	FLOPs      float64 // forward FLOPs per token at the asked length
	StepMS     float64 // measured training step time
}

// Answer is the advice.
type Answer struct {
	AskedLen, UsedLen int
	Recall            float64
	Options           []Option // cheapest state first
	Best              *Option  // the most accurate at UsedLen when none qualified
	Missing           []string // what to measure to answer better
	// BestOver says which runs the answer rests on when the caller kept
	// only the best of each group (store.BestOver's note), e.g. "best of 4
	// over train.lr on test"; "" when every run was considered.
	BestOver string `json:",omitempty"`
}

// Advise picks from runs (status done) the configurations whose accuracy at
// the length nearest to seqLen (on a log scale) is at least recall; task ""
// accepts any task.
func Advise(runs []store.Run, seqLen int, recall float64, task string) (*Answer, error) {
	type cand struct {
		run  store.Run
		spec spec.Spec
		res  store.Result
	}
	var all []cand
	lengths := map[int]bool{}
	for _, r := range runs {
		if r.Status != "done" {
			continue
		}
		var s spec.Spec
		if err := json.Unmarshal(r.Config, &s); err != nil {
			continue
		}
		if task != "" && s.Task.Name != task {
			continue
		}
		for _, res := range r.Results {
			lengths[res.SeqLen] = true
			all = append(all, cand{r, s, res})
		}
	}
	if len(all) == 0 {
		return nil, &architectures.InputError{Msg: fmt.Sprintf("advise: no finished runs%s in the database: run a spec first", forTask(task))}
	}
	used, bestDist := 0, math.Inf(1)
	for l := range lengths {
		if d := math.Abs(math.Log2(float64(l)) - math.Log2(float64(seqLen))); d < bestDist || (d == bestDist && l > used) {
			used, bestDist = l, d
		}
	}
	a := &Answer{AskedLen: seqLen, UsedLen: used, Recall: recall}
	seenMixer := map[string]bool{}
	byConfig := map[string]Option{}
	var best *Option
	for _, c := range all {
		if c.res.SeqLen != used {
			continue
		}
		o, err := option(c.run, c.spec, c.res, seqLen)
		if err != nil {
			continue
		}
		seenMixer[mixerName(c.spec)] = true
		if best == nil || o.Accuracy > best.Accuracy {
			b := o
			best = &b
		}
		if o.Accuracy < recall {
			continue
		}
		key := fmt.Sprintf("%s|%d", o.Mixer, o.DModel)
		if prev, ok := byConfig[key]; !ok || o.Accuracy > prev.Accuracy {
			byConfig[key] = o
		}
	}
	for _, o := range byConfig {
		a.Options = append(a.Options, o)
	}
	sort.Slice(a.Options, func(i, j int) bool {
		x, y := a.Options[i], a.Options[j]
		if x.StateBytes != y.StateBytes {
			return x.StateBytes < y.StateBytes
		}
		return x.Accuracy > y.Accuracy
	})
	if len(a.Options) == 0 {
		a.Best = best
	}
	if used != seqLen {
		a.Missing = append(a.Missing, fmt.Sprintf("no run was evaluated at L=%d: add an eval set {seq_len: %d} (answering from L=%d)", seqLen, seqLen, used))
	}
	for _, s := range architectures.List() {
		if !seenMixer[s.Name] {
			a.Missing = append(a.Missing, fmt.Sprintf("no %s run at L=%d", s.Name, used))
		}
	}
	return a, nil
}

func forTask(t string) string {
	if t == "" {
		return ""
	}
	return " on task " + t
}

// mixerName is the first mixer name of the stack (the family the advice
// names); hybrids are listed under their full mix in Option.Mixer.
func mixerName(s spec.Spec) string {
	if st, err := hybrid.Parse(s.Model.Mixer); err == nil && len(st) > 0 {
		return st[0].Mixers[0].Name
	}
	return s.Model.Mixer
}

// option rebuilds the run's model to count its state and FLOPs at length l.
func option(r store.Run, s spec.Spec, res store.Result, l int) (Option, error) {
	m := s.Model
	model, err := architectures.NewModel(architectures.ModelConfig{
		Vocab: int(s.Task.Params["vocab"]), D: m.DModel, Heads: m.Heads, Layers: m.Layers, MaxLen: max(l, 1),
		Mix: m.Mixer, Channel: m.Channel, MLPRatio: m.MLPRatio, Norm: m.Norm, Position: "none", Chunk: m.Chunk,
	}, 1)
	if err != nil {
		return Option{}, err
	}
	return Option{
		RunID: r.ID, Mixer: m.Mixer, DModel: m.DModel, Task: s.Task.Name, Accuracy: res.Accuracy, EvalName: res.EvalName,
		StateBytes: model.StateBytes(l), FLOPs: model.FLOPs(l), StepMS: r.StepTimeMS,
	}, nil
}

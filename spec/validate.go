package spec

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"lab/hybrid"
)

// finalize fills the defaults that depend on other fields, validates the
// spec and parses the mixer.
func (d *decoder) finalize(s *Spec) error {
	s.defaulted = map[string]any{}
	_, hasSteps := d.lines["train.steps"]
	if _, ok := d.lines["train.epochs"]; ok {
		ftoa := strconv.FormatFloat(s.Train.Epochs, 'g', -1, 64)
		if hasSteps {
			return d.fail("train.epochs", d.line("train.epochs"), ftoa, "is given with train.steps", "one of train.steps or train.epochs")
		}
		if err := d.check(s.Train.Epochs > 0 && s.Train.Epochs <= 1e6, "train.epochs", ftoa, "must be a positive number up to 1e6", ""); err != nil {
			return err
		}
		if s.Task.TrainExamples > 0 && s.Train.Batch > 0 {
			steps := math.Ceil(s.Train.Epochs * float64(s.Task.TrainExamples) / float64(s.Train.Batch))
			if steps > 1<<31 {
				return d.fail("train.epochs", d.line("train.epochs"), ftoa, fmt.Sprintf("gives %.3g steps", steps), "at most 2^31 steps")
			}
			s.Train.Steps = int(steps)
			s.defaulted["train.steps"] = s.Train.Steps
		}
	}
	if _, ok := d.lines["train.eval_every"]; !ok {
		s.Train.EvalEvery = max(0, s.Train.Steps/10)
		s.defaulted["train.eval_every"] = s.Train.EvalEvery
	}
	_, given := d.lines["eval"]
	if !given {
		s.Eval = []EvalSpec{{Params: map[string]float64{}}}
	}
	for i := range s.Eval {
		e, p := &s.Eval[i], fmt.Sprintf("eval[%d]", i)
		if e.Params == nil {
			e.Params = map[string]float64{}
		}
		if _, ok := d.lines[p+".examples"]; !ok {
			e.Examples = s.Train.EvalExamples
			s.defaulted[p+".examples"] = e.Examples
		}
		if _, ok := d.lines[p+".name"]; !ok {
			e.Name = evalName(s.Task.Params, e.Params, i)
			s.defaulted[p+".name"] = e.Name
		}
	}
	if !given {
		s.defaulted["eval"] = cloneEvals(s.Eval)
	}
	return d.validate(s)
}

// evalName is the default name of eval set i: L<seq_len>_kv<kv_pairs> from
// its effective parameters, then every other overridden parameter as
// <name><value>; "eval<i>" when that says nothing.
func evalName(task, over map[string]float64, i int) string {
	num := func(v float64) string { return strings.ReplaceAll(strconv.FormatFloat(v, 'g', -1, 64), "+", "") }
	get := func(k string) (float64, bool) {
		if v, ok := over[k]; ok {
			return v, true
		}
		v, ok := task[k]
		return v, ok
	}
	var parts []string
	if v, ok := get("seq_len"); ok {
		parts = append(parts, "L"+num(v))
	}
	if v, ok := get("kv_pairs"); ok {
		parts = append(parts, "kv"+num(v))
	}
	var rest []string
	for k, v := range over {
		if k != "seq_len" && k != "kv_pairs" {
			rest = append(rest, k+num(v))
		}
	}
	sort.Strings(rest)
	parts = append(parts, rest...)
	if len(parts) == 0 {
		return "eval" + strconv.Itoa(i)
	}
	return strings.Join(parts, "_")
}

func cloneEvals(es []EvalSpec) []EvalSpec {
	out := make([]EvalSpec, len(es))
	for i, e := range es {
		e.Params = cloneParams(e.Params)
		out[i] = e
	}
	return out
}

func cloneParams(p map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// maxInt bounds the integer fields (mlp_ratio and the seed aside): sizes far
// past what trains on any machine (memory is priced separately, see
// experiments/price.go), steps past 2^31 (decades at a millisecond a step).
var maxInt = map[string]int{
	"model.d_model":          1 << 20,
	"model.chunk":            1 << 24,
	"model.heads":            1 << 20,
	"train.batch":            1 << 24,
	"train.steps":            1 << 31,
	"train.eval_every":       1 << 31,
	"train.checkpoint_every": 1 << 31,
	"train.eval_examples":    1 << 28,
	"eval.examples":          1 << 28,
	"task.train_examples":    1 << 32,
}

// validate checks every field of a decoded spec with defaults filled, and
// parses and broadcasts the mixer.
func (d *decoder) validate(s *Spec) error {
	q := strconv.Quote
	itoa := strconv.Itoa
	ftoa := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	// Every integer field has a bound: far past anything that trains, low
	// enough that products of sizes stay well inside int64.
	positive := func(path string, v int) error {
		if v > maxInt[path] && maxInt[path] > 0 {
			return d.check(false, path, itoa(v), fmt.Sprintf("must be a positive integer up to %d", maxInt[path]), "")
		}
		return d.check(v > 0, path, itoa(v), "must be a positive integer", "")
	}
	nonNegative := func(path string, v int) error {
		if v > maxInt[path] && maxInt[path] > 0 {
			return d.check(false, path, itoa(v), fmt.Sprintf("must be a non-negative integer up to %d", maxInt[path]), "")
		}
		return d.check(v >= 0, path, itoa(v), "must be a non-negative integer", "")
	}
	m, t := &s.Model, s.Train
	for _, err := range []error{
		d.check(s.Name != "", "name", "", "required", "letters, digits and _ . -"),
		d.check(s.Name == "" || nameRE.MatchString(s.Name), "name", q(s.Name), "", "letters, digits and _ . -"),
		d.check(s.Task.Name != "", "task.name", "", "required", "a task name (see `lab tasks`)"),
		positive("task.train_examples", s.Task.TrainExamples),
		d.check(len(s.Eval) > 0, "eval", "[]", "must list at least one set", "a list of sets, or no eval key to evaluate on the training task"),
	} {
		if err != nil {
			return err
		}
	}
	required := func(path string) error {
		_, ok := d.lines[path]
		return d.check(ok, path, "", "required", "a positive integer")
	}
	_, byEpochs := d.lines["train.epochs"]
	for _, err := range []error{
		required("model.d_model"),
		func() error {
			if byEpochs {
				return nil
			}
			_, ok := d.lines["train.steps"]
			return d.check(ok, "train.steps", "", "required", "a positive integer, or train.epochs")
		}(),
		positive("model.d_model", m.DModel),
		positive("model.heads", m.Heads),
		d.check(m.Heads <= 0 || m.DModel <= 0 || m.DModel%m.Heads == 0, "model.heads", itoa(m.Heads),
			fmt.Sprintf("must divide model.d_model (%d)", m.DModel), "", "model.d_model"),
		d.check(m.Layers >= 1 && m.Layers <= hybrid.MaxLayers, "model.layers", itoa(m.Layers),
			fmt.Sprintf("must be an integer in [1, %d]", hybrid.MaxLayers), ""),
		d.check(slices.Contains(ChannelMixers, m.Channel), "model.channel", q(m.Channel), "", strings.Join(ChannelMixers, ", ")),
		d.check(m.MLPRatio > 0 || m.Channel == "none", "model.mlp_ratio", itoa(m.MLPRatio), "must be a positive integer", ""),
		d.check(m.MLPRatio <= 1024, "model.mlp_ratio", itoa(m.MLPRatio), "must be a positive integer up to 1024", ""),
		d.check(slices.Contains(norms, m.Norm), "model.norm", q(m.Norm), "", strings.Join(norms, ", ")),
		d.check(slices.Contains(positions, m.Position), "model.position", q(m.Position), "", strings.Join(positions, ", ")),
		positive("model.chunk", m.Chunk),
		positive("train.batch", t.Batch),
		positive("train.steps", t.Steps),
		d.check(t.LR > 0, "train.lr", ftoa(t.LR), "must be a positive number", ""),
		d.check(t.WeightDecay >= 0, "train.weight_decay", ftoa(t.WeightDecay), "must be a non-negative number", ""),
		d.check(t.Warmup >= 0 && (t.Warmup < 1 || t.Warmup == math.Trunc(t.Warmup) && (t.Warmup <= float64(t.Steps) || t.Steps <= 0)),
			"train.warmup", ftoa(t.Warmup), "", fmt.Sprintf("a fraction of the steps in [0, 1), or a whole number of steps up to train.steps (%d)", t.Steps), "train.steps"),
		d.check(t.Clip >= 0, "train.clip", ftoa(t.Clip), "must be a non-negative number (0 turns clipping off)", ""),
		d.check(t.Beta1 >= 0 && t.Beta1 < 1, "train.beta1", ftoa(t.Beta1), "must be in [0, 1)", ""),
		d.check(t.Beta2 >= 0 && t.Beta2 < 1, "train.beta2", ftoa(t.Beta2), "must be in [0, 1)", ""),
		nonNegative("train.eval_every", t.EvalEvery),
		positive("train.eval_examples", t.EvalExamples),
		nonNegative("train.checkpoint_every", t.CheckpointEvery),
		d.check(slices.Contains(schedules, t.Schedule), "train.schedule", q(t.Schedule), "", strings.Join(schedules, ", ")),
		d.check(t.MinLRRatio >= 0 && t.MinLRRatio <= 1, "train.min_lr_ratio", ftoa(t.MinLRRatio), "must be in [0, 1]", ""),
		d.check(t.StopAt >= 0 && t.StopAt <= 1, "train.stop_at", ftoa(t.StopAt), "must be an accuracy in (0, 1], or 0 for no early stop", ""),
		d.check(t.StopEval == "" || t.StopAt > 0, "train.stop_eval", q(t.StopEval), "is set without train.stop_at", "train.stop_at: an accuracy", "train.stop_at"),
		d.check(!(m.EmbedDropout < 0 || m.EmbedDropout >= 1), "model.embed_dropout", ftoa(m.EmbedDropout), "must be in [0, 1)", ""),
	} {
		if err != nil {
			return err
		}
	}
	seen := map[string]int{}
	for i, e := range s.Eval {
		p := fmt.Sprintf("eval[%d]", i)
		if err := d.check(nameRE.MatchString(e.Name), p+".name", q(e.Name), "", "letters, digits and _ . -"); err != nil {
			return err
		}
		if j, dup := seen[e.Name]; dup {
			return d.fail(p+".name", d.line(p), q(e.Name), fmt.Sprintf("eval[%d] has the same name", j), "a distinct name for every set (give the sets names)")
		}
		seen[e.Name] = i
		if err := positive(p+".examples", e.Examples); err != nil {
			return err
		}
		if err := d.check(e.Examples <= maxInt["eval.examples"], p+".examples", itoa(e.Examples), fmt.Sprintf("must be a positive integer up to %d", maxInt["eval.examples"]), ""); err != nil {
			return err
		}
	}
	if t.StopEval != "" {
		if _, ok := seen[t.StopEval]; !ok {
			names := make([]string, len(s.Eval))
			for i, e := range s.Eval {
				names[i] = e.Name
			}
			return d.fail("train.stop_eval", d.line("train.stop_eval"), q(t.StopEval), "names no eval set", strings.Join(names, ", "))
		}
	}
	return d.mixer(m)
}

// mixer parses model.mixer, stores its canonical form and broadcasts it to
// model.layers.
func (d *decoder) mixer(m *ModelSpec) error {
	if _, swept := d.sweptKey("model.mixer"); swept && d.base {
		return nil
	}
	if m.Mixer == "" {
		return d.fail("model.mixer", d.line("model.mixer"), "", "required",
			`a mix such as softmax or "gla*3, softmax" (see `+"`lab mixers`)")
	}
	stack, err := hybrid.Parse(m.Mixer)
	if err != nil {
		var pe *hybrid.ParseError
		if errors.As(err, &pe) {
			return d.fail("model.mixer", d.line("model.mixer"), strconv.Quote(m.Mixer),
				fmt.Sprintf("column %d: expected %s, got %s", pe.Col, pe.Expected, pe.Got), "")
		}
		return d.fail("model.mixer", d.line("model.mixer"), strconv.Quote(m.Mixer), err.Error(), "")
	}
	written := m.Mixer
	m.Mixer = stack.String()
	if _, swept := d.sweptKey("model.layers"); swept && d.base {
		return nil
	}
	b, err := stack.Broadcast(m.Layers)
	if err != nil {
		return d.fail("model.mixer", d.line("model.mixer"), strconv.Quote(written),
			fmt.Sprintf("has %d layers but model.layers is %d", len(stack), m.Layers),
			fmt.Sprintf("a mix of one layer (repeated in every layer) or of exactly %d layers", m.Layers))
	}
	m.Stack = b
	return nil
}

var (
	keyRE   = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)
	labelRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// checkKey rejects sweep keys that cannot name a field: malformed, under
// eval or sweep, a whole section, or deeper than section.field. Unknown field
// names are left to the strict decoding of each trial.
func checkKey(file string, line int, key string) error {
	bad := func(problem, allowed string) error {
		return &SpecError{File: file, Line: line, Field: "sweep." + key, Problem: problem, Allowed: allowed}
	}
	const keys = "name, seed, task.<field or parameter>, model.<field>, train.<field>"
	if !keyRE.MatchString(key) {
		return bad("is not a dotted key", keys)
	}
	parts := strings.Split(key, ".")
	switch parts[0] {
	case "eval":
		return bad("eval sets cannot be swept", "list every set under eval")
	case "sweep":
		return bad("the sweep cannot be swept", keys)
	case "task", "model", "train":
		if len(parts) != 2 {
			return bad("must name one field of "+parts[0], parts[0]+".<field>, e.g. model.mixer")
		}
	default:
		if len(parts) != 1 {
			return bad("has no fields", keys)
		}
	}
	return nil
}

// placements expands a placement axis, naming its fields in errors.
func placements(file string, line int, key string, p *Placement) ([]string, error) {
	path := "sweep." + key
	for _, f := range []struct{ name, src string }{{"place", p.Place}, {"among", p.Among}} {
		if _, err := hybrid.Parse(f.src); err != nil {
			var pe *hybrid.ParseError
			problem := err.Error()
			if errors.As(err, &pe) {
				problem = fmt.Sprintf("column %d: expected %s, got %s", pe.Col, pe.Expected, pe.Got)
			}
			return nil, &SpecError{File: file, Line: line, Field: path + "." + f.name, Value: strconv.Quote(f.src), Problem: problem}
		}
	}
	mixes, err := hybrid.Placements(p.Place, p.Among, p.K, p.Layers)
	if err != nil {
		var ie *hybrid.InputError
		if errors.As(err, &ie) {
			return nil, &SpecError{File: file, Line: line, Field: path + "." + ie.Field, Value: ie.Value, Allowed: ie.Allowed}
		}
		return nil, &SpecError{File: file, Line: line, Field: path, Problem: err.Error()}
	}
	return mixes, nil
}

// sweptKeys lists the fields a sweep sets.
func sweptKeys(axes []SweepAxis) []string {
	var keys []string
	for _, ax := range axes {
		keys = append(keys, ax.Key)
		if ax.Place != nil {
			keys = append(keys, "model.layers")
		}
	}
	return keys
}

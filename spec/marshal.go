package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// JSON is the canonical JSON of the spec: snake_case keys as in the YAML,
// task parameters and eval overrides flattened into their objects (so
// task.seq_len is a path), the mixer as its canonical string, the sweep
// left out when empty. Equal specs give equal bytes. It is the run's config
// in the database.
func (s Spec) JSON() json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil { // only non-finite numbers, which validation rejects
		return json.RawMessage(`{}`)
	}
	return b
}

// flat merges the fixed fields with the params into one object.
func flat(params map[string]float64, fixed map[string]any) map[string]any {
	out := make(map[string]any, len(params)+len(fixed))
	for k, v := range params {
		out[k] = v
	}
	for k, v := range fixed {
		out[k] = v
	}
	return out
}

// MarshalJSON writes the task as one flat object (keys sorted).
func (t TaskSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(flat(t.Params, map[string]any{"name": t.Name, "train_examples": t.TrainExamples}))
}

// MarshalJSON writes the eval set as one flat object (keys sorted).
func (e EvalSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(flat(e.Params, map[string]any{"name": e.Name, "examples": e.Examples}))
}

// unflatJSON splits a flat JSON object into the fixed string and int fields
// and the numeric params.
func unflatJSON(data []byte, str string, num string, sp *string, np *int) (map[string]float64, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	params := map[string]float64{}
	for k, v := range raw {
		var err error
		switch k {
		case str:
			err = json.Unmarshal(v, sp)
		case num:
			err = json.Unmarshal(v, np)
		default:
			var f float64
			if err = json.Unmarshal(v, &f); err == nil {
				params[k] = f
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return params, nil
}

// UnmarshalJSON reads the flat object MarshalJSON writes.
func (t *TaskSpec) UnmarshalJSON(data []byte) error {
	p, err := unflatJSON(data, "name", "train_examples", &t.Name, &t.TrainExamples)
	t.Params = p
	return err
}

// UnmarshalJSON reads the flat object MarshalJSON writes.
func (e *EvalSpec) UnmarshalJSON(data []byte) error {
	p, err := unflatJSON(data, "name", "examples", &e.Name, &e.Examples)
	e.Params = p
	return err
}

// UnmarshalYAML decodes a task mapping strictly: name, train_examples and
// numeric parameters; anything else is a *SpecError. Defaults are not
// applied (Parse does that).
func (t *TaskSpec) UnmarshalYAML(n *yaml.Node) error {
	return newDecoder("").task(n, "task", t)
}

// UnmarshalYAML decodes an eval-set mapping strictly: name, examples and
// numeric parameter overrides.
func (e *EvalSpec) UnmarshalYAML(n *yaml.Node) error {
	return newDecoder("").evalSet(n, "eval", e)
}

// MarshalYAML writes the task as one flat mapping.
func (t TaskSpec) MarshalYAML() (any, error) {
	m := newMap()
	if t.Name != "" {
		m.add("name", t.Name)
	}
	if t.TrainExamples != 0 {
		m.add("train_examples", t.TrainExamples)
	}
	m.params(t.Params)
	return m.n, nil
}

// MarshalYAML writes the eval set as one flat mapping.
func (e EvalSpec) MarshalYAML() (any, error) {
	m := newMap()
	if e.Name != "" {
		m.add("name", e.Name)
	}
	if e.Examples != 0 {
		m.add("examples", e.Examples)
	}
	m.params(e.Params)
	return m.n, nil
}

// mapNode builds a YAML mapping node in insertion order.
type mapNode struct{ n *yaml.Node }

func newMap() mapNode { return mapNode{&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}} }

// valueNode encodes a plain value (number, string, bool, list, map).
func valueNode(v any) *yaml.Node {
	if n, ok := v.(*yaml.Node); ok {
		return n
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	}
	return n
}

func (m mapNode) add(key string, v any) {
	m.n.Content = append(m.n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, valueNode(v))
}

func (m mapNode) params(p map[string]float64) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.add(k, p[k])
	}
}

// trainJSON is TrainSpec's JSON form: the fields added after runs were
// first stored (schedule, min_lr_ratio) are left out at their defaults, so
// the canonical JSON, and with it every trial key, of a spec that does not
// use them is what it was (stored runs still resume).
type trainJSON struct {
	trainAlias
	Schedule   *string  `json:"schedule,omitempty"`
	MinLRRatio *float64 `json:"min_lr_ratio,omitempty"`
}

type trainAlias TrainSpec

// MarshalJSON writes the train section, new fields only when not default.
func (t TrainSpec) MarshalJSON() ([]byte, error) {
	j := trainJSON{trainAlias: trainAlias(t)}
	if t.Schedule != "cosine" {
		j.Schedule = &t.Schedule
	}
	if t.MinLRRatio != 0.1 {
		j.MinLRRatio = &t.MinLRRatio
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes: a missing schedule is
// cosine and a missing min_lr_ratio 0.1.
func (t *TrainSpec) UnmarshalJSON(data []byte) error {
	var j trainJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*t = TrainSpec(j.trainAlias)
	t.Schedule, t.MinLRRatio = "cosine", 0.1
	if j.Schedule != nil {
		t.Schedule = *j.Schedule
	}
	if j.MinLRRatio != nil {
		t.MinLRRatio = *j.MinLRRatio
	}
	return nil
}

// zeroUnset lists the fields whose zero value is not valid: encode leaves
// them out when zero, so that they take their defaults.
var zeroUnset = map[string]bool{
	"model.d_model": true, "model.heads": true, "model.layers": true, "model.mixer": true, "model.channel": true,
	"model.mlp_ratio": true, "model.norm": true, "model.position": true, "model.chunk": true,
	"train.batch": true, "train.steps": true, "train.lr": true, "train.eval_examples": true, "train.epochs": true,
	"train.schedule": true,
}

// encode turns the spec's fields (not its sweep) back into a YAML tree that
// decodes to the same spec, leaving out what should be defaulted again (see
// Expand).
func (s *Spec) encode() *yaml.Node {
	root := newMap()
	if s.Name != "" {
		root.add("name", s.Name)
	}
	root.add("seed", s.Seed)
	root.add("task", valueNode(s.Task))
	if dflt, ok := s.defaulted["eval"]; !(ok && reflect.DeepEqual(dflt, s.Eval)) && len(s.Eval) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i, e := range s.Eval {
			p := fmt.Sprintf("eval[%d]", i)
			if v, ok := s.defaulted[p+".name"]; ok && v == e.Name {
				e.Name = ""
			}
			if v, ok := s.defaulted[p+".examples"]; ok && v == e.Examples {
				e.Examples = 0
			}
			list.Content = append(list.Content, valueNode(e))
		}
		root.add("eval", list)
	}
	root.add("model", s.encodeFields("model", &s.Model))
	root.add("train", s.encodeFields("train", &s.Train))
	return root.n
}

// encodeFields writes a flat struct by its yaml tags, leaving out zero
// values that mean "unset" and defaults that should be derived again.
func (s *Spec) encodeFields(path string, ptr any) *yaml.Node {
	m := newMap()
	rv := reflect.ValueOf(ptr).Elem()
	for i := range rv.NumField() {
		tag, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		p := path + "." + tag
		f := rv.Field(i)
		if zeroUnset[p] && f.IsZero() {
			continue
		}
		if v, ok := s.defaulted[p]; ok && reflect.DeepEqual(v, f.Interface()) {
			continue
		}
		if f.Kind() == reflect.Float64 && (math.IsNaN(f.Float()) || math.IsInf(f.Float(), 0)) {
			m.add(tag, strconv.FormatFloat(f.Float(), 'g', -1, 64)) // a string: fails as "must be a number"
			continue
		}
		m.add(tag, f.Interface())
	}
	return m.n
}

package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Key is a stable hex hash of the trial's canonical JSON (Spec.JSON): the
// same configuration always gives the same key, whatever the trial's index
// or name, so a run can be found again to resume it.
func (t Trial) Key() string {
	sum := sha256.Sum256(t.Spec.JSON())
	return hex.EncodeToString(sum[:16])
}

// axis is a sweep axis ready to expand: one YAML node per value.
type axis struct {
	key    string
	line   int
	nodes  []*yaml.Node
	values []any
	layers int // a placement: also set model.layers
	lead   int // for the second and later keys of a joint axis, the index of its first key's axis; else -1
}

// axes prepares the sweep for expansion, checking axes built in Go as
// strictly as decoded ones.
func (s *Spec) axes() ([]axis, error) {
	var out []axis
	placed := false
	for _, ax := range s.Sweep {
		if ax.Joint != nil {
			as, err := s.jointAxes(ax, len(out))
			if err != nil {
				return nil, err
			}
			for _, a := range as {
				if err := s.distinct(out, a, ax, placed); err != nil {
					return nil, err
				}
				out = append(out, a)
			}
			continue
		}
		if err := checkKey(s.file, ax.Line, ax.Key); err != nil {
			return nil, err
		}
		a := axis{key: ax.Key, line: ax.Line, lead: -1}
		if ax.Place != nil {
			if ax.Key != "model.mixer" {
				return nil, &SpecError{File: s.file, Line: ax.Line, Field: "sweep." + ax.Key, Problem: "only model.mixer takes a placement"}
			}
			mixes, err := placements(s.file, ax.Line, ax.Key, ax.Place)
			if err != nil {
				return nil, err
			}
			for _, m := range mixes {
				a.nodes = append(a.nodes, valueNode(m))
				a.values = append(a.values, m)
			}
			a.layers = ax.Place.Layers
			placed = true
		} else {
			if len(ax.Values) == 0 {
				return nil, &SpecError{File: s.file, Line: ax.Line, Field: "sweep." + ax.Key, Value: "[]", Problem: "must list at least one value"}
			}
			a.values = ax.Values
			a.nodes = ax.nodes
			if len(a.nodes) != len(a.values) {
				a.nodes = make([]*yaml.Node, len(ax.Values))
				for j, v := range ax.Values {
					a.nodes[j] = valueNode(v)
				}
			}
		}
		if err := s.distinct(out, a, ax, placed && a.layers == 0); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// distinct refuses an axis a whose key an earlier axis already sets.
func (s *Spec) distinct(out []axis, a axis, ax SweepAxis, placed bool) error {
	for _, b := range out {
		if b.key == a.key || placed && a.key == "model.layers" || a.layers > 0 && b.key == "model.layers" || b.layers > 0 && a.key == "model.layers" {
			return &SpecError{File: s.file, Line: ax.Line, Field: "sweep." + ax.Key, Value: a.key, Problem: "is swept twice (model.layers is set by a placement)"}
		}
	}
	return nil
}

// jointAxes splits a joint axis into one axis per key, the later ones led
// by the first (they take its index in the grid); first is the index the
// first will have.
func (s *Spec) jointAxes(ax SweepAxis, first int) ([]axis, error) {
	path := "sweep." + ax.Key
	if len(ax.Values) == 0 {
		return nil, &SpecError{File: s.file, Line: ax.Line, Field: path, Value: "[]", Problem: "must list at least one row"}
	}
	out := make([]axis, len(ax.Joint))
	for j, k := range ax.Joint {
		if err := checkKey(s.file, ax.Line, k); err != nil {
			return nil, err
		}
		out[j] = axis{key: k, line: ax.Line, lead: -1}
		if j > 0 {
			out[j].lead = first
		}
	}
	for r, v := range ax.Values {
		row, ok := v.(map[string]any)
		if !ok || len(row) != len(ax.Joint) {
			return nil, &SpecError{File: s.file, Line: ax.Line, Field: fmt.Sprintf("%s[%d]", path, r), Value: fmtValue(v),
				Problem: "must set exactly the axis's keys", Allowed: strings.Join(ax.Joint, ", ")}
		}
		var rowNode *yaml.Node
		if r < len(ax.nodes) {
			rowNode = ax.nodes[r]
		}
		for j, k := range ax.Joint {
			val, ok := row[k]
			if !ok {
				return nil, &SpecError{File: s.file, Line: ax.Line, Field: fmt.Sprintf("%s[%d]", path, r), Problem: "does not set " + k,
					Allowed: "every row sets " + strings.Join(ax.Joint, ", ")}
			}
			n := valueNode(val)
			if rowNode != nil {
				for i := 0; i+1 < len(rowNode.Content); i += 2 {
					if rowNode.Content[i].Value == k {
						n = rowNode.Content[i+1]
					}
				}
			}
			out[j].nodes = append(out[j].nodes, n)
			out[j].values = append(out[j].values, val)
		}
	}
	return out, nil
}

// Expand returns the trials of the sweep grid: every combination of the
// axes' values, the first axis varying slowest and the last fastest, in the
// order the keys are written; one trial named "base" when there is no sweep.
//
// Each trial is made the way the file would be read had its values been
// written into it: the spec is turned back into a YAML tree, each swept key
// is set in the tree, and the tree is decoded, defaulted and validated with
// the same strict rules as Load. So an unknown key (model.mixr) or a value of
// the wrong type is a *SpecError naming sweep.model.mixr. A key under task.
// that is not a field sets a task parameter.
//
// The spec's current field values are used, so a caller may change them
// after Load. Defaults that Load derived from other fields (train.eval_every
// from train.steps, eval set names and sizes, the default eval set) are
// derived again per trial unless the caller changed them. In a spec built in
// Go rather than loaded, a field left at a zero value that is not valid for
// it (heads, layers, batch, lr, channel, eval set name, ...) takes its
// default; zero values that are valid (seed, weight_decay, clip, warmup,
// beta1, beta2, eval_every) are kept.
func (s *Spec) Expand() ([]Trial, error) {
	axes, err := s.axes()
	if err != nil {
		return nil, err
	}
	total := 1
	for _, a := range axes {
		if a.lead >= 0 {
			continue
		}
		if total *= len(a.nodes); total > MaxTrials {
			return nil, &SpecError{File: s.file, Field: "sweep", Problem: fmt.Sprintf("the grid has more than %d trials", MaxTrials),
				Allowed: "fewer values or fewer axes (or several spec files)"}
		}
	}
	labels := axisLabels(axes)
	base := s.encode()
	var swept []string
	for _, a := range axes {
		swept = append(swept, a.key)
		if a.layers > 0 {
			swept = append(swept, "model.layers")
		}
	}
	trials := make([]Trial, 0, total)
	byKey := map[string]int{}
	idx := make([]int, len(axes))
	for t := range total {
		root := cloneNode(base)
		var ovs []Override
		var names []string
		for i, a := range axes {
			if a.lead >= 0 {
				idx[i] = idx[a.lead]
			}
			setKey(root, a.key, cloneNode(a.nodes[idx[i]]), a.line)
			ovs = append(ovs, Override{Key: a.key, Value: a.values[idx[i]]})
			names = append(names, labels[i]+"="+quoteName(fmtValue(a.values[idx[i]])))
			if a.layers > 0 {
				setKey(root, "model.layers", valueNode(a.layers), a.line)
				ovs = append(ovs, Override{Key: "model.layers", Value: a.layers})
			}
		}
		d := newDecoder(s.file)
		d.swept, d.trial = swept, strings.Join(names, ",")
		ts, err := d.spec(root, false)
		if err == nil {
			// The trial's tree is rebuilt from the spec, so its nodes may
			// carry no line: the file's lines fill in.
			ts.lines = maps.Clone(s.lines)
			if ts.lines == nil {
				ts.lines = map[string]int{}
			}
			for k, l := range d.lines {
				if l > 0 {
					ts.lines[k] = l
				}
			}
			err = d.finalize(ts)
		}
		if err != nil {
			return nil, err
		}
		name := "base"
		if len(axes) > 0 {
			for i, a := range axes {
				if a.key == "model.mixer" {
					names[i] = labels[i] + "=" + quoteName(ts.Model.Mixer)
				}
			}
			name = strings.Join(names, ",")
		}
		trial := Trial{Index: t, Name: name, Overrides: ovs, Spec: *ts}
		k := trial.Key()
		if j, dup := byKey[k]; dup {
			return nil, &SpecError{File: s.file, Field: "sweep", Problem: fmt.Sprintf("trials %d (%s) and %d (%s) are the same configuration", j, trials[j].Name, t, name),
				Allowed: "distinct values on every axis"}
		}
		byKey[k] = t
		trials = append(trials, trial)
		for i := len(idx) - 1; i >= 0; i-- {
			if axes[i].lead >= 0 {
				continue
			}
			if idx[i]++; idx[i] < len(axes[i].nodes) {
				break
			}
			idx[i] = 0
		}
	}
	return trials, nil
}

// axisLabels names each axis in trial names by its key's last element, or
// by the whole key where two axes would share a label.
func axisLabels(axes []axis) []string {
	last := func(k string) string { return k[strings.LastIndex(k, ".")+1:] }
	count := map[string]int{}
	for _, a := range axes {
		count[last(a.key)]++
	}
	out := make([]string, len(axes))
	for i, a := range axes {
		out[i] = last(a.key)
		if count[out[i]] > 1 {
			out[i] = a.key
		}
	}
	return out
}

// fmtValue writes a swept value for a trial name.
func fmtValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// quoteName quotes a value that would make a trial name ambiguous.
func quoteName(s string) string {
	if s == "" || strings.ContainsAny(s, ", \t\n\"") {
		return strconv.Quote(s)
	}
	return s
}

// cloneNode deep-copies a YAML tree; alias nodes are copied as they are
// (their targets shared), since following them may never end.
func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	if n.Kind == yaml.AliasNode {
		return &c
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = cloneNode(x)
	}
	return &c
}

// setKey sets the dotted key in the mapping tree root to v, creating (or
// replacing with) mappings on the way. New key nodes get the given line.
func setKey(root *yaml.Node, key string, v *yaml.Node, line int) {
	m := root
	parts := strings.Split(key, ".")
	for i, part := range parts {
		var slot **yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == part {
				slot = &m.Content[j+1]
			}
		}
		if slot == nil {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part, Line: line}, nil)
			slot = &m.Content[len(m.Content)-1]
		}
		if i == len(parts)-1 {
			*slot = v
			return
		}
		if *slot == nil || (*slot).Kind != yaml.MappingNode {
			*slot = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
		}
		m = *slot
	}
}

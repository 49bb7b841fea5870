package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"lab/hybrid"
)

// MaxTrials bounds the size of a sweep grid.
const MaxTrials = 10000

// SweepAxis is one swept key: a dotted field (model.mixer, train.lr,
// task.seq_len, seed) and either its list of values or, for model.mixer
// only, a placement. A joint axis moves several keys together: Key is its
// label, Joint lists the dotted keys, and each value is a map from those
// keys to their values in that row, e.g. the rows {task.seq_len: 64,
// task.kv_pairs: 4, train.batch: 512} and {task.seq_len: 128, ...}.
type SweepAxis struct {
	Key    string     `yaml:"key" json:"key"`
	Values []any      `yaml:"values,omitempty" json:"values,omitempty"` // as decoded from YAML: int, float64, string, bool, ...; map[string]any rows for a joint axis
	Place  *Placement `yaml:"place,omitempty" json:"place,omitempty"`   // set instead of Values: every placement (see hybrid.Placements)
	Joint  []string   `yaml:"joint,omitempty" json:"joint,omitempty"`   // the keys of a joint axis, in order
	Line   int        `yaml:"-" json:"-"`                               // line of the key in the file; 0 when unknown

	nodes []*yaml.Node // the values as written, decoded strictly per trial
}

// Placement is the alternative form of a model.mixer axis: every way to put
// K layers of Place among Layers layers of Among. It also sets model.layers
// to Layers.
type Placement struct {
	Place  string `yaml:"place" json:"place"`
	Among  string `yaml:"among" json:"among"`
	K      int    `yaml:"k" json:"k"`
	Layers int    `yaml:"layers" json:"layers"`
}

// Override is one field a trial sets: a sweep key and the value it takes.
type Override struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Trial is one point of a sweep grid.
type Trial struct {
	Index int `json:"index"` // position in the grid, from 0
	// Name is key=value for each axis, by the key's last element (the whole
	// key where two axes share one), joined by commas, e.g.
	// "mixer=softmax,lr=0.003"; a value holding a comma or a space is
	// quoted. "base" when the spec has no sweep.
	Name      string     `json:"name"`
	Overrides []Override `json:"overrides"` // the fields the sweep set, in axis order
	Spec      Spec       `json:"spec"`      // the full trial: defaults applied, validated, no sweep
}

// Key is a stable hex hash of the trial's canonical JSON (Spec.JSON): the
// same configuration always gives the same key, whatever the trial's index
// or name, so a run can be found again to resume it.
func (t Trial) Key() string {
	sum := sha256.Sum256(t.Spec.JSON())
	return hex.EncodeToString(sum[:16])
}

var (
	keyRE   = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)
	labelRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// top is the spec's top-level keys: not labels of joint axes.
var top = []string{"name", "seed", "task", "eval", "model", "train", "sweep"}

// isJoint reports whether a sweep value is a list of mappings: a joint axis.
func isJoint(v *yaml.Node) bool {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return false
	}
	for _, x := range v.Content {
		if resolve(x).Kind != yaml.MappingNode {
			return false
		}
	}
	return true
}

// joint decodes a joint axis: a list of mappings from dotted keys to
// values, every row with the same keys.
func (d *decoder) joint(label string, line int, v *yaml.Node) (SweepAxis, error) {
	path := "sweep." + label
	ax := SweepAxis{Key: label, Line: line}
	if !labelRE.MatchString(label) {
		return ax, d.fail(path, line, "", "a list of mappings moves several keys together and needs a label as its key",
			"a label such as setting (letters, digits, _), then rows of {dotted.key: value, ...}")
	}
	for r, x := range v.Content {
		pairs, err := d.pairs(resolve(x), fmt.Sprintf("%s[%d]", path, r), "a mapping of dotted keys to values")
		if err != nil {
			return ax, err
		}
		row := map[string]any{}
		var keys []string
		for _, kv := range pairs {
			k := kv[0].Value
			if err := checkKey(d.file, kv[0].Line, k); err != nil {
				return ax, err
			}
			var val any
			if err := kv[1].Decode(&val); err != nil {
				return ax, d.fail(path+"."+k, kv[1].Line, show(kv[1]), "cannot be decoded: "+err.Error(), "")
			}
			row[k] = val
			keys = append(keys, k)
		}
		if r == 0 {
			ax.Joint = keys
		} else if !sameKeys(ax.Joint, keys) {
			return ax, d.fail(fmt.Sprintf("%s[%d]", path, r), x.Line, show(x), "sets other keys than the first row",
				"every row sets "+strings.Join(ax.Joint, ", "))
		}
		ax.Values = append(ax.Values, row)
		ax.nodes = append(ax.nodes, resolve(x))
	}
	if len(ax.Joint) == 0 {
		return ax, d.fail(path, line, "", "its rows set no keys", "rows of {dotted.key: value, ...}")
	}
	return ax, nil
}

func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, k := range a {
		set[k] = true
	}
	for _, k := range b {
		if !set[k] {
			return false
		}
	}
	return true
}

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

// sweep decodes the sweep mapping: key → list of values, or model.mixer →
// {place, among, k, layers}.
func (d *decoder) sweep(n *yaml.Node) ([]SweepAxis, error) {
	pairs, err := d.pairs(n, "sweep", "a mapping of dotted keys to lists of values")
	if err != nil {
		return nil, err
	}
	var axes []SweepAxis
	placed, layersKey := 0, 0
	for _, kv := range pairs {
		key, line := kv[0].Value, kv[0].Line
		if isJoint(resolve(kv[1])) && !strings.Contains(key, ".") && !slices.Contains(top, key) {
			ax, err := d.joint(key, line, resolve(kv[1]))
			if err != nil {
				return nil, err
			}
			if slices.Contains(ax.Joint, "model.layers") {
				layersKey = line
			}
			axes = append(axes, ax)
			continue
		}
		if err := checkKey(d.file, line, key); err != nil {
			return nil, err
		}
		ax := SweepAxis{Key: key, Line: line}
		path := "sweep." + key
		switch v := resolve(kv[1]); v.Kind {
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				return nil, d.fail(path, v.Line, "[]", "must list at least one value", "")
			}
			for _, x := range v.Content {
				var val any
				if err := x.Decode(&val); err != nil {
					return nil, d.fail(path, x.Line, show(x), "cannot be decoded: "+err.Error(), "")
				}
				ax.Values = append(ax.Values, val)
				ax.nodes = append(ax.nodes, x)
			}
		case yaml.MappingNode:
			if key != "model.mixer" {
				return nil, d.fail(path, v.Line, show(v), "must be a list of values", "")
			}
			p := &Placement{}
			if err := d.fields(v, path, p); err != nil {
				return nil, err
			}
			for _, f := range []string{"place", "among", "k", "layers"} {
				if _, ok := d.lines[path+"."+f]; !ok {
					return nil, d.fail(path+"."+f, v.Line, "", "required", "")
				}
			}
			if _, err := placements(d.file, line, key, p); err != nil {
				return nil, err
			}
			ax.Place = p
			placed = line
		default:
			allowed := "a list of values"
			if key == "model.mixer" {
				allowed += ", or {place, among, k, layers}"
			}
			return nil, d.fail(path, v.Line, show(v), "", allowed)
		}
		if key == "model.layers" {
			layersKey = line
		}
		axes = append(axes, ax)
	}
	if placed > 0 && layersKey > 0 {
		return nil, d.fail("sweep.model.layers", layersKey, "", "cannot be swept beside a placement of model.mixer, which sets model.layers", "")
	}
	return axes, nil
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

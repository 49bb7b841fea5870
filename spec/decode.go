package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the spec file at path (see Parse). A
// file that cannot be read is a *SpecError naming the path.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		why := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			why = pe.Err.Error()
		}
		return nil, &SpecError{File: path, Problem: "cannot read the spec: " + why}
	}
	return Parse(data, path)
}

// Parse decodes a spec from YAML; name (usually the file name) starts every
// error message. Decoding is strict: an unknown field, a duplicate key or a
// value of the wrong type is an error naming the dotted field and its line.
// Parse then fills defaults, validates every field, parses model.mixer with
// package hybrid (storing its canonical form and the broadcast Stack) and
// expands the sweep once so that every trial is validated too. Fields that
// the sweep sets are validated per trial, not in the base spec. All errors
// are *SpecError values.
func Parse(data []byte, name string) (*Spec, error) {
	root, err := parseYAML(data, name)
	if err != nil {
		return nil, err
	}
	d := newDecoder(name)
	s, err := d.spec(root, true)
	if err != nil {
		return nil, err
	}
	s.lines = d.lines
	d.base, d.swept = true, sweptKeys(s.Sweep)
	if err := d.finalize(s); err != nil {
		return nil, err
	}
	if _, err := s.Expand(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseYAML reads exactly one YAML document and returns its top node.
func parseYAML(data []byte, name string) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &SpecError{File: name, Problem: fmt.Sprintf("not valid YAML: %v", r)}
		}
	}()
	bad := func(err error) error {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return &SpecError{File: name, Problem: "not valid YAML: " + strings.ReplaceAll(msg, "\n", "; ")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, bad(err)
	}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: name, Problem: "the spec is empty", Allowed: "a mapping with name, task, model and train"}
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, bad(err)
	default:
		return nil, &SpecError{File: name, Line: more.Line, Problem: "holds more than one YAML document", Allowed: "one spec per file"}
	}
	return doc.Content[0], nil
}

// decoder turns YAML nodes into a Spec with errors that name dotted fields.
type decoder struct {
	file  string
	lines map[string]int // every path present in the input → its line
	// swept lists the keys whose values come from the sweep. In the base
	// spec (base true) their validation is left to the trials; in a trial,
	// errors on them are named sweep.KEY.
	swept []string
	base  bool
	trial string // the trial's name, for errors on fields not swept
}

func newDecoder(file string) *decoder { return &decoder{file: file, lines: map[string]int{}} }

// sweptKey returns the sweep key that path is, lies under or lies above.
func (d *decoder) sweptKey(path string) (string, bool) {
	for _, k := range d.swept {
		switch {
		case path == k, strings.HasPrefix(path, k+"."), strings.HasPrefix(path, k+"["):
			return path, true
		case strings.HasPrefix(k, path+"."):
			return k, true
		}
	}
	return "", false
}

// line is the line of path, or of its closest present parent.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// fail builds the error for path.
func (d *decoder) fail(path string, line int, value, problem, allowed string) error {
	e := &SpecError{File: d.file, Field: path, Value: value, Problem: problem, Allowed: allowed, Line: line}
	if k, ok := d.sweptKey(path); ok && !d.base {
		e.Field = "sweep." + k
	} else {
		e.Trial = d.trial
	}
	return e
}

// check returns the error for path unless ok, or unless, in the base spec,
// path or one of related is swept (the trials check it instead).
func (d *decoder) check(ok bool, path, value, problem, allowed string, related ...string) error {
	if ok {
		return nil
	}
	if d.base {
		for _, p := range append([]string{path}, related...) {
			if _, swept := d.sweptKey(p); swept {
				return nil
			}
		}
	}
	return d.fail(path, d.line(path), value, problem, allowed)
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// show renders a value node for an error message: scalars as written
// (strings quoted), collections in one-line flow style, shortened.
func show(n *yaml.Node) string {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!null":
			return "null"
		}
		return n.Value
	}
	c := flow(n)
	c.Anchor = ""
	b, err := yaml.Marshal(c)
	if err != nil {
		return "(a YAML " + n.ShortTag() + ")"
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}

// flow copies n with every collection in flow style and no comments.
// Aliases inside are written as *name, not followed (they may be cyclic).
func flow(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.FlowStyle, Value: "*" + n.Value}
	}
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if c.Kind == yaml.SequenceNode || c.Kind == yaml.MappingNode {
		c.Style = yaml.FlowStyle
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = flow(x)
	}
	return &c
}

// pairs returns the key/value nodes of the mapping at path (none for null),
// rejecting non-mappings, non-scalar keys and duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path, what string) ([][2]*yaml.Node, error) {
	n = resolve(n)
	d.lines[path] = n.Line
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.fail(path, n.Line, show(n), "must be "+what, "")
	}
	seen := map[string]int{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, d.fail(path, k.Line, show(k), "keys must be plain names", "")
		}
		if l, dup := seen[k.Value]; dup {
			return nil, d.fail(join(path, k.Value), k.Line, "", fmt.Sprintf("given twice (lines %d and %d)", l, k.Line), "")
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// unknown is the error for a key that names no field.
func (d *decoder) unknown(path string, line int, allowed []string) error {
	return d.fail(path, line, "", "unknown field", strings.Join(allowed, ", "))
}

// scalar checks that n is a non-null scalar and records the path's line.
func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, error) {
	n = resolve(n)
	d.lines[path] = n.Line
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return nil, d.fail(path, n.Line, show(n), "must be "+want, "")
	}
	return n, nil
}

// integral converts a float that holds an exact integer of int64's range.
// Every float of magnitude 2^53 or more is integral, so 1e18 and
// 1000000000000000000 are the same integer.
func integral(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// int decodes an integer written either way, 64 or 6.4e1 or 1e18: both
// spellings give the same value and meet the same bounds (a field's own
// range is checked in validate).
func (d *decoder) int(n *yaml.Node, path string) (int, error) {
	n, err := d.scalar(n, path, "an integer")
	if err != nil {
		return 0, err
	}
	t := n.ShortTag()
	var i int
	if t == "!!int" && n.Decode(&i) == nil {
		return i, nil
	}
	var f float64
	if (t == "!!int" || t == "!!float") && n.Decode(&f) == nil && f == math.Trunc(f) {
		if i, ok := integral(f); ok {
			return int(i), nil
		}
		return 0, d.fail(path, n.Line, show(n), "is out of range", "an integer of magnitude below 2^63, within the field's own bound")
	}
	return 0, d.fail(path, n.Line, show(n), "must be an integer", "")
}

func (d *decoder) uint(n *yaml.Node, path string) (uint64, error) {
	n, err := d.scalar(n, path, "a non-negative integer")
	if err != nil {
		return 0, err
	}
	switch n.ShortTag() {
	case "!!int":
		var u uint64
		if n.Decode(&u) == nil {
			return u, nil
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			if i, ok := integral(f); ok && i >= 0 {
				return uint64(i), nil
			}
		}
	}
	return 0, d.fail(path, n.Line, show(n), "must be a non-negative integer", "")
}

func (d *decoder) float(n *yaml.Node, path string) (float64, error) {
	n, err := d.scalar(n, path, "a number")
	if err != nil {
		return 0, err
	}
	var f float64
	if t := n.ShortTag(); (t == "!!int" || t == "!!float") && n.Decode(&f) == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, d.fail(path, n.Line, show(n), "must be a finite number", "")
		}
		return f, nil
	}
	return 0, d.fail(path, n.Line, show(n), "must be a number", "")
}

func (d *decoder) bool(n *yaml.Node, path string) (bool, error) {
	n, err := d.scalar(n, path, "true or false")
	if err != nil {
		return false, err
	}
	var b bool
	if n.ShortTag() == "!!bool" && n.Decode(&b) == nil {
		return b, nil
	}
	return false, d.fail(path, n.Line, show(n), "must be true or false", "")
}

func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	n, err := d.scalar(n, path, "a string")
	if err != nil {
		return "", err
	}
	return n.Value, nil
}

// spec decodes the top-level mapping over the defaults; the sweep is read
// only when withSweep (trials are decoded from trees without it).
func (d *decoder) spec(root *yaml.Node, withSweep bool) (*Spec, error) {
	s := defaultSpec()
	s.file = d.file
	pairs, err := d.pairs(root, "", "a mapping with name, task, model and train")
	if err != nil {
		return nil, err
	}
	for _, kv := range pairs {
		k, v := kv[0].Value, kv[1]
		switch k {
		case "name":
			s.Name, err = d.str(v, k)
		case "seed":
			s.Seed, err = d.uint(v, k)
		case "task":
			err = d.task(v, k, &s.Task)
		case "eval":
			s.Eval, err = d.evals(v, k)
		case "model":
			err = d.fields(v, k, &s.Model)
		case "train":
			err = d.fields(v, k, &s.Train)
		case "sweep":
			if withSweep {
				s.Sweep, err = d.sweep(v)
			} else {
				err = d.fail("sweep", kv[0].Line, "", "is not allowed inside a trial", "")
			}
		default:
			err = d.unknown(k, kv[0].Line, top)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// fields decodes a mapping into the struct ptr points to, whose fields are
// ints, float64s and strings named by their yaml tags.
func (d *decoder) fields(n *yaml.Node, path string, ptr any) error {
	rv := reflect.ValueOf(ptr).Elem()
	index := map[string]int{}
	var names []string
	for i := range rv.NumField() {
		tag, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			index[tag] = i
			names = append(names, tag)
		}
	}
	pairs, err := d.pairs(n, path, "a mapping of "+strings.Join(names, ", "))
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		p := join(path, kv[0].Value)
		i, ok := index[kv[0].Value]
		if !ok {
			return d.unknown(p, kv[0].Line, names)
		}
		switch f := rv.Field(i); f.Kind() {
		case reflect.Int:
			x, err := d.int(kv[1], p)
			if err != nil {
				return err
			}
			f.SetInt(int64(x))
		case reflect.Float64:
			x, err := d.float(kv[1], p)
			if err != nil {
				return err
			}
			f.SetFloat(x)
		case reflect.String:
			x, err := d.str(kv[1], p)
			if err != nil {
				return err
			}
			f.SetString(x)
		case reflect.Bool:
			x, err := d.bool(kv[1], p)
			if err != nil {
				return err
			}
			f.SetBool(x)
		default:
			panic("spec: field " + p + " has an unsupported type")
		}
	}
	return nil
}

// param decodes one numeric task parameter into params.
func (d *decoder) param(k, v *yaml.Node, path string, params map[string]float64) error {
	p := join(path, k.Value)
	if !paramRE.MatchString(k.Value) {
		return d.fail(p, k.Line, "", "is not a parameter name", "[a-z][a-z0-9_]* (see `lab tasks`)")
	}
	f, err := d.float(v, p)
	if err != nil {
		return err
	}
	params[k.Value] = f
	return nil
}

// task decodes the task mapping: name, train_examples and numeric params.
func (d *decoder) task(n *yaml.Node, path string, t *TaskSpec) error {
	pairs, err := d.pairs(n, path, "a mapping with name and the task's parameters")
	if err != nil {
		return err
	}
	if t.Params == nil {
		t.Params = map[string]float64{}
	}
	for _, kv := range pairs {
		switch k := kv[0].Value; k {
		case "name":
			t.Name, err = d.str(kv[1], join(path, k))
		case "train_examples":
			t.TrainExamples, err = d.int(kv[1], join(path, k))
		default:
			err = d.param(kv[0], kv[1], path, t.Params)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// evals decodes the list of eval sets; null means none given.
func (d *decoder) evals(n *yaml.Node, path string) ([]EvalSpec, error) {
	n = resolve(n)
	if isNull(n) {
		return nil, nil
	}
	d.lines[path] = n.Line
	if n.Kind != yaml.SequenceNode {
		return nil, d.fail(path, n.Line, show(n), "must be a list of sets such as {seq_len: 256, kv_pairs: 16}", "")
	}
	out := make([]EvalSpec, len(n.Content))
	for i, item := range n.Content {
		if err := d.evalSet(item, fmt.Sprintf("%s[%d]", path, i), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// evalSet decodes one eval set: name, examples and task parameter overrides.
func (d *decoder) evalSet(n *yaml.Node, path string, e *EvalSpec) error {
	pairs, err := d.pairs(n, path, "a mapping of task parameters, examples and name")
	if err != nil {
		return err
	}
	e.Params = map[string]float64{}
	for _, kv := range pairs {
		switch k := kv[0].Value; k {
		case "name":
			e.Name, err = d.str(kv[1], join(path, k))
		case "examples":
			e.Examples, err = d.int(kv[1], join(path, k))
		case "train_examples":
			err = d.fail(join(path, k), kv[0].Line, "", "belongs to task, not to an eval set", "examples, name and task parameters")
		default:
			err = d.param(kv[0], kv[1], path, e.Params)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

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

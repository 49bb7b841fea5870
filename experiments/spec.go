// Package experiments holds the experiment spec (a YAML file), its sweep
// expansion into trials and the training/eval runner. The shipped specs live
// beside the code as *.yaml.
//
// A spec names a training task, held-out eval sets, a model and an
// optimiser, and optionally a sweep: a grid over dotted keys whose every
// point is one trial. Load decodes a file strictly (an unknown field is an
// error naming it and its line), fills defaults and validates everything
// that can be checked without the task and mixer registries; Expand turns
// the spec into its trials.
package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"lab/architectures"
	"lab/hybrid"
)

// Spec is one experiment: a base trial and an optional sweep over it.
type Spec struct {
	Name  string      `yaml:"name" json:"name"`   // required, [A-Za-z0-9_.-]+
	Seed  uint64      `yaml:"seed" json:"seed"`   // default 1
	Task  TaskSpec    `yaml:"task" json:"task"`   // the training task
	Eval  []EvalSpec  `yaml:"eval" json:"eval"`   // held-out sets; default: one set equal to the training task
	Model ModelSpec   `yaml:"model" json:"model"` // the stack
	Train TrainSpec   `yaml:"train" json:"train"` // the optimisation
	Sweep []SweepAxis `yaml:"sweep,omitempty" json:"sweep,omitempty"`

	file  string         // the name errors start with
	lines map[string]int // dotted path → line in the file, for errors found after decoding
	// defaulted holds the defaults Parse derived from other fields (dotted
	// path → value), so that Expand derives them again from each trial's
	// fields unless the caller changed them.
	defaulted map[string]any
}

// TaskSpec names the training task. In YAML and JSON it is one flat
// mapping: name, train_examples, and every other key a numeric task
// parameter (validated later by package tasks).
type TaskSpec struct {
	Name          string             `yaml:"name" json:"name"`                     // required
	TrainExamples int                `yaml:"train_examples" json:"train_examples"` // size of the fixed training pool, default 20000
	Params        map[string]float64 `yaml:"-" json:"-"`                           // the task's parameters (seq_len, vocab, ...)
}

// EvalSpec is one held-out set: task parameter overrides on top of the
// training task's parameters, a size and a name. Like TaskSpec it is one
// flat mapping in YAML and JSON.
type EvalSpec struct {
	Name     string             `yaml:"name" json:"name"`         // default built from seq_len and kv_pairs, e.g. L64_kv8
	Examples int                `yaml:"examples" json:"examples"` // default train.eval_examples
	Params   map[string]float64 `yaml:"-" json:"-"`               // overrides of the task's parameters
}

// ModelSpec describes the stack.
type ModelSpec struct {
	DModel   int    `yaml:"d_model" json:"d_model"`     // required, > 0
	Heads    int    `yaml:"heads" json:"heads"`         // default 1, divides d_model
	Layers   int    `yaml:"layers" json:"layers"`       // default 2
	Mixer    string `yaml:"mixer" json:"mixer"`         // required; the layer-mix language of package hybrid, stored in canonical form
	Channel  string `yaml:"channel" json:"channel"`     // architectures.ChannelMixers; default mlp
	MLPRatio int    `yaml:"mlp_ratio" json:"mlp_ratio"` // default 4
	Norm     string `yaml:"norm" json:"norm"`           // layernorm | rmsnorm; default layernorm
	Position string `yaml:"position" json:"position"`   // learned | none; default learned
	Chunk    int    `yaml:"chunk" json:"chunk"`         // chunk size of chunked mixers; default 64
	// TieEmbeddings makes the LM head the token embedding; default false.
	TieEmbeddings bool `yaml:"tie_embeddings" json:"tie_embeddings,omitempty"`
	// EmbedDropout is a seeded dropout after the embeddings, in [0, 1);
	// default 0 (none).
	EmbedDropout float64 `yaml:"embed_dropout" json:"embed_dropout,omitempty"`

	// Stack is Mixer parsed and broadcast to Layers layers (set by Load,
	// Parse and Expand; not serialised).
	Stack hybrid.Stack `yaml:"-" json:"-"`
}

// TrainSpec is the optimisation.
type TrainSpec struct {
	Batch           int     `yaml:"batch" json:"batch"`                       // default 64
	Steps           int     `yaml:"steps" json:"steps"`                       // required unless epochs is given, > 0
	Epochs          float64 `yaml:"epochs" json:"epochs,omitempty"`           // passes over task.train_examples: steps = ceil(epochs·train_examples/batch); instead of steps
	LR              float64 `yaml:"lr" json:"lr"`                             // default 1e-3
	WeightDecay     float64 `yaml:"weight_decay" json:"weight_decay"`         // default 0.1
	Warmup          float64 `yaml:"warmup" json:"warmup"`                     // fraction of steps below 1, whole steps from 1; default 0.1
	Clip            float64 `yaml:"clip" json:"clip"`                         // gradient-norm clip, 0 = off; default 1
	Beta1           float64 `yaml:"beta1" json:"beta1"`                       // default 0.9
	Beta2           float64 `yaml:"beta2" json:"beta2"`                       // default 0.98
	EvalEvery       int     `yaml:"eval_every" json:"eval_every"`             // steps between evals, 0 = only at the end; default steps/10
	EvalExamples    int     `yaml:"eval_examples" json:"eval_examples"`       // default size of an eval set; default 1000
	CheckpointEvery int     `yaml:"checkpoint_every" json:"checkpoint_every"` // default steps/10
	Schedule        string  `yaml:"schedule" json:"schedule"`                 // cosine (to min_lr_ratio·lr) | constant; default cosine
	MinLRRatio      float64 `yaml:"min_lr_ratio" json:"min_lr_ratio"`         // where cosine ends, as a fraction of lr; default 0.1
	StopAt          float64 `yaml:"stop_at" json:"stop_at,omitempty"`         // stop once eval accuracy on stop_eval reaches this at an eval; 0 = off
	StopEval        string  `yaml:"stop_eval" json:"stop_eval,omitempty"`     // the eval set stop_at reads; default the first
}

// The enumerations and limits of a spec.
var (
	norms     = []string{"layernorm", "rmsnorm"}
	schedules = []string{"cosine", "constant"}
	positions = []string{"learned", "none"}
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	paramRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// defaultSpec is what a spec holds before its file is decoded over it.
func defaultSpec() *Spec {
	return &Spec{
		Seed:  1,
		Task:  TaskSpec{TrainExamples: 20000, Params: map[string]float64{}},
		Model: ModelSpec{Heads: 1, Layers: 2, Channel: "mlp", MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 64},
		Train: TrainSpec{Batch: 64, LR: 1e-3, WeightDecay: 0.1, Warmup: 0.1, Clip: 1, Beta1: 0.9, Beta2: 0.98, EvalExamples: 1000,
			Schedule: "cosine", MinLRRatio: 0.1},
	}
}

// SpecError is bad input in a spec. It prints as one line naming the file,
// the dotted field, the value and what is wrong or allowed, e.g.
//
//	quickstart.yaml: train.batch = -3: must be a positive integer (line 17)
//	zoo.yaml: model.channel = "gelu": allowed: mlp, glu, rwkv_cmix, none (line 12)
type SpecError struct {
	File    string // the spec file, or the name given to Parse; "" for none
	Trial   string // the trial being expanded, when the field is not itself swept
	Field   string // dotted field: train.batch, eval[1].name, sweep.model.mixr
	Value   string // the offending value as written (strings quoted); "" for none
	Problem string // what is wrong, e.g. "must be a positive integer"
	Allowed string // what is allowed instead, e.g. "mlp, glu, none"
	Line    int    // line in the file; 0 when unknown
}

// Error formats the error as one line.
func (e *SpecError) Error() string {
	var parts []string
	if e.File != "" {
		parts = append(parts, e.File)
	}
	if e.Trial != "" {
		parts = append(parts, "trial "+e.Trial)
	}
	head := e.Field
	if e.Value != "" {
		if head == "" {
			head = "the document" // the top level: a list or a scalar where the spec's mapping belongs
		}
		head += " = " + e.Value
	}
	if head != "" {
		parts = append(parts, head)
	}
	if e.Problem != "" {
		parts = append(parts, e.Problem)
	}
	msg := strings.Join(parts, ": ")
	if e.Allowed != "" {
		if e.Problem != "" {
			msg += "; allowed: " + e.Allowed
		} else {
			msg += ": allowed: " + e.Allowed
		}
	}
	if e.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", e.Line)
	}
	return strings.ReplaceAll(msg, "\n", " ")
}

// BadInput marks the error as the user's to fix (the CLI exits with status 2).
func (e *SpecError) BadInput() bool { return true }

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
			panic("experiments: field " + p + " has an unsupported type")
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
// price.go), steps past 2^31 (decades at a millisecond a step).
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
		d.check(slices.Contains(architectures.ChannelMixers, m.Channel), "model.channel", q(m.Channel), "", strings.Join(architectures.ChannelMixers, ", ")),
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

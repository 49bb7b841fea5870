// Package spec is the experiment spec of lab: its types, the strict YAML
// decoding, validation, the canonical JSON and YAML forms and the sweep
// expansion into trials. It is a leaf: it imports package hybrid (the
// layer-mix language) and the YAML library, not the trainer, the kernels,
// CUDA or the store, so any package that reads specs or run configs
// (advise, notebook, plot, the CLI) can import it cheaply.
//
// A spec names a training task, held-out eval sets, a model and an
// optimiser, and optionally a sweep: a grid over dotted keys whose every
// point is one trial. Load decodes a file strictly (an unknown field is an
// error naming it and its line), fills defaults and validates everything
// that can be checked without the task and mixer registries; Expand turns
// the spec into its trials. The files: types.go (this), decode.go (YAML to
// Spec), validate.go (defaults derived from other fields, the checks),
// marshal.go (canonical JSON, YAML and the tree a trial is decoded from),
// sweep.go (the grid and trial keys).
package spec

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

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

// File is the name the spec's errors start with: the path Load read or
// the name given to Parse ("" for a spec built in Go).
func (s Spec) File() string { return s.file }

// Line is the line of the dotted field path (task.kv_pairs, model.mixer,
// eval[1].seq_len) in the spec's file; 0 when the file does not write it.
// Packages that find an error in a field after decoding (a task parameter,
// a mixer argument) use it to name the line as the spec's own errors do.
func (s Spec) Line(path string) int { return s.lines[path] }

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
	Channel  string `yaml:"channel" json:"channel"`     // ChannelMixers; default mlp
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

// ChannelMixers names the channel mixers a spec may choose (model.channel).
// Package architectures builds them; experiments' TestChannelMixersAgree
// checks that its list, architectures.ChannelMixers, is this one, so the
// spec need not import the model code to validate the field.
var ChannelMixers = []string{"mlp", "glu", "rwkv_cmix", "identity", "none"}

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

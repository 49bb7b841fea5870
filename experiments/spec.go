// Package experiments trains and evaluates the trials of a spec (package
// spec): it prepares a trial's task data and model, trains it on the CPU or
// CUDA, evaluates it, checkpoints it and logs it to the store. The shipped
// specs live beside the code as *.yaml.
package experiments

import "lab/spec"

// The spec's types and readers, kept under their old names here so that
// callers written against experiments still build; new code imports
// package spec.
type (
	Spec      = spec.Spec
	TaskSpec  = spec.TaskSpec
	EvalSpec  = spec.EvalSpec
	ModelSpec = spec.ModelSpec
	TrainSpec = spec.TrainSpec
	SweepAxis = spec.SweepAxis
	Placement = spec.Placement
	Override  = spec.Override
	Trial     = spec.Trial
	SpecError = spec.SpecError
)

// MaxTrials bounds the size of a sweep grid (spec.MaxTrials).
const MaxTrials = spec.MaxTrials

// Load reads, decodes and validates a spec file (spec.Load).
func Load(path string) (*Spec, error) { return spec.Load(path) }

// Parse decodes and validates a spec from YAML (spec.Parse).
func Parse(data []byte, name string) (*Spec, error) { return spec.Parse(data, name) }

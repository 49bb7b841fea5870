// Package experiments trains and evaluates the trials of a spec (package
// spec): it prepares a trial's task data and model, trains it on the CPU or
// CUDA, evaluates it, checkpoints it and logs it to the store. The shipped
// specs live beside the code as *.yaml.
package experiments

import "lab/spec"

// The spec's names that the trainer's callers and tests use, kept here so
// that code written against experiments still builds; new code imports
// package spec.
type (
	Spec      = spec.Spec
	Trial     = spec.Trial
	SpecError = spec.SpecError
)

// Load reads, decodes and validates a spec file (spec.Load).
func Load(path string) (*Spec, error) { return spec.Load(path) }

// Parse decodes and validates a spec from YAML (spec.Parse).
func Parse(data []byte, name string) (*Spec, error) { return spec.Parse(data, name) }

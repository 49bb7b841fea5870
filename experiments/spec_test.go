package experiments

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lab/architectures"
	"lab/spec"
)

// isBadInput reports whether err is marked as the user's to fix.
func isBadInput(err error) bool {
	var b interface{ BadInput() bool }
	return errors.As(err, &b) && b.BadInput()
}

// base is a valid spec; the error cases edit one line of it.
const base = `name: quickstart
seed: 1
task:
  name: mqar
  vocab: 128
  seq_len: 64
  kv_pairs: 4
eval:
  - {seq_len: 64, kv_pairs: 4}
model:
  d_model: 64
  heads: 2
  layers: 2
  mixer: softmax
  channel: mlp
train:
  batch: 64
  steps: 100
  lr: 1.0e-3
`

// edit replaces the line starting with old (after indentation) by repl, or
// appends repl when old is "".
func edit(t *testing.T, old, repl string) string {
	t.Helper()
	if old == "" {
		return base + repl
	}
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), old) {
			ind := l[:len(l)-len(strings.TrimLeft(l, " "))]
			if repl == "" {
				lines = append(lines[:i], lines[i+1:]...)
			} else {
				lines[i] = ind + strings.ReplaceAll(repl, "\n", "\n"+ind)
			}
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no line %q in the base spec", old)
	return ""
}

// checkErr asserts that err is one line of bad input, starting with the
// file name and holding every want.
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	if !isBadInput(err) {
		t.Errorf("%q is not marked as bad input", msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q is not one line", msg)
	}
	var se *SpecError
	if !errors.As(err, &se) {
		t.Errorf("%q: %T, want a *SpecError", msg, err)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q\n does not say %q", msg, w)
		}
	}
}

// Every shipped spec loads, expands, and every distinct mix in it builds
// (mixer arguments are checked when the model is built).
func TestShippedSpecsLoad(t *testing.T) {
	paths, _ := filepath.Glob("*.yaml")
	for _, dir := range []string{"suite", "suite-gpu"} {
		sub, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if len(sub) == 0 {
			t.Errorf("no specs in %s/", dir)
		}
		paths = append(paths, sub...)
	}
	for _, p := range append(paths, "../spec/testdata/minimal.yaml", "../spec/testdata/full.yaml", "../spec/testdata/grid.yaml", "../spec/testdata/placement.yaml") {
		s, err := Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		trials, err := s.Expand()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		seen := map[string]bool{}
		for _, tr := range trials {
			if m := tr.Spec.Model.Mixer; !seen[m] {
				seen[m] = true
				if _, err := Prepare(tr); err != nil {
					t.Errorf("%s: trial %d: %v", p, tr.Index, err)
				}
			}
		}
	}
}

// The spec validates model.channel against its own list so that it need
// not import the model code; the list must be the one architectures builds.
func TestChannelMixersAgree(t *testing.T) {
	if !slices.Equal(spec.ChannelMixers, architectures.ChannelMixers) {
		t.Errorf("spec.ChannelMixers %v, architectures.ChannelMixers %v", spec.ChannelMixers, architectures.ChannelMixers)
	}
}

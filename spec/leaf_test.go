package spec

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The spec is a leaf: besides the standard library it imports only the YAML
// library and lab/hybrid, never the trainer, the kernels, CUDA or the store.
func TestSpecIsALeaf(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	allowed := map[string]bool{"go.yaml.in/yaml/v3": true, "lab/hybrid": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			std := !strings.Contains(strings.Split(p, "/")[0], ".") && !strings.HasPrefix(p, "lab/")
			if !std && !allowed[p] {
				t.Errorf("%s imports %s: the spec imports only the standard library, yaml and lab/hybrid", f, p)
			}
		}
	}
}

// The packages that read specs or stored runs do not pull in the trainer or
// CUDA (issue 16): go list -deps of advise, notebook and plot names neither
// lab/experiments nor lab/kernels/cuda.
func TestReadersDoNotImportTheTrainer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	for _, pkg := range []string{"../advise", "../notebook", "../plot", "."} {
		out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "lab/experiments" || dep == "lab/kernels/cuda" || dep == "lab/bench" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// File and Line give packages that find errors after decoding the file and
// line of a field.
func TestFileAndLine(t *testing.T) {
	s, err := Parse([]byte(base), "q.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.File() != "q.yaml" {
		t.Errorf("File() = %q", s.File())
	}
	for path, want := range map[string]int{"task.kv_pairs": 7, "model.mixer": 14, "eval[0]": 9, "train.steps": 18, "model.norm": 0} {
		if got := s.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

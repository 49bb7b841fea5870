package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "c.safetensors")
	in := map[string]Tensor{
		"w":     {Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, 0, 1e-30, -7}},
		"order": {Shape: []int{4}, I32: []int32{3, 1, 0, 2}},
	}
	if err := Save(p, in, map[string]string{"step": "12"}); err != nil {
		t.Fatal(err)
	}
	out, meta, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta["step"] != "12" || len(out) != 2 {
		t.Fatalf("meta %v, %d tensors", meta, len(out))
	}
	for i, v := range in["w"].F32 {
		if out["w"].F32[i] != v {
			t.Fatalf("w[%d] = %v", i, out["w"].F32[i])
		}
	}
	for i, v := range in["order"].I32 {
		if out["order"].I32[i] != v {
			t.Fatalf("order[%d] = %v", i, out["order"].I32[i])
		}
	}
	// The header is the format's: 8-byte length, JSON with dtype/shape/offsets.
	b, _ := os.ReadFile(p)
	n := binary.LittleEndian.Uint64(b)
	var h map[string]map[string]any
	json.Unmarshal(b[8:8+n], &h)
	if h["w"]["dtype"] != "F32" || h["order"]["dtype"] != "I32" {
		t.Fatalf("header %v", h)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("not a checkpoint"), 0o644)
	if _, _, err := Load(p); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	if err := Save(p, map[string]Tensor{"a": {Shape: []int{3}, F32: []float32{1}}}, nil); err == nil {
		t.Fatal("shape mismatch accepted")
	}
}

// failAfter passes n bytes through, then fails as a full disk does.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		k, _ := f.w.Write(b[:f.n])
		f.n = 0
		return k, syscall.ENOSPC
	}
	f.n -= len(b)
	return f.w.Write(b)
}

// A write error part-way through a save (a full disk) returns the cause,
// leaves the previous checkpoint intact and no temporary file behind.
func TestSaveWriteErrorKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.safetensors")
	old := map[string]Tensor{"w": {Shape: []int{3}, F32: []float32{1, 2, 3}}}
	if err := Save(p, old, map[string]string{"step": "5"}); err != nil {
		t.Fatal(err)
	}
	restore := SetWriteHook(func(w io.Writer) io.Writer { return &failAfter{w: w, n: 20} })
	big := map[string]Tensor{"w": {Shape: []int{1 << 16}, F32: make([]float32, 1<<16)}}
	err := Save(p, big, map[string]string{"step": "10"})
	restore()
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want the path and 'no space left on device'", err)
	}
	out, meta, err := Load(p)
	if err != nil || meta["step"] != "5" || len(out["w"].F32) != 3 || out["w"].F32[2] != 3 {
		t.Fatalf("previous checkpoint not intact: %v %v %v", meta, out, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d files in the directory, want only the checkpoint", len(ents))
	}
}

// A save killed mid-write leaves its temporary file beside the previous
// checkpoint, which still loads; the next save of that checkpoint removes
// the leftover and leaves other checkpoints' files alone.
func TestKilledSaveLeftoverRemoved(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run[1].safetensors")
	in := map[string]Tensor{"w": {Shape: []int{1}, F32: []float32{1}}}
	if err := Save(p, in, nil); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".run[1].safetensors.tmp-123")
	other := filepath.Join(dir, ".other.safetensors.tmp-9")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("half a checkpoint"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Load(p); err != nil {
		t.Fatalf("previous checkpoint after a killed save: %v", err)
	}
	if err := Save(p, in, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("the killed save's temporary file is still there")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another checkpoint's temporary file was removed: %v", err)
	}
}

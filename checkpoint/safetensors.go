// Package checkpoint saves and loads named tensors in the safetensors format
// (an 8-byte little-endian header length, a JSON header of names, dtypes,
// shapes and byte offsets, then the raw little-endian data), so PyTorch users
// can load lab's weights with safetensors.torch.load_file.
package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Tensor is one named array: F32 data or I32 data, row-major.
type Tensor struct {
	Shape []int
	F32   []float32
	I32   []int32
}

type entry struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// writeHook, when set, wraps the writer Save writes the temporary file
// through: tests inject a failing writer (a full disk) with SetWriteHook.
var writeHook func(io.Writer) io.Writer

// SetWriteHook makes Save write through f(file) and returns a function that
// restores the previous hook. It is a test seam: f can fail part-way, as a
// full disk does.
func SetWriteHook(f func(io.Writer) io.Writer) (restore func()) {
	old := writeHook
	writeHook = f
	return func() { writeHook = old }
}

// Save writes tensors and string metadata to path atomically: a temporary
// file in the same directory is written, fsynced and renamed over path, and
// the directory is fsynced. A write error (a full disk) or a kill during the
// write leaves the previous file at path intact.
func Save(path string, tensors map[string]Tensor, meta map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	off := 0
	for _, n := range names {
		t := tensors[n]
		e := entry{DType: "F32", Shape: t.Shape}
		size := 4 * len(t.F32)
		if t.I32 != nil {
			e.DType, size = "I32", 4*len(t.I32)
		}
		if count(t.Shape)*4 != size {
			return fmt.Errorf("checkpoint: tensor %s: shape %v does not match %d bytes", n, t.Shape, size)
		}
		e.Offsets = [2]int{off, off + size}
		off += size
		header[n] = e
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 { // align the data as the format recommends
		hj = append(hj, ' ')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// A save killed mid-write leaves its temporary file; the next save of
	// the same checkpoint (one writer per path) removes it.
	prefix := "." + filepath.Base(path) + ".tmp-"
	if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(prefix)+"*")); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), prefix+"*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	var out io.Writer = tmp
	if writeHook != nil {
		out = writeHook(tmp)
	}
	w := bufio.NewWriterSize(out, 1<<16)
	binary.Write(w, binary.LittleEndian, uint64(len(hj)))
	w.Write(hj)
	var b [4]byte
	for _, n := range names {
		t := tensors[n]
		for _, v := range t.F32 {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			w.Write(b[:])
		}
		for _, v := range t.I32 {
			binary.LittleEndian.PutUint32(b[:], uint32(v))
			w.Write(b[:])
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[\\`, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// syncDir fsyncs a directory so a rename in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", dir, err)
	}
	return nil
}

// fits reports whether e's offsets lie in order within data of n bytes
// and span exactly its shape's values, 4 bytes each; a negative dimension
// or a shape whose count overflows does not fit.
func (e entry) fits(n int) bool {
	lo, hi := e.Offsets[0], e.Offsets[1]
	if lo < 0 || hi < lo || hi > n {
		return false
	}
	c := 1
	for _, d := range e.Shape {
		if d < 0 || d > 0 && c > (hi-lo)/4/d {
			return false
		}
		c *= d
	}
	return hi-lo == 4*c
}

func count(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Load reads a safetensors file written by Save (F32 and I32 tensors).
func Load(path string) (map[string]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return read(bufio.NewReader(f), st.Size(), path)
}

// read decodes a safetensors file of size bytes from r; path names it in
// errors.
func read(r io.Reader, size int64, path string) (map[string]Tensor, map[string]string, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 1<<28 {
		return nil, nil, fmt.Errorf("checkpoint %s: not a safetensors file", path)
	}
	if int64(n) > size-8 { // before allocating n bytes for it
		return nil, nil, fmt.Errorf("checkpoint %s: truncated header", path)
	}
	hj := make([]byte, n)
	if _, err := io.ReadFull(r, hj); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: truncated header", path)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hj, &raw); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: bad header: %v", path, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	meta := map[string]string{}
	out := map[string]Tensor{}
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("checkpoint %s: bad metadata", path)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(v, &e); err != nil || !e.fits(len(data)) {
			return nil, nil, fmt.Errorf("checkpoint %s: bad entry %q", path, name)
		}
		b := data[e.Offsets[0]:e.Offsets[1]]
		t := Tensor{Shape: e.Shape}
		switch e.DType {
		case "F32":
			t.F32 = make([]float32, len(b)/4)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case "I32":
			t.I32 = make([]int32, len(b)/4)
			for i := range t.I32 {
				t.I32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
			}
		default:
			return nil, nil, fmt.Errorf("checkpoint %s: %q has dtype %q: only F32 and I32 are read", path, name, e.DType)
		}
		out[name] = t
	}
	return out, meta, nil
}

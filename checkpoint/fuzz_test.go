package checkpoint

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// header builds a safetensors file: the 8-byte length, the JSON header,
// then data.
func header(h string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(b, h...), data...)
}

// FuzzLoad feeds any bytes to Load's reader as a checkpoint file: no panic, every
// error one line, and every tensor it returns holds exactly as many values
// as its shape says, with no negative dimension.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := Save(good, map[string]Tensor{
		"w":     {Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, 0, 1e-30, -7}},
		"order": {Shape: []int{4}, I32: []int32{3, 1, 0, 2}},
		"s":     {Shape: []int{}, F32: []float32{5}},
	}, map[string]string{"step": "12"}); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add(b[:12])
	f.Add([]byte{})
	f.Add([]byte("not a checkpoint"))
	f.Add(header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(header(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(header(`{"__metadata__":{"step":1}}`, nil))
	f.Add(header(`{"a\nb":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<27))
	f.Add(header(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[4,0]}}`, make([]byte, 4)))
	f.Add(header(`{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(header(`{"a":{"dtype":"I32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := read(bytes.NewReader(data), int64(len(data)), "c.safetensors")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		for name, x := range ts {
			n := 1
			for _, d := range x.Shape {
				if d < 0 {
					t.Fatalf("%q: shape %v", name, x.Shape)
				}
				n *= d
			}
			if len(x.F32)+len(x.I32) != n || x.F32 != nil && x.I32 != nil {
				t.Fatalf("%q: shape %v with %d F32 and %d I32 values", name, x.Shape, len(x.F32), len(x.I32))
			}
		}
	})
}

package cuda

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"lab/kernels"
)

//go:embed kernels/*.cu kernels/common.cuh
var sources embed.FS

// Sources returns the embedded kernel files (name -> text), each as NVRTC
// compiles it: kernels/common.cuh first, then the file.
func Sources() (map[string]string, error) {
	common, err := sources.ReadFile("kernels/common.cuh")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(sources, "kernels/*.cu")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := sources.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := path.Base(f)
		// #line keeps NVRTC's messages pointing into the file itself.
		out[name] = fmt.Sprintf("%s\n#line 1 %q\n%s", common, name, b)
	}
	return out, nil
}

// Kernels is lab's device kernels loaded on one device. Each method queues
// work on a stream and returns at once; sizes are checked against the
// buffers first, so a wrong size is an error, never an out-of-bounds write.
type Kernels struct {
	d   *Device
	fns map[string]*Function
	// Builds says, per source file, the target compiled for and whether it
	// came from the disk cache.
	Builds map[string]*Compiled
	mods   []*Module
	// rowMode forces the row kernels' variant (tests, timings): 0 chooses by
	// row length, 1 one warp per row, 2 one block per row; rowThreads, when
	// not 0, sets the block size of the block variant.
	rowMode, rowThreads int
}

// LoadKernels compiles (or reads from the cache) every embedded source for
// the device and loads the modules.
func (d *Device) LoadKernels() (*Kernels, error) {
	src, err := Sources()
	if err != nil {
		return nil, err
	}
	k := &Kernels{d: d, fns: map[string]*Function{}, Builds: map[string]*Compiled{}}
	names := make([]string, 0, len(src))
	for n := range src {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c, err := CompileSource(n, src[n], d.Info.Major, d.Info.Minor)
		if err != nil {
			k.Close()
			return nil, err
		}
		k.Builds[n] = c
		m, err := d.LoadModule(c.Image)
		if err != nil {
			k.Close()
			return nil, fmt.Errorf("%w (module %s, %s)", err, n, c.Target)
		}
		k.mods = append(k.mods, m)
		for _, fn := range kernelNames(src[n]) {
			f, err := m.Function(fn)
			if err != nil {
				k.Close()
				return nil, err
			}
			k.fns[fn] = f
		}
	}
	return k, nil
}

// kernelNames lists the extern "C" __global__ functions of a source.
func kernelNames(src string) []string {
	var out []string
	const tag = `extern "C" __global__ void `
	for rest := src; ; {
		i := strings.Index(rest, tag)
		if i < 0 {
			return out
		}
		rest = rest[i+len(tag):]
		if j := strings.IndexByte(rest, '('); j > 0 {
			out = append(out, strings.TrimSpace(rest[:j]))
		}
	}
}

// Function returns a loaded kernel by name.
func (k *Kernels) Function(name string) (*Function, error) {
	f, ok := k.fns[name]
	if !ok {
		return nil, fmt.Errorf("cuda: no kernel %q", name)
	}
	return f, nil
}

// Close unloads the modules.
func (k *Kernels) Close() error {
	var first error
	for _, m := range k.mods {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	k.mods = nil
	return first
}

const ewBlock = 256

// ewGrid sizes a grid-stride launch: enough blocks to fill every SM several
// times over, no more than the work needs.
func (k *Kernels) ewGrid(n int64) Dim3 {
	g := (n + ewBlock - 1) / ewBlock
	return Dim3{X: int(max(1, min(g, int64(16*max(1, k.d.Info.SMs)))))}
}

func fits(what string, b Buffer, n int) error {
	if int64(n)*4 > b.Bytes {
		return fmt.Errorf("cuda: %s holds %d elements, needs %d", what, b.Floats(), n)
	}
	return nil
}

// vec4 reports whether n elements of every buffer can be moved as float4.
func vec4(n int, bufs ...Buffer) bool {
	if n%4 != 0 {
		return false
	}
	for _, b := range bufs {
		if b.Ptr%16 != 0 {
			return false
		}
	}
	return true
}

// BinOp is an elementwise binary operation.
type BinOp int32

// The binary operations (the CPU twins are Graph.Add, Sub and Mul).
const (
	Add BinOp = iota
	Sub
	Mul
)

// Binary queues y = a op b over n elements.
func (k *Kernels) Binary(s *Stream, op BinOp, y, a, b Buffer, n int) error {
	for _, c := range []struct {
		w string
		b Buffer
	}{{"y", y}, {"a", a}, {"b", b}} {
		if err := fits("binary: "+c.w, c.b, n); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	if vec4(n, y, a, b) {
		return k.fns["ew_binary4"].Launch(s, k.ewGrid(int64(n/4)), Dim3{X: ewBlock}, 0, a, b, y, int64(n/4), int32(op))
	}
	return k.fns["ew_binary"].Launch(s, k.ewGrid(int64(n)), Dim3{X: ewBlock}, 0, a, b, y, int64(n), int32(op))
}

// Affine queues y = scale*x + shift over n elements (twin: Graph.Scale and
// Graph.AddScalar).
func (k *Kernels) Affine(s *Stream, y, x Buffer, n int, scale, shift float32) error {
	if err := errors.Join(fits("affine: y", y, n), fits("affine: x", x, n)); err != nil || n == 0 {
		return err
	}
	if vec4(n, y, x) {
		return k.fns["ew_affine4"].Launch(s, k.ewGrid(int64(n/4)), Dim3{X: ewBlock}, 0, x, y, int64(n/4), scale, shift)
	}
	return k.fns["ew_affine"].Launch(s, k.ewGrid(int64(n)), Dim3{X: ewBlock}, 0, x, y, int64(n), scale, shift)
}

// Act queues y = f(x) over n elements (twin: Graph.Act).
func (k *Kernels) Act(s *Stream, f kernels.Activation, y, x Buffer, n int) error {
	if err := errors.Join(fits("act: y", y, n), fits("act: x", x, n)); err != nil || n == 0 {
		return err
	}
	if vec4(n, y, x) {
		return k.fns["act_fwd4"].Launch(s, k.ewGrid(int64(n/4)), Dim3{X: ewBlock}, 0, x, y, int64(n/4), int32(f))
	}
	return k.fns["act_fwd"].Launch(s, k.ewGrid(int64(n)), Dim3{X: ewBlock}, 0, x, y, int64(n), int32(f))
}

// ActGrad queues dx = dy * f'(x) over n elements (twin: the gradient op
// that Graph.Grad adds for Graph.Act).
func (k *Kernels) ActGrad(s *Stream, f kernels.Activation, dx, x, dy Buffer, n int) error {
	if err := errors.Join(fits("act_grad: dx", dx, n), errors.Join(fits("act_grad: x", x, n), fits("act_grad: dy", dy, n))); err != nil || n == 0 {
		return err
	}
	return k.fns["act_grad"].Launch(s, k.ewGrid(int64(n)), Dim3{X: ewBlock}, 0, x, dy, dx, int64(n), int32(f))
}

// warpRowMax is the longest row given one warp; longer rows get a block.
// Measured on an H100 (NOTES.md, run 3): at 128 and 256 floats a warp per
// row ran at 81-94% of copy bandwidth against at most 42% for any block; at
// 512 and longer a block won.
const warpRowMax = 256

// blockThreads is the block size for one block per row: about 8 floats per
// thread, from 128 to 512 threads, which was the best measured size at 512,
// 1024, 2048 and 8192 floats (run 3: 77-96% of copy). Rows longer than 8192
// (a vocabulary) keep 1024 threads, measured at 32768 for cross-entropy.
func blockThreads(cols int) int {
	if cols > 8192 {
		return 1024
	}
	return min(512, max(128, (cols/8+31)/32*32))
}

// rowLaunch picks the row kernel variant and its launch shape for rows of
// length cols: one warp per row (8 rows a block) for short rows, else one
// block per row of blockThreads(cols) threads.
func (k *Kernels) rowLaunch(base string, rows, cols int) (*Function, Dim3, Dim3) {
	warp := cols <= warpRowMax
	if k.rowMode != 0 {
		warp = k.rowMode == 1
	}
	if warp {
		const perBlock = 8
		return k.fns[base+"_warp"], Dim3{X: (rows + perBlock - 1) / perBlock}, Dim3{X: 32 * perBlock}
	}
	t := blockThreads(cols)
	if k.rowThreads != 0 {
		t = k.rowThreads
	}
	return k.fns[base+"_block"], Dim3{X: rows}, Dim3{X: t}
}

// Softmax queues y = softmax(x) over the last dim of [rows, cols] (twin:
// Graph.Softmax; a row of -Inf becomes zeros).
func (k *Kernels) Softmax(s *Stream, y, x Buffer, rows, cols int) error {
	if err := errors.Join(fits("softmax: y", y, rows*cols), fits("softmax: x", x, rows*cols)); err != nil || rows*cols == 0 {
		return err
	}
	f, g, b := k.rowLaunch("softmax", rows, cols)
	return f.Launch(s, g, b, 0, x, y, int64(rows), int32(cols))
}

// Norm queues layer norm (rms false) or RMS norm (rms true) over the last
// dim of [rows, cols], times gain and plus bias where those are not the zero
// Buffer (twins: Graph.LayerNorm, Graph.RMSNorm, Graph.RMSNormalize).
func (k *Kernels) Norm(s *Stream, y, x, gain, bias Buffer, rows, cols int, eps float32, rms bool) error {
	n := rows * cols
	if err := errors.Join(fits("norm: y", y, n), fits("norm: x", x, n)); err != nil || n == 0 {
		return err
	}
	if gain.Ptr != 0 {
		if err := fits("norm: gain", gain, cols); err != nil {
			return err
		}
	}
	if bias.Ptr != 0 {
		if err := fits("norm: bias", bias, cols); err != nil {
			return err
		}
	}
	r := int32(0)
	if rms {
		r = 1
	}
	f, g, b := k.rowLaunch("norm", rows, cols)
	return f.Launch(s, g, b, 0, x, gain, bias, y, int64(rows), int32(cols), eps, r, Buffer{})
}

// Gather queues y[i, :] = table[idx[i], :] for n indices into a [R, C]
// table (twin: Graph.Gather). A bad index gives a zero row and is recorded
// in errBuf (two int32s, zeroed beforehand; see IndexError); pass the zero
// Buffer to skip the check.
func (k *Kernels) Gather(s *Stream, y, table, idx Buffer, n, R, C int, errBuf Buffer) error {
	if err := errors.Join(fits("gather: y", y, n*C), errors.Join(fits("gather: table", table, R*C), fits("gather: idx", idx, n))); err != nil || n*C == 0 {
		return err
	}
	if errBuf.Ptr != 0 {
		if err := fits("gather: err", errBuf, 2); err != nil {
			return err
		}
	}
	grid := Dim3{X: min(n, 65535)}
	if vec4(C, table, y) {
		return k.fns["gather_rows4"].Launch(s, grid, Dim3{X: min(256, max(32, (C/4+31)/32*32))}, 0, table, idx, y, int64(n), int32(R), int32(C/4), errBuf)
	}
	return k.fns["gather_rows"].Launch(s, grid, Dim3{X: min(256, max(32, (C+31)/32*32))}, 0, table, idx, y, int64(n), int32(R), int32(C), errBuf)
}

// CrossEntropy queues out[0] = the mean masked cross-entropy of logits
// [K, V] against int32 targets [K] (kernels.Ignore: no loss), using rowLoss
// (K floats) as scratch. Twin: Graph.CrossEntropy. A target outside [0, V)
// is recorded in errBuf as for Gather.
func (k *Kernels) CrossEntropy(s *Stream, out, rowLoss, logits, targets Buffer, K, V int, errBuf Buffer) error {
	if err := errors.Join(fits("cross_entropy: out", out, 1), errors.Join(fits("cross_entropy: rowLoss", rowLoss, K),
		errors.Join(fits("cross_entropy: logits", logits, K*V), fits("cross_entropy: targets", targets, K)))); err != nil {
		return err
	}
	if K == 0 || V == 0 {
		return fmt.Errorf("cuda: cross_entropy: empty logits [%d, %d]", K, V)
	}
	f, g, b := k.rowLaunch("xent_rows", K, V)
	if err := f.Launch(s, g, b, 0, logits, targets, rowLoss, int64(K), int32(V), errBuf); err != nil {
		return err
	}
	return k.fns["xent_mean"].Launch(s, Dim3{X: 1}, Dim3{X: 1024}, 0, rowLoss, targets, int64(K), out)
}

// IndexError reads an error buffer filled by Gather or CrossEntropy (after
// the work is done) and describes the first bad index it records, or
// returns nil.
func (d *Device) IndexError(errBuf Buffer) error { return d.indexError(nil, errBuf) }

// indexError is IndexError read through stream s (nil: the legacy stream,
// which waits for every stream).
func (d *Device) indexError(s *Stream, errBuf Buffer) error {
	var v [2]int32
	var err error
	if s == nil {
		err = d.CopyOutInts(v[:], errBuf)
	} else {
		err = d.CopyOutIntsSync(s, v[:], errBuf)
	}
	if err != nil {
		return err
	}
	if v[0] == 0 {
		return nil
	}
	return fmt.Errorf("cuda: index %d at position %d is out of range", v[1], v[0]-1)
}

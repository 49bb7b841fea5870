package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"lab/kernels"
)

// Program is a kernels.Graph compiled for one GPU: the CPU Program's twin.
// Parameters and constants are uploaded once, every intermediate buffer is
// planned once (buffers are reused once their last reader has run, as the
// CPU planner does), and every op is bound to a device kernel or a cuBLAS
// GEMM. The first Run queues the schedule launch by launch; the second
// captures it as one CUDA graph, and every later Run replays that graph.
// All work goes to the program's own stream.
//
// A Program is used from one goroutine at a time.
type Program struct {
	Graph   *kernels.Graph  // the graph compiled
	Outputs []*kernels.Node // the nodes whose values stay readable after Run
	// PlannedBytes is the device memory of the planned activation and
	// gradient buffers (parameters, inputs and scratch not included).
	PlannedBytes int64

	d      *Device
	k      *Kernels
	blas   *BLAS
	s      *Stream
	bufs   []Buffer // per node ID: where its value lives
	keep   []bool   // per node ID: readable after Run (outputs and leaves)
	allocs []Buffer // everything to free
	steps  []step
	params []paramBuf // parameter buffers, in order of first use
	errBuf Buffer     // two int32: the first bad index a kernel met
	meta   Buffer     // int64 shapes and strides the layout kernels read
	metaH  []int64

	stash map[int]Buffer // per node ID: scratch a kernel leaves for a later one (see Stash)

	prec     Precision
	half     [halfSlots]Buffer // bfloat16 GEMM operands in BF16 (gemm.go)
	halfNeed [halfSlots]int64  // their sizes in values, counted while lowering

	// Epilogue GEMMs (fuse_gemm.go): ltOK says whether cuBLASLt runs a
	// shape (nil: no fusion), ltProbed caches its answers, ltRefused says
	// why shapes were refused (cuBLASLt missing included), ltFused counts
	// the fused GEMMs bound.
	// precHooks run when SetPrecision chooses a precision (their plans).
	ltOK      func(LtShape) bool
	ltProbed  map[LtShape]bool
	ltRefused []string
	ltFused   int
	precHooks []func(Precision) error

	graph   *Graph
	runs    int
	version int // bumped when the captured work must be recaptured
}

type step struct {
	n   *kernels.Node
	run func() error
}

type paramBuf struct {
	p *kernels.Param
	b Buffer
}

// Compile plans device buffers for the nodes that outputs depend on, uploads
// parameters and constants, and binds every op to a device kernel. An op
// with no device kernel is an error that names it. Outputs keep their
// buffers for Read after Run. GEMMs use TF32 tensor cores (SetPrecision).
func Compile(dev *Device, g *kernels.Graph, outputs ...*kernels.Node) (p *Program, err error) {
	ids := g.Needed(outputs...)
	if err := checkOps(g, ids); err != nil {
		return nil, err
	}
	if dev == nil {
		return nil, errors.New("cuda: Compile: no device")
	}
	k, err := dev.sharedKernels()
	if err != nil {
		return nil, err
	}
	p = &Program{Graph: g, Outputs: outputs, d: dev, k: k,
		bufs: make([]Buffer, len(g.Nodes)), keep: make([]bool, len(g.Nodes))}
	defer func() {
		if err != nil {
			p.Free()
			p = nil
		}
	}()
	if p.s, err = dev.NewStream(); err != nil {
		return p, err
	}
	if p.blas, err = dev.NewBLAS(); err != nil {
		return p, err
	}
	if err = p.blas.SetStream(p.s); err != nil {
		return p, err
	}
	p.ltOK, p.ltProbed = p.probeLt, map[LtShape]bool{} // cuBLASLt is opened by the first probe
	if p.errBuf, err = p.alloc(2); err != nil {
		return p, err
	}
	if err = dev.Fill32(nil, p.errBuf, 0); err != nil {
		return p, err
	}
	for _, o := range outputs {
		p.keep[o.ID] = true
	}
	if err = p.plan(ids); err != nil {
		return p, err
	}
	if len(p.metaH) > 0 {
		if p.meta, err = p.alloc(2 * len(p.metaH)); err != nil {
			return p, err
		}
		if err = dev.htod(p.meta, unsafe.Pointer(&p.metaH[0]), int64(len(p.metaH))*8); err != nil {
			return p, err
		}
	}
	return p, dev.Sync()
}

// alloc allocates n 4-byte words that the program frees.
func (p *Program) alloc(n int) (Buffer, error) {
	b, err := p.d.AllocFloats(max(n, 1))
	if err != nil {
		return Buffer{}, err
	}
	p.allocs = append(p.allocs, b)
	return b, nil
}

// Stash returns a device buffer of n 4-byte words that belongs to node id
// for the program's lifetime, allocating it on first use: a forward kernel
// leaves values there (attention's row log-sum-exps, say) for the backward
// kernels of the same node to read.
func (p *Program) Stash(id, n int) (Buffer, error) {
	if b, ok := p.stash[id]; ok {
		if b.Bytes < int64(n)*4 {
			return Buffer{}, fmt.Errorf("cuda: stash of node %d holds %d bytes, %d asked", id, b.Bytes, n*4)
		}
		return b, nil
	}
	b, err := p.alloc(n)
	if err != nil {
		return b, err
	}
	if p.stash == nil {
		p.stash = map[int]Buffer{}
	}
	p.stash[id] = b
	return b, nil
}

// addMeta stores int64 values for a kernel and returns a function giving
// their device address (known once Compile has uploaded them).
func (p *Program) addMeta(v ...int64) func() Buffer {
	off := len(p.metaH)
	p.metaH = append(p.metaH, v...)
	return func() Buffer {
		return Buffer{Ptr: p.meta.Ptr + uint64(off)*8, Bytes: int64(len(v)) * 8}
	}
}

// SetTF32 chooses TF32 tensor-core GEMMs (on, the default: about 10
// mantissa bits per product) or plain float32 ones: SetPrecision(TF32) or
// SetPrecision(FP32).
func (p *Program) SetTF32(on bool) error {
	if on {
		return p.SetPrecision(TF32)
	}
	return p.SetPrecision(FP32)
}

func (p *Program) dropGraph() {
	if p.graph != nil {
		p.graph.Close()
		p.graph = nil
	}
	p.version++
}

// record queues the whole schedule on the program's stream.
func (p *Program) record() error {
	for _, st := range p.steps {
		if err := st.run(); err != nil {
			return fmt.Errorf("cuda: node %v (op %s): %w", st.n, st.n.Op.Name(), err)
		}
	}
	return nil
}

// Run queues one execution of the schedule and returns without waiting.
// The first call launches kernel by kernel; the second captures the
// schedule as a CUDA graph, which this and every later call replays.
// Errors found on the device (an index out of range in gather, scatter or
// cross-entropy) are reported by the next Read, Sync or DownloadParams.
func (p *Program) Run() error {
	return p.replay(&p.graph, &p.runs, p.record)
}

// replay runs record eagerly the first time, then captures it once and
// launches the captured graph.
func (p *Program) replay(g **Graph, runs *int, record func() error) error {
	if *runs == 0 {
		*runs = 1
		return record()
	}
	if *g == nil {
		cg, err := p.d.Capture(p.s, record)
		if err != nil {
			return err
		}
		*g = cg
	}
	*runs++
	return (*g).Launch(p.s)
}

// Sync waits for the queued work and reports an index out of range that a
// kernel met since the last check.
func (p *Program) Sync() error {
	if err := p.s.Sync(); err != nil {
		return err
	}
	if err := p.d.indexError(p.s, p.errBuf); err != nil {
		zero := []int32{0, 0}
		return errors.Join(err, p.d.CopyInInts(p.errBuf, zero))
	}
	return nil
}

// node checks that n belongs to the program and may be read or written.
func (p *Program) node(n *kernels.Node, what string) (Buffer, error) {
	if n == nil || n.ID >= len(p.bufs) || p.Graph.Nodes[n.ID] != n || p.bufs[n.ID].Ptr == 0 {
		return Buffer{}, fmt.Errorf("cuda: %s: node %v is not part of this program", what, n)
	}
	if !p.keep[n.ID] {
		return Buffer{}, fmt.Errorf("cuda: %s: node %v is not an output or leaf of this program (its buffer is reused)", what, n)
	}
	return p.bufs[n.ID], nil
}

func (p *Program) input(n *kernels.Node, ints bool, count int) (Buffer, error) {
	b, err := p.node(n, "Set")
	if err != nil {
		return b, err
	}
	if n.Kind() != kernels.LeafInput {
		return Buffer{}, fmt.Errorf("cuda: Set: node %v is not an input", n)
	}
	if n.Ints != ints {
		return Buffer{}, fmt.Errorf("cuda: Set: node %v holds integers=%v", n, n.Ints)
	}
	if count != n.Len() {
		return Buffer{}, fmt.Errorf("cuda: Set: %d values for node %v of %d", count, n, n.Len())
	}
	return b, nil
}

// SetInts copies integer values (token ids, targets) into an integer input,
// queued on the program's stream after the work that may still read it:
// other programs on the device do not wait for it, nor it for them.
func (p *Program) SetInts(n *kernels.Node, v []int32) error {
	b, err := p.input(n, true, len(v))
	if err != nil {
		return err
	}
	return p.d.CopyInAsync(p.s, b, v)
}

// SetFloats copies values into a float input, after queued work.
func (p *Program) SetFloats(n *kernels.Node, v []float32) error {
	b, err := p.input(n, false, len(v))
	if err != nil {
		return err
	}
	return p.d.CopyIn(b, v)
}

// Read waits for queued work and copies the value of n (an output or a
// leaf of the program) into dst, which must hold n.Len() values. Integer
// nodes are read with ReadInts.
func (p *Program) Read(n *kernels.Node, dst []float32) error {
	b, err := p.node(n, "Read")
	if err != nil {
		return err
	}
	if len(dst) != n.Len() || n.Ints {
		return fmt.Errorf("cuda: Read: node %v has %d values (integers=%v), dst holds %d floats", n, n.Len(), n.Ints, len(dst))
	}
	if err := p.d.CopyOutSync(p.s, dst, b); err != nil {
		return err
	}
	return p.Sync()
}

// ReadInts is Read for an integer node.
func (p *Program) ReadInts(n *kernels.Node, dst []int32) error {
	b, err := p.node(n, "ReadInts")
	if err != nil {
		return err
	}
	if len(dst) != n.Len() || !n.Ints {
		return fmt.Errorf("cuda: ReadInts: node %v has %d values (integers=%v), dst holds %d ints", n, n.Len(), n.Ints, len(dst))
	}
	if err := p.Sync(); err != nil {
		return err
	}
	return p.d.CopyOutInts(dst, b)
}

// DownloadParams copies the device weights into each parameter's host
// tensor (for checkpoints and CPU evaluation), after queued work.
func (p *Program) DownloadParams() error {
	if err := p.Sync(); err != nil {
		return err
	}
	for _, pb := range p.params {
		if err := p.d.CopyOut(pb.p.Value.Data, pb.b); err != nil {
			return err
		}
	}
	return nil
}

// UploadParams copies each parameter's host tensor to the device (after a
// checkpoint is restored, or to share weights trained by another program).
func (p *Program) UploadParams() error {
	if err := p.s.Sync(); err != nil {
		return err
	}
	for _, pb := range p.params {
		if err := p.d.CopyIn(pb.b, pb.p.Value.Data); err != nil {
			return err
		}
	}
	return nil
}

// paramBuffer returns the device buffer of a parameter, uploading it when
// the program's graph does not use it.
func (p *Program) paramBuffer(pr *kernels.Param) (Buffer, error) {
	for _, pb := range p.params {
		if pb.p == pr {
			return pb.b, nil
		}
	}
	b, err := p.alloc(pr.Value.Len())
	if err != nil {
		return b, err
	}
	if err := p.d.CopyIn(b, pr.Value.Data); err != nil {
		return b, err
	}
	p.params = append(p.params, paramBuf{pr, b})
	return b, nil
}

// Free releases the program's device memory, stream, cuBLAS handle and
// captured graph. The program cannot be used afterwards.
func (p *Program) Free() error {
	var errs []error
	if p.s != nil {
		errs = append(errs, p.s.Sync())
	}
	if p.graph != nil {
		errs = append(errs, p.graph.Close())
		p.graph = nil
	}
	if p.blas != nil {
		errs = append(errs, p.blas.Close())
		p.blas = nil
	}
	for _, b := range p.allocs {
		errs = append(errs, p.d.Free(b))
	}
	p.allocs = nil
	if p.s != nil {
		errs = append(errs, p.s.Close())
		p.s = nil
	}
	p.steps = nil
	return errors.Join(errs...)
}

package cuda

/*
#include "shim.h"
static CUresult lab_attnFuncSetAttribute(void *fn, CUfunction f, int attr, int v) {
	return ((CUresult(*)(CUfunction, int, int))fn)(f, attr, v);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"lab/kernels"
)

// The attention op (kernels.Attention) and its gradient run as flash
// kernels (kernels/attention.cu): the forward keeps only each row's
// log-sum-exp (a stash of the forward node), the backward recomputes the
// weights from it. With TF32 on (the default) and dh a multiple of 8 the
// tensor-core kernels run; otherwise (SetTF32(false), or another dh) the
// exact float32 SIMT kernels. Nothing of size L×L is allocated.
func init() {
	opLowerers["attention"] = lowerAttention
	opLowerers["attention_grad"] = lowerAttentionGrad
}

// attnDims are an attention node's sizes and settings.
type attnDims struct {
	bh, l, dh int
	scale     float32
	window    int32
}

func attnOf(n *kernels.Node) attnDims {
	s := n.In[0].Shape
	a := kernels.Describe(n.Op)
	return attnDims{bh: s[0], l: s[1], dh: s[2], scale: float32(a.Floats["scale"]), window: int32(a.Ints["window"])}
}

// tc reports whether the tensor-core kernels take this shape.
func (a attnDims) tc() bool { return a.dh%8 == 0 && a.dh <= 256 }

// attnPipe chooses attn_*_pipe (attention_pipe.cu) over attn_*_tc where
// the head size is one they are built for; timings and tests turn it off
// to run the older kernels.
var attnPipe = true

// pipeHead reports whether attn_*_pipe are built for head size dh.
func pipeHead(dh int) bool { return dh == 32 || dh == 64 || dh == 128 }

// pipe reports whether attn_*_pipe take this shape.
func (a attnDims) pipe() bool { return attnPipe && pipeHead(a.dh) }

// pipeRows is the rows per streamed stage of attn_*_pipe for kernel kind:
// 32 (attn_*_pipeDH) or 64 (attn_*_pipeDHw). LAB_CUDA_ATTN_BT=32|64, or
// LAB_CUDA_ATTN_BT_<KIND> (FWD, DQ, DKDV), sets it (timings).
func pipeRows(kind string) int {
	for _, v := range []string{os.Getenv("LAB_CUDA_ATTN_BT_" + strings.ToUpper(kind)), os.Getenv("LAB_CUDA_ATTN_BT")} {
		switch v {
		case "32":
			return 32
		case "64":
			return 64
		}
	}
	return 32
}

// simtC is the SIMT kernels' columns per lane: dh <= 32·C, C a power of 2.
func (a attnDims) simtC() int {
	c := 1
	for 32*c < a.dh {
		c *= 2
	}
	return c
}

// tcNC is the tensor-core kernels' 8-column tiles per block, and the
// number of column chunks (grid.z) that cover dh.
func (a attnDims) tcNC() (nc, chunks int) {
	tiles := a.dh / 8
	nc = 1
	for nc < tiles && nc < 16 {
		nc *= 2
	}
	return nc, (tiles + nc - 1) / nc
}

// Shared memory of each kernel, in bytes (see attention.cu).
func (a attnDims) smemSIMT(kind string) int {
	dp := 32 * a.simtC()
	switch kind {
	case "fwd":
		return (16*dp + 32*(dp+1) + 32*dp) * 4
	default: // dq, dkdv
		return (2*16*dp + 2*32*(dp+1) + 64) * 4
	}
}

func (a attnDims) smemTC(kind string) int {
	sd := a.dh + 4
	if kind == "fwd" {
		return (64 + 32 + 32) * sd * 4
	}
	return (64+64+32+32)*sd*4 + 64*4
}

// smemPipe: two stages of bt streamed rows of each streamed matrix, plus
// what is staged once (attention_pipe.cu).
func (a attnDims) smemPipe(kind string, bt int) int {
	sd, stages := a.dh+4, 2*bt*(a.dh+4)
	switch kind {
	case "fwd": // K, V
		return 2 * stages * 4
	case "dq": // dO once; K, V
		return (64*sd + 2*stages) * 4
	default: // dkdv: K, V once; Q, dO, lse, D
		return (2*64*sd + 2*stages + 2*2*bt) * 4
	}
}

// attnKernel returns kernel name, allowing it smem bytes of dynamic shared
// memory (above 48 KiB a kernel must opt in).
func (p *Program) attnKernel(name string, smem int) (*Function, error) {
	f, err := p.k.Function(name)
	if err != nil {
		return nil, err
	}
	if smem > p.d.Info.SharedOptin {
		return nil, fmt.Errorf("cuda: %s needs %d bytes of shared memory, the device allows %d", name, smem, p.d.Info.SharedOptin)
	}
	if smem > 48<<10 {
		if err := setMaxDynamicShared(f, smem); err != nil {
			return nil, err
		}
	}
	return f, nil
}

var (
	setAttrOnce sync.Once
	setAttrFn   unsafe.Pointer
	setAttrErr  error
	sharedMu    sync.Mutex
	sharedSet   = map[*Function]int{}
)

// setMaxDynamicShared raises f's dynamic shared memory limit to bytes
// (cuFuncSetAttribute, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
func setMaxDynamicShared(f *Function, bytes int) error {
	setAttrOnce.Do(func() {
		setAttrErr = f.d.api.lib.symbols(map[string]*unsafe.Pointer{"cuFuncSetAttribute": &setAttrFn}, nil)
	})
	if setAttrErr != nil {
		return setAttrErr
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedSet[f] >= bytes {
		return nil
	}
	const maxDynamicShared = 8 // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
	if err := f.d.call("cuFuncSetAttribute("+f.Name+")", func() C.CUresult {
		return C.lab_attnFuncSetAttribute(setAttrFn, f.f, maxDynamicShared, C.int(bytes))
	}); err != nil {
		return err
	}
	sharedSet[f] = bytes
	return nil
}

// attnPath is one way of running a kernel: its function, grid and shared
// memory.
type attnPath struct {
	f    *Function
	grid Dim3
	smem int
}

func (x attnPath) launch(p *Program, args ...any) error {
	return x.f.Launch(p.s, x.grid, Dim3{X: 128}, x.smem, args...)
}

// attnPaths prepares the SIMT and (where the shape allows) tensor-core
// variants of kernel kind ("fwd", "dq", "dkdv").
func (p *Program) attnPaths(a attnDims, kind string) (simt, tc attnPath, err error) {
	c := a.simtC()
	rows := 16
	simt = attnPath{grid: Dim3{X: (a.l + rows - 1) / rows, Y: a.bh}, smem: a.smemSIMT(kind)}
	if simt.f, err = p.attnKernel(fmt.Sprintf("attn_%s_simt%d", kind, c), simt.smem); err != nil {
		return
	}
	if !a.tc() {
		return
	}
	if a.pipe() {
		bt, wide := pipeRows(kind), ""
		if bt == 64 {
			wide = "w"
		}
		tc = attnPath{grid: Dim3{X: (a.l + 63) / 64, Y: a.bh}, smem: a.smemPipe(kind, bt)}
		tc.f, err = p.attnKernel(fmt.Sprintf("attn_%s_pipe%d%s", kind, a.dh, wide), tc.smem)
		return
	}
	nc, chunks := a.tcNC()
	tc = attnPath{grid: Dim3{X: (a.l + 63) / 64, Y: a.bh, Z: chunks}, smem: a.smemTC(kind)}
	tc.f, err = p.attnKernel(fmt.Sprintf("attn_%s_tc%d", kind, nc), tc.smem)
	return
}

// pick chooses the tensor-core path when the program has TF32 on.
func (p *Program) pick(a attnDims, simt, tc attnPath) attnPath {
	if p.blas.TF32 && a.tc() {
		return tc
	}
	return simt
}

func checkAttn(a attnDims) error {
	if a.dh < 1 || a.dh > 256 {
		return fmt.Errorf("attention: head size %d, the device kernels take 1 to 256", a.dh)
	}
	return nil
}

// lowerAttention binds the forward: y = attention(q, k, v), the row
// log-sum-exps into the node's stash.
func lowerAttention(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	a := attnOf(n)
	if err := checkAttn(a); err != nil {
		return nil, err
	}
	if scoresPath(a) {
		return lowerAttentionScores(p, n, a, y, in)
	}
	lse, err := p.Stash(n.ID, a.bh*a.l)
	if err != nil {
		return nil, err
	}
	simt, tc, err := p.attnPaths(a, "fwd")
	if err != nil {
		return nil, err
	}
	L, dh := int32(a.l), int32(a.dh)
	return func() error {
		return p.pick(a, simt, tc).launch(p, in[0], in[1], in[2], y, lse, L, dh, a.scale, a.window)
	}, nil
}

// lowerAttentionGrad binds the backward: inputs q, k, v, the forward node
// (its output o and its stash of log-sum-exps) and dy; y is [3, BH, L, dh]
// = dq, dk, dv.
func lowerAttentionGrad(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	a := attnOf(n)
	if err := checkAttn(a); err != nil {
		return nil, err
	}
	fwd := n.In[3]
	if fwd.Kind() != kernels.LeafOp || fwd.Op.Name() != "attention" {
		return nil, fmt.Errorf("attention_grad: input 3 is %v, not the attention node", fwd)
	}
	if scoresPath(a) {
		return lowerAttentionScoresGrad(p, fwd, a, y, in)
	}
	rows := a.bh * a.l
	lse, err := p.Stash(fwd.ID, rows)
	if err != nil {
		return nil, err
	}
	dr, err := p.alloc(rows)
	if err != nil {
		return nil, err
	}
	sq, tq, err := p.attnPaths(a, "dq")
	if err != nil {
		return nil, err
	}
	skv, tkv, err := p.attnPaths(a, "dkdv")
	if err != nil {
		return nil, err
	}
	rowdot, err := p.k.Function("attn_rowdot")
	if err != nil {
		return nil, err
	}
	size := int64(rows * a.dh)
	part := func(i int64) Buffer { return Buffer{Ptr: y.Ptr + uint64(i*size*4), Bytes: size * 4} }
	dq, dk, dv := part(0), part(1), part(2)
	q, k, v, o, dy := in[0], in[1], in[2], in[3], in[4]
	L, dh := int32(a.l), int32(a.dh)
	return func() error {
		if err := rowdot.Launch(p.s, Dim3{X: (rows + 3) / 4}, Dim3{X: 128}, 0, dy, o, dr, int64(rows), dh); err != nil {
			return err
		}
		if err := p.pick(a, skv, tkv).launch(p, q, k, v, dy, lse, dr, dk, dv, L, dh, a.scale, a.window); err != nil {
			return err
		}
		return p.pick(a, sq, tq).launch(p, q, k, v, dy, lse, dr, dq, L, dh, a.scale, a.window)
	}, nil
}

package cuda

import (
	"fmt"
	"slices"
	"strings"

	"lab/kernels"
)

// deviceOps lists the ops (by Op.Name) that Compile binds to device work.
// Activations and their gradients are recognised by their "activation"
// attribute, reshape by kernels.Aliases.
var deviceOps = map[string]bool{
	"matmul": true, "add": true, "sub": true, "mul": true, "badd": true, "bsub": true, "bmul": true,
	"sum_to": true, "affine": true, "add_rowvec": true, "mul_rowvec": true, "mul_col": true,
	"sum_rows": true, "sum_last": true, "sum_all": true, "bcast_rows": true, "bcast_last": true,
	"bcast_all": true, "softmax": true, "softmax_grad": true, "causal_mask": true,
	"normalize": true, "rms_normalize": true, "normalize_grad": true, "rms_normalize_grad": true,
	"gather": true, "scatter_add": true, "cross_entropy": true, "cross_entropy_grad": true,
	"transpose": true, "slice": true, "pad": true, "concat": true, "cumsum": true,
	"causal_conv": true, "causal_conv_grad_x": true, "causal_conv_grad_w": true,
	"stop_gradient": true, "max_last": true, "unit_lower_inverse": true,
}

// DeviceOps returns the names of the ops a Program can run, sorted
// (activation ops and their gradients are listed as "<activation>" and
// "<activation>_grad").
func DeviceOps() []string {
	out := []string{"reshape", "<activation>", "<activation>_grad"}
	for n := range deviceOps {
		out = append(out, n)
	}
	for n := range opLowerers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// lowerFunc binds node n, writing y from inputs in, to device work.
type lowerFunc func(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error)

// opLowerers holds the ops lowered in files of their own (fused attention,
// the fused LM head), registered from those files' init functions.
var opLowerers = map[string]lowerFunc{}

func supported(op kernels.Op) bool {
	if _, ok := opLowerers[op.Name()]; ok {
		return true
	}
	if deviceOps[op.Name()] || kernels.Aliases(op) {
		return true
	}
	_, ok := kernels.Describe(op).Ints["activation"]
	return ok
}

// checkOps names every op among ids that has no device kernel.
func checkOps(g *kernels.Graph, ids []int) error {
	var bad []string
	seen := map[string]bool{}
	for _, id := range ids {
		n := g.Nodes[id]
		if n.Kind() != kernels.LeafOp || supported(n.Op) || seen[n.Op.Name()] {
			continue
		}
		seen[n.Op.Name()] = true
		bad = append(bad, fmt.Sprintf("%q (node %v)", n.Op.Name(), n))
	}
	if len(bad) > 0 {
		return fmt.Errorf("cuda: no device kernel for op %s; the CUDA backend runs: %s",
			strings.Join(bad, ", "), strings.Join(DeviceOps(), ", "))
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func lastDim(shape []int) int {
	if len(shape) == 0 {
		return 1
	}
	return shape[len(shape)-1]
}

func flag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// launcher returns a step that launches kernel name with a fixed shape and
// arguments on the program's stream.
func (p *Program) launcher(name string, grid, block Dim3, args ...any) (func() error, error) {
	f, err := p.k.Function(name)
	if err != nil {
		return nil, err
	}
	return func() error { return f.Launch(p.s, grid, block, 0, args...) }, nil
}

// ew is a grid-stride launch over n elements.
func (p *Program) ew(name string, n int, args ...any) (func() error, error) {
	return p.launcher(name, p.k.ewGrid(int64(n)), Dim3{X: ewBlock}, args...)
}

// rows launches a row kernel (name_warp or name_block) over [rows, cols].
func (p *Program) rows(name string, rows, cols int, args ...any) (func() error, error) {
	f, grid, block := p.k.rowLaunch(name, rows, cols)
	if f == nil {
		return nil, fmt.Errorf("no kernel %s_warp/_block", name)
	}
	return func() error { return f.Launch(p.s, grid, block, 0, args...) }, nil
}

// seq runs steps in order.
func seq(fs ...func() error) func() error {
	return func() error {
		for _, f := range fs {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
}

// chain collects steps, keeping the first error of building them.
type chain struct {
	fs  []func() error
	err error
}

func (c *chain) add(f func() error, err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
	c.fs = append(c.fs, f)
}

func (c *chain) done() (func() error, error) {
	if c.err != nil {
		return nil, c.err
	}
	return seq(c.fs...), nil
}

// lower binds node n, writing y from inputs in, to device work.
func (p *Program) lower(n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	if f, ok := opLowerers[n.Op.Name()]; ok {
		return f(p, n, y, in)
	}
	a := kernels.Describe(n.Op)
	size := n.Len()
	x := in[0]
	switch name := n.Op.Name(); name {
	case "matmul":
		return p.lowerMatMul(n, a, y, in)
	case "add", "sub", "mul":
		op := map[string]BinOp{"add": Add, "sub": Sub, "mul": Mul}[name]
		return func() error { return p.k.Binary(p.s, op, y, in[0], in[1], size) }, nil
	case "badd", "bsub", "bmul":
		return p.lowerBroadcast(n, y, in)
	case "sum_to":
		return p.lowerSumTo(n, y, x)
	case "affine":
		scale, shift := float32(a.Floats["scale"]), float32(a.Floats["shift"])
		return func() error { return p.k.Affine(p.s, y, x, size, scale, shift) }, nil
	case "add_rowvec", "mul_rowvec":
		return p.ew("rowvec", size, x, in[1], y, int64(size), int32(lastDim(n.Shape)), flag(a.Bools["mul"]))
	case "mul_col":
		return p.ew("mul_col", size, x, in[1], y, int64(size), int32(lastDim(n.Shape)))
	case "sum_rows":
		c := lastDim(n.In[0].Shape)
		return p.colSums(y, x, Buffer{}, n.In[0].Len()/c, c)
	case "sum_last":
		c := lastDim(n.In[0].Shape)
		return p.sumLast(y, x, n.In[0].Len()/c, c)
	case "sum_all":
		return p.launcher("sum_all", Dim3{X: 1}, Dim3{X: 1024}, x, y, int64(n.In[0].Len()))
	case "bcast_rows":
		return p.ew("bcast_fill", size, x, y, int64(size), int32(n.In[0].Len()), int32(0))
	case "bcast_last":
		return p.ew("bcast_fill", size, x, y, int64(size), int32(lastDim(n.Shape)), int32(1))
	case "bcast_all":
		return p.ew("bcast_fill", size, x, y, int64(size), int32(1), int32(2))
	case "softmax":
		c := lastDim(n.Shape)
		return func() error { return p.k.Softmax(p.s, y, x, size/c, c) }, nil
	case "softmax_grad":
		c := lastDim(n.Shape)
		return p.rows("softmax_grad", size/c, c, x, in[1], y, int64(size/c), int32(c))
	case "causal_mask":
		return p.ew("causal_mask", size, x, y, int64(size), int32(lastDim(n.Shape)), int32(a.Ints["window"]),
			float32(a.Floats["fill"]), flag(a.Bools["strict"]))
	case "normalize", "rms_normalize":
		c, eps, rms := lastDim(n.Shape), float32(a.Floats["eps"]), a.Bools["rms"]
		return func() error { return p.k.Norm(p.s, y, x, Buffer{}, Buffer{}, size/c, c, eps, rms) }, nil
	case "normalize_grad", "rms_normalize_grad":
		c := lastDim(n.Shape)
		return p.rows("norm_grad", size/c, c, x, in[1], y, int64(size/c), int32(c), float32(a.Floats["eps"]), flag(a.Bools["rms"]), Buffer{})
	case "max_last":
		c := lastDim(n.In[0].Shape)
		return p.rows("max_last", size, c, x, y, int64(size), int32(c))
	case "gather":
		t := n.In[0].Shape
		k := n.In[1].Len()
		return func() error { return p.k.Gather(p.s, y, x, in[1], k, t[0], t[1], p.errBuf) }, nil
	case "scatter_add":
		return p.lowerScatter(n, y, in)
	case "cross_entropy":
		k, v := n.In[0].Shape[0], n.In[0].Shape[1]
		rowLoss, err := p.alloc(k)
		if err != nil {
			return nil, err
		}
		return func() error { return p.k.CrossEntropy(p.s, y, rowLoss, x, in[1], k, v, p.errBuf) }, nil
	case "cross_entropy_grad":
		k, v := n.In[0].Shape[0], n.In[0].Shape[1]
		cnt, err := p.alloc(1)
		if err != nil {
			return nil, err
		}
		var c chain
		c.add(p.launcher("count_targets", Dim3{X: 1}, Dim3{X: 1024}, in[1], int64(k), cnt))
		c.add(p.rows("xent_grad", k, v, x, in[1], in[2], cnt, y, int64(k), int32(v), p.errBuf))
		return c.done()
	case "transpose":
		shape, stride := collapse(n.In[0].Shape, a.Perm)
		meta := p.addMeta(append(int64s(shape), int64s(stride)...)...)
		f, err := p.k.Function("transpose_nd")
		if err != nil {
			return nil, err
		}
		grid, rank := p.k.ewGrid(int64(size)), int32(len(shape))
		return func() error {
			return f.Launch(p.s, grid, Dim3{X: ewBlock}, 0, x, y, int64(size), rank, meta())
		}, nil
	case "slice", "pad":
		return p.lowerSlicePad(n, a, y, x)
	case "concat":
		return p.lowerConcat(n, a, y, in)
	case "cumsum":
		ax := a.Ints["axis"]
		outer, inner := numel(n.Shape[:ax]), numel(n.Shape[ax+1:])
		return p.ew("cumsum", outer*inner, x, y, int64(outer), int32(n.Shape[ax]), int64(inner),
			flag(a.Bools["exclusive"]), flag(a.Bools["reverse"]))
	case "causal_conv":
		s := n.Shape
		return p.ew("conv_fwd", size, x, in[1], y, int64(size), int32(s[1]), int32(s[2]), int32(n.In[1].Shape[0]))
	case "causal_conv_grad_x":
		s := n.Shape
		return p.ew("conv_grad_x", size, x, in[1], y, int64(size), int32(s[1]), int32(s[2]), int32(n.In[1].Shape[0]))
	case "causal_conv_grad_w":
		s := n.In[0].Shape // dy [B, L, D]; in[1] is x
		return p.columnSums(y, s[0]*s[1], s[2], n.Shape[0], "conv_grad_w_part", []any{x, in[1]}, int32(s[1]), int32(n.Shape[0]))
	case "unit_lower_inverse":
		c := lastDim(n.Shape)
		return p.launcher("unit_lower_inv", Dim3{X: size / (c * c)}, Dim3{X: min(1024, (c+31)/32*32)}, x, y, int32(c))
	}
	if act, ok := a.Ints["activation"]; ok {
		f := kernels.Activation(act)
		if strings.HasSuffix(n.Op.Name(), "_grad") {
			return func() error { return p.k.ActGrad(p.s, f, y, x, in[1], size) }, nil
		}
		return func() error { return p.k.Act(p.s, f, y, x, size) }, nil
	}
	return nil, fmt.Errorf("no device kernel for op %q", n.Op.Name())
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

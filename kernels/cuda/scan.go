package cuda

import (
	"fmt"

	"lab/kernels"
)

// The exclusive decayed scan of RWKV-4 (kernels.DecayScan) and its time
// reverse (the gradient with respect to x), lowered to kernels/scan.cu's
// decay_scan: one thread per sequence and column walking the L steps.
// The gradient with respect to the log-decays stays in the graph
// (elementwise products and a row sum).
func init() {
	opLowerers["decay_scan"] = lowerDecayScan
	opLowerers["decay_scan_reverse"] = lowerDecayScan
}

// scanBlock is decay_scan's block size: small, so that the few threads of
// a short batch (N·dv of them) still spread over every SM.
const scanBlock = 64

// lowerDecayScan binds decay_scan or decay_scan_reverse (inputs x [N, L,
// dv], lg [N, L] or [N, L, H]) to one decay_scan launch.
func lowerDecayScan(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	if len(in) != 2 || len(n.Shape) != 3 {
		return nil, fmt.Errorf("%s: want 2 inputs and an [N, L, dv] output, got %d and %v", n.Op.Name(), len(in), n.Shape)
	}
	nn, l, dv := n.Shape[0], n.Shape[1], n.Shape[2]
	if nn*l*dv == 0 {
		return func() error { return nil }, nil
	}
	h := 1
	if lg := n.In[1].Shape; len(lg) == 3 {
		h = lg[2]
	}
	threads := nn * dv
	reverse := flag(n.Op.Name() == "decay_scan_reverse")
	return p.launcher("decay_scan", Dim3{X: (threads + scanBlock - 1) / scanBlock}, Dim3{X: scanBlock},
		y, in[0], in[1], int32(nn), int32(l), int32(dv), int32(h), reverse)
}

package cuda

import (
	"fmt"

	"lab/kernels"
)

// Dropout (kernels.Dropout) lowered to dropout_fwd (kernels/dropout.cu):
// one grid-stride pass drawing the same mask as the CPU from the key in
// device memory. The backward is the same op on dy.
func init() { opLowerers["dropout"] = lowerDropout }

func lowerDropout(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("dropout: %d inputs, want x and key", len(in))
	}
	pr := float32(kernels.Describe(n.Op).Floats["p"])
	size := n.Len()
	return p.ew("dropout_fwd", size, in[0], in[1], y, int64(size), kernels.DropoutThreshold(pr), kernels.DropoutScale(pr))
}

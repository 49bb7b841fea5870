package cuda

import (
	"fmt"

	"lab/kernels"
)

// The delta-rule inter-chunk state scan (kernels.DeltaStates) and its
// reverse scan, lowered to kernels/delta.cu's delta_scan (or
// delta_scan_staged, which stages each chunk's inputs in shared memory,
// where dk % 4 == 0 and it fits): one kernel walks
// the chunks, everything parallel over chunks (u, o and the input
// gradients) stays in the graph as batched GEMMs.
func init() {
	opLowerers["delta_states"] = lowerDeltaStates
	opLowerers["delta_states_grad"] = lowerDeltaStates
}

// deltaBlock is delta_scan's block size; every tile width divides it.
const deltaBlock = 256

// deltaSharedMax is the dynamic shared memory delta_scan may use without
// opting in to more.
const deltaSharedMax = 48 << 10

// deltaTile chooses the state columns T one block owns: at most 32 and no
// wider than dv needs; narrower (down to 8) while there are fewer than two
// blocks per SM (long sequences at small batch); narrower still while X
// and u, (dk + c)·T floats, do not fit in shared memory. 0: nothing fits.
func deltaTile(n, c, dk, dv, sms int) int {
	t := 32
	for t > 1 && t/2 >= dv {
		t /= 2
	}
	for t > 8 && n*((dv+t-1)/t) < 2*sms {
		t /= 2
	}
	for t > 0 && (dk+c)*t*4 > deltaSharedMax {
		t /= 2
	}
	return t
}

// deltaNoStage makes lowerDeltaStates use delta_scan even where
// delta_scan_staged fits (tests and timings compare the two).
var deltaNoStage bool

// deltaStagedBytes is delta_scan_staged's shared memory: X [dk][T], u
// [c][T] rounded up to 4 floats, and W [c][dk + 4].
func deltaStagedBytes(c, dk, t int) int { return (dk*t + (c*t+3)&^3 + c*(dk+4)) * 4 }

// deltaPlan chooses the kernel and its tile: delta_scan_staged (vec
// only) with the widest tile up to deltaTile's and 16 that fits, else
// delta_scan with deltaTile's.
func deltaPlan(n, c, dk, dv, sms int, vec bool) (t int, staged bool) {
	t = deltaTile(n, c, dk, dv, sms)
	if vec && !deltaNoStage {
		for ts := min(t, 16); ts >= 1; ts /= 2 {
			if deltaStagedBytes(c, dk, ts) <= deltaSharedMax {
				return ts, true
			}
		}
	}
	return t, false
}

// lowerDeltaStates binds delta_states (inputs tv, tk, kd, dec) or
// delta_states_grad (inputs dS, tk, kd, dec) to one delta_scan launch.
func lowerDeltaStates(p *Program, n *kernels.Node, y Buffer, in []Buffer) (func() error, error) {
	if len(in) != 4 || len(n.Shape) != 4 {
		return nil, fmt.Errorf("%s: want 4 inputs and a [N, nc, dk, dv] output, got %d and %v", n.Op.Name(), len(in), n.Shape)
	}
	reverse := n.Op.Name() == "delta_states_grad"
	nn, nc, dk, dv := n.Shape[0], n.Shape[1], n.Shape[2], n.Shape[3]
	c := n.In[1].Shape[2]
	q, pm := in[1], in[2] // forward: Q = tk, P = kd
	if reverse {
		q, pm = pm, q
	}
	vec := dk%4 == 0 && q.Ptr%16 == 0 && pm.Ptr%16 == 0
	t, staged := deltaPlan(nn, c, dk, dv, p.d.Info.SMs, vec)
	if t == 0 {
		return nil, fmt.Errorf("%s: dk + c = %d does not fit delta_scan's shared memory (%d bytes)", n.Op.Name(), dk+c, deltaSharedMax)
	}
	grid, block := Dim3{X: nn * ((dv + t - 1) / t)}, Dim3{X: deltaBlock}
	if staged {
		f, err := p.k.Function("delta_scan_staged")
		if err != nil {
			return nil, err
		}
		shared := deltaStagedBytes(c, dk, t)
		return func() error {
			return f.Launch(p.s, grid, block, shared, y, in[0], q, pm, in[3], int32(nc), int32(c), int32(dk), int32(dv),
				int32(t), flag(reverse))
		}, nil
	}
	f, err := p.k.Function("delta_scan")
	if err != nil {
		return nil, err
	}
	shared := (dk + c) * t * 4
	return func() error {
		return f.Launch(p.s, grid, block, shared, y, in[0], q, pm, in[3], int32(nc), int32(c), int32(dk), int32(dv),
			int32(t), flag(reverse), flag(vec))
	}, nil
}

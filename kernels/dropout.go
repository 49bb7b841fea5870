package kernels

import "math"

// dropout zeroes each element with probability p and scales the others by
// 1/(1-p). The mask is a pure function of a 32-bit key (an integer input,
// set by the trainer every step) and the element's flat index, so every
// backend draws the same mask bit for bit (kernels/cuda/kernels/dropout.cu
// is the same arithmetic) and the backward pass redraws it rather than
// storing it.
type dropout struct{ p float32 }

func (dropout) Name() string { return "dropout" }

// Dropout returns x with each element kept with probability 1-p and scaled
// by 1/(1-p); key is an integer input [1] that selects the mask (change it
// every step). p must be in [0, 1).
func (g *Graph) Dropout(x, key *Node, p float32) *Node {
	if !(p >= 0 && p < 1) {
		fail("dropout: p = %v, need [0, 1)", p)
	}
	if !key.Ints || len(key.Shape) != 1 || key.Shape[0] != 1 || x.Ints {
		fail("dropout: need float x and an integer key [1], got %v and %v", x.Shape, key.Shape)
	}
	return g.Apply(dropout{p}, x.Shape, x, key)
}

// The gradient is the same mask on dy: dropout of dy under the same key.
func (o dropout) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.Apply(o, dy.Shape, dy, n.In[1]), nil}
}

// DropoutThreshold is the 32-bit threshold below which an element's hash
// drops it: floor(p·2³²), saturated.
func DropoutThreshold(p float32) uint32 {
	t := math.Floor(float64(p) * (1 << 32))
	if t >= math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(t)
}

// DropoutScale is the factor kept elements are multiplied by, 1/(1-p) in
// float32.
func DropoutScale(p float32) float32 { return 1 / (1 - p) }

// DropoutHash is the mask's hash of element i under key: the murmur3
// finaliser of key ^ (i·0x9E3779B9). Element i is dropped when the hash is
// below DropoutThreshold(p).
func DropoutHash(key uint32, i uint32) uint32 {
	h := key ^ (i * 0x9E3779B9)
	h ^= h >> 16
	h *= 0x85EBCA6B
	h ^= h >> 13
	h *= 0xC2B2AE35
	h ^= h >> 16
	return h
}

// DropoutKey mixes a seed and a step into the per-step key a trainer feeds
// to Dropout (splitmix64, folded to 32 bits).
func DropoutKey(seed uint64, step int) int32 {
	z := seed + uint64(step+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return int32(uint32(z ^ (z >> 32)))
}

func (o dropout) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	keyT := in[1]
	thr, scale := DropoutThreshold(o.p), DropoutScale(o.p)
	return func() {
		key := uint32(keyT.Ints[0])
		r.For(len(y), ewGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if DropoutHash(key, uint32(i)) < thr {
					y[i] = 0
				} else {
					y[i] = x[i] * scale
				}
			}
		})
	}
}

package kernels

// Attrs are an op's settings, for backends other than the CPU: every op is
// identified by Op.Name() and configured by these values. Name() strings and
// keys are stable; see each op's constructor for their meaning.
type Attrs struct {
	Ints   map[string]int
	Floats map[string]float64
	Bools  map[string]bool
	Perm   []int // transpose
}

// Describe returns the settings of op (empty for ops without any).
func Describe(op Op) Attrs {
	a := Attrs{Ints: map[string]int{}, Floats: map[string]float64{}, Bools: map[string]bool{}}
	switch o := op.(type) {
	case matMul:
		a.Bools["trans_a"], a.Bools["trans_b"] = o.tA, o.tB
	case affine:
		a.Floats["scale"], a.Floats["shift"] = float64(o.scale), float64(o.shift)
	case rowVec:
		a.Bools["mul"] = o.mul
	case unary:
		a.Ints["activation"] = int(o.a)
	case unaryGrad:
		a.Ints["activation"] = int(o.a)
	case normalize:
		a.Bools["rms"], a.Floats["eps"] = o.rms, float64(o.eps)
	case normalizeGrad:
		a.Bools["rms"], a.Floats["eps"] = o.rms, float64(o.eps)
	case mask:
		a.Ints["window"], a.Floats["fill"], a.Bools["strict"] = o.window, float64(o.fill), o.strict
	case reduce:
		a.Ints["kind"] = int(o.k) // 0 sum_rows, 1 sum_last, 2 sum_all, 3 bcast_rows, 4 bcast_last, 5 bcast_all
	case transpose:
		a.Perm = append([]int(nil), o.perm...)
	case slicePad:
		a.Ints["axis"], a.Ints["lo"], a.Ints["hi"], a.Bools["pad"] = o.axis, o.lo, o.hi, o.pad
	case cumsum:
		a.Ints["axis"], a.Bools["exclusive"], a.Bools["reverse"] = o.axis, o.exclusive, o.reverse
	case concat:
		a.Ints["axis"] = o.axis
	case convGrad:
		a.Bools["wrt_w"] = o.wrtW
	case decayScores:
		a.Bools["strict"] = o.strict
	case decayScoresGrad:
		a.Bools["strict"], a.Bools["wrt_k"] = o.strict, o.wrtK
	case attention:
		a.Floats["scale"], a.Ints["window"] = float64(o.scale), o.window
	case attentionGrad:
		a.Floats["scale"], a.Ints["window"] = float64(o.scale), o.window
	case dropout:
		a.Floats["p"] = float64(o.p)
	}
	return a
}

// Aliases reports whether op's output shares its input's buffer (reshape).
func Aliases(op Op) bool { _, ok := op.(aliasing); return ok }

// Leaf kinds, for backends walking a graph.
const (
	LeafOp    = "op"
	LeafInput = "input"
	LeafParam = "param"
	LeafConst = "const"
)

// Kind tells what n is: an op result, or an input, parameter or constant leaf.
func (n *Node) Kind() string {
	return [...]string{LeafOp, LeafInput, LeafParam, LeafConst}[n.kind]
}

// ConstValue returns the tensor of a constant leaf (nil otherwise).
func (n *Node) ConstValue() *Tensor {
	if n.kind == constLeaf {
		return n.value
	}
	return nil
}

// Needed lists, in schedule order, the ids of the nodes the outputs depend
// on (the nodes a backend must compute or upload).
func (g *Graph) Needed(outputs ...*Node) []int {
	live := make([]bool, len(g.Nodes))
	for _, o := range outputs {
		live[o.ID] = true
	}
	for id := len(g.Nodes) - 1; id >= 0; id-- {
		if live[id] {
			for _, x := range g.Nodes[id].In {
				live[x.ID] = true
			}
		}
	}
	var ids []int
	for id, l := range live {
		if l {
			ids = append(ids, id)
		}
	}
	return ids
}

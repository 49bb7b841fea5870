package cuda

import (
	"os"

	"lab/kernels"
)

// GEMM epilogues (cuBLASLt): the elementwise work around a linear layer's
// GEMM runs in the GEMM kernel, on the tile still in registers, instead of
// as passes over the [rows, width] matrix in device memory:
//
//   - gelu(add_rowvec(matmul(x, W), b)): one GEMM writes gelu's value and,
//     for the backward, the add_rowvec node's (EpiGELUBias);
//   - add_rowvec(matmul(x, W), b): one GEMM (EpiBias);
//   - sum_rows(gelu_grad(pre, matmul(dy, Wᵀ))): one GEMM writes the
//     gelu_grad node's value and its column sums, the bias gradient
//     (EpiDGELUBGrad);
//   - sum_rows(dy) beside matmul(xᵀ, dy): the weight gradient's GEMM also
//     writes the bias gradient (EpiBGradB).
//
// Reshapes between a matmul and its reader are looked through. A node
// whose value the fused GEMM writes but which comes earlier in the
// schedule (the add_rowvec of the GELU form, the gelu_grad, the earlier of
// a sum_rows and its matmul) does nothing itself and must have no reader
// before the fused node. A chain is fused only when cuBLASLt has a kernel
// for it at all three precisions (p.ltOK).
//
// The fusions are off unless LAB_CUDA_LT=1: on an H100 they made the
// training step slower, not faster (device run 40, d=128, TF32: softmax
// 2.49 against 2.44 ms at L=256, 10.65 against 10.55 at L=1024, with the
// fastest of cuBLASLt's proposed kernels). cuBLASLt's epilogue kernels
// with float32 outputs ran the fc1 GEMM + bias + GELU in about the time of
// the three separate launches, whose elementwise passes read a matrix the
// GEMM has just left in L2; and the DGELU-with-bias-gradient GEMM was
// slower than GEMM + gelu_grad + column sums. They stay, tested, for when
// activations are bfloat16 (half the bytes the epilogue saves) and for
// other GPUs (NOTES.md, "GEMM epilogues").
//
// The results are not the same bits as the separate kernels: cuBLASLt's
// GEMM kernels sum in their own order, its GELU is the same tanh form as
// act.cu's but not the same instructions, and a bias gradient is summed
// in the GEMM's order. Tests compare against the CPU with the GEMM
// tolerances.
func (p *Program) fuseGemms(f *fusion, ids []int, inner func(*kernels.Node) bool, readers map[int][]*kernels.Node) {
	ok := p.ltOK
	if ok == nil || os.Getenv("LAB_CUDA_LT") != "1" {
		return
	}
	g := p.Graph
	free := func(n *kernels.Node) bool { return f.lower[n.ID] == nil && !f.skip[n.ID] }
	rowvec := func(n *kernels.Node) bool {
		return opNamed(n, "add_rowvec") && n.In[1].Len() == lastDim(n.Shape) && free(n)
	}
	take := func(path []*kernels.Node) {
		for _, x := range path {
			f.skip[x.ID] = true
		}
	}
	for _, id := range ids { // gelu(add_rowvec(matmul))
		n := g.Nodes[id]
		if !opNamed(n, "gelu") || !free(n) || !rowvec(n.In[0]) {
			continue
		}
		pre := n.In[0]
		mm, path := gemmUnder(pre.In[0], inner)
		if mm == nil || !readAfter(readers, pre, n, n.ID) {
			continue
		}
		s := ltShapeOf(mm, EpiGELUBias)
		if s.LDY%8 != 0 || !ok(s) {
			continue
		}
		take(path)
		f.writtenLater(pre)
		f.inputs[id] = []*kernels.Node{mm.In[0], mm.In[1], pre.In[1], pre}
		f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) { return p.ltStep(s, in[0], in[1], y, in[2], in[3]) }
	}
	for _, id := range ids { // add_rowvec(matmul)
		n := g.Nodes[id]
		if !rowvec(n) {
			continue
		}
		mm, path := gemmUnder(n.In[0], inner)
		if mm == nil {
			continue
		}
		s := ltShapeOf(mm, EpiBias)
		if !ok(s) {
			continue
		}
		take(path)
		f.inputs[id] = []*kernels.Node{mm.In[0], mm.In[1], n.In[1]}
		f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) {
			return p.ltStep(s, in[0], in[1], y, in[2], Buffer{})
		}
	}
	for _, id := range ids { // sum_rows(gelu_grad(pre, matmul))
		n := g.Nodes[id]
		if !opNamed(n, "sum_rows") || !free(n) || !opNamed(n.In[0], "gelu_grad") || !free(n.In[0]) {
			continue
		}
		gg := n.In[0]
		mm, path := gemmUnder(gg.In[1], inner)
		if mm == nil || !readAfter(readers, gg, n, n.ID) {
			continue
		}
		s := ltShapeOf(mm, EpiDGELUBGrad)
		if s.LDY%8 != 0 || !ok(s) {
			continue
		}
		take(path)
		f.writtenLater(gg)
		f.inputs[id] = []*kernels.Node{mm.In[0], mm.In[1], gg.In[0], gg}
		f.lower[id] = func(y Buffer, in []Buffer) (func() error, error) { return p.ltStep(s, in[0], in[1], in[3], y, in[2]) }
	}
	// sum_rows(dy) and matmul(xᵀ, dy): the matmuls by their B operand.
	byB := map[int][]*kernels.Node{}
	for _, id := range ids {
		if n := g.Nodes[id]; opNamed(n, "matmul") && len(n.Shape) == 2 {
			byB[reshapeRoot(n.In[1]).ID] = append(byB[reshapeRoot(n.In[1]).ID], n)
		}
	}
	for _, id := range ids {
		n := g.Nodes[id]
		if !opNamed(n, "sum_rows") || !free(n) {
			continue
		}
		x := n.In[0]
		for _, mm := range byB[reshapeRoot(x).ID] {
			s := ltShapeOf(mm, EpiBGradB)
			if !free(mm) || !s.TA || s.TB || mm.In[1].Len() != x.Len() || s.N != lastDim(x.Shape) {
				continue
			}
			first, head := n, mm
			if mm.ID < n.ID {
				first, head = mm, n
			}
			if !readAfter(readers, first, head, head.ID) || !ok(s) {
				continue
			}
			f.writtenLater(first)
			f.inputs[head.ID] = []*kernels.Node{mm.In[0], mm.In[1], first}
			if head == mm {
				f.lower[head.ID] = func(y Buffer, in []Buffer) (func() error, error) {
					return p.ltStep(s, in[0], in[1], y, in[2], Buffer{})
				}
			} else {
				f.lower[head.ID] = func(y Buffer, in []Buffer) (func() error, error) {
					return p.ltStep(s, in[0], in[1], in[2], y, Buffer{})
				}
			}
			break
		}
	}
}

// reshapeRoot is n with reshapes looked through: the node whose buffer n
// reads in the same order.
func reshapeRoot(n *kernels.Node) *kernels.Node {
	for opNamed(n, "reshape") {
		n = n.In[0]
	}
	return n
}

// gemmUnder finds the 2-D matmul whose value x is, through reshapes, when
// every node on the way (the matmul included) may be skipped; path lists
// them.
func gemmUnder(x *kernels.Node, inner func(*kernels.Node) bool) (mm *kernels.Node, path []*kernels.Node) {
	for {
		if !inner(x) {
			return nil, nil
		}
		path = append(path, x)
		switch {
		case opNamed(x, "matmul"):
			if len(x.Shape) != 2 {
				return nil, nil
			}
			return x, path
		case opNamed(x, "reshape"):
			x = x.In[0]
		default:
			return nil, nil
		}
	}
}

// ltShapeOf is a 2-D matmul node's GEMM with epilogue e.
func ltShapeOf(mm *kernels.Node, e Epilogue) LtShape {
	a := kernels.Describe(mm.Op)
	tA, tB := a.Bools["trans_a"], a.Bools["trans_b"]
	A, B := mm.In[0].Shape, mm.In[1].Shape
	k := A[1]
	if tA {
		k = A[0]
	}
	return LtShape{TA: tA, TB: tB, M: mm.Shape[0], N: mm.Shape[1], K: k, LDA: A[1], LDB: B[1], LDY: mm.Shape[1], Epi: e}
}

// ltStep binds one epilogue GEMM (Y = op(A)·op(B) with s's epilogue, bias
// and aux as it reads or writes them). It is planned for the program's
// precision now and for another when SetPrecision chooses it; in BF16 the
// operands are converted to bfloat16 first, as gemm does.
func (p *Program) ltStep(s LtShape, a, b, y, bias, aux Buffer) (func() error, error) {
	ar, ac := dims(s.TA, s.M, s.K)
	br, bc := dims(s.TB, s.K, s.N)
	if _, _, err := checkGemm(s.TA, s.TB, s.M, s.N, s.K, a, s.LDA, 0, b, s.LDB, 0, y, s.LDY, 0, 1, 4, 4); err != nil {
		return nil, err
	}
	na, nb := span(ar, ac, s.LDA, 0, 1), span(br, bc, s.LDB, 0, 1)
	p.needHalf(convert, halfA, na)
	p.needHalf(convert, halfB, nb)
	plans := map[Precision]*ltPlan{}
	plan := func(pr Precision) error {
		if plans[pr] != nil {
			return nil
		}
		A, B := a, b
		if pr == BF16 {
			A, B = p.half[halfA], p.half[halfB]
		}
		pl, err := p.blas.planLt(s, pr, bias, aux, A, B)
		plans[pr] = pl
		return err
	}
	if err := plan(p.prec); err != nil {
		return nil, err
	}
	p.precHooks = append(p.precHooks, plan)
	p.ltFused++
	return func() error {
		A, B := a, b
		if p.prec == BF16 {
			var err error
			if A, err = p.halfOperand(a, na, convert, halfA); err != nil {
				return err
			}
			if B, err = p.halfOperand(b, nb, convert, halfB); err != nil {
				return err
			}
		}
		return p.blas.runLt(plans[p.prec], A, B, y)
	}, nil
}

// probeLt reports whether cuBLASLt runs s at every precision (the plans
// are made and freed at once); results are kept per shape.
func (p *Program) probeLt(s LtShape) bool {
	if ok, seen := p.ltProbed[s]; seen {
		return ok
	}
	ok := true
	for _, pr := range []Precision{TF32, FP32, BF16} {
		pl, err := p.blas.planLt(s, pr, Buffer{}, Buffer{}, Buffer{}, Buffer{})
		if err != nil {
			ok = false
			p.ltRefused = append(p.ltRefused, err.Error())
			break
		}
		p.blas.dropLt(pl)
	}
	p.ltProbed[s] = ok
	return ok
}

package cuda

import (
	"fmt"
	"strings"
)

// Precision is how a program's GEMMs multiply their float32 operands.
// Everything that is not a GEMM (norms, softmax, scans, the optimizer)
// runs in float32 whatever the precision.
type Precision int

const (
	// TF32 (the default): tensor cores with each operand rounded to TF32
	// (10 mantissa bits), float32 sums.
	TF32 Precision = iota
	// FP32: plain float32 products, no tensor cores; losses follow the
	// CPU's to about 1e-6.
	FP32
	// BF16: each GEMM's operands are rounded to bfloat16 (8 mantissa bits)
	// by a conversion kernel, then multiplied on tensor cores with float32
	// sums and a float32 result. Weights, activations, gradients and the
	// optimizer stay float32 (mixed precision, as autocast does). The flash
	// attention kernels, which are not cuBLAS, stay TF32.
	BF16
)

var precisionNames = []string{TF32: "tf32", FP32: "fp32", BF16: "bf16"}

// String is the precision's flag value: "tf32", "fp32" or "bf16".
func (p Precision) String() string {
	if p < 0 || int(p) >= len(precisionNames) {
		return fmt.Sprintf("Precision(%d)", int(p))
	}
	return precisionNames[p]
}

// ParsePrecision reads a flag value: tf32, fp32 or bf16 (any case).
func ParsePrecision(s string) (Precision, error) {
	for i, n := range precisionNames {
		if strings.EqualFold(s, n) {
			return Precision(i), nil
		}
	}
	return 0, fmt.Errorf("unknown precision %q (want tf32, fp32 or bf16)", s)
}

// The bfloat16 scratch of a program in BF16: a slot for each GEMM operand,
// converted just before the GEMM, and one for an operand a lowering
// converts once and hands to several GEMMs (toHalf, fromPre).
const (
	halfA = iota
	halfB
	halfPre
	halfSlots
)

// halfSrc says where a GEMM operand's bfloat16 values come from in BF16.
type halfSrc int

const (
	convert halfSrc = iota // converted from the float32 buffer just before the GEMM
	fromPre                // left in slot halfPre by a toHalf step or a kernel; the buffer is not read
	inPlace                // the buffer itself holds bfloat16 values in BF16 (a GEMM with cHalf wrote them)
)

// gemmArgs is one row-major (strided batched) GEMM, as GemmStridedBatched
// takes it: C = alpha·op(A)·op(B) + beta·C.
type gemmArgs struct {
	tA, tB        bool
	m, n, k       int
	alpha, beta   float32
	a, b, c       Buffer
	lda, ldb, ldc int
	sa, sb, sc    int64
	batch         int
	// aSrc, bSrc: where A's and B's bfloat16 values come from in BF16.
	aSrc, bSrc halfSrc
	// cHalf: in BF16, C is written as bfloat16 into c (which then holds
	// half as many bytes of values); at other precisions C is float32.
	cHalf bool
}

// gemm binds a GEMM: the sizes are checked now, and the bfloat16 scratch
// it would need in BF16 is counted (SetPrecision allocates it). The step
// multiplies at the program's precision when it runs.
func (p *Program) gemm(g gemmArgs) (func() error, error) {
	if g.batch == 0 {
		g.batch = 1
	}
	if g.aSrc == fromPre && g.bSrc == fromPre {
		return nil, fmt.Errorf("cuda: gemm: both operands cannot come from the one shared slot")
	}
	if _, _, err := checkGemm(g.tA, g.tB, g.m, g.n, g.k, g.a, g.lda, g.sa, g.b, g.ldb, g.sb, g.c, g.ldc, g.sc, g.batch, 4, 4); err != nil {
		return nil, err
	}
	ar, ac := dims(g.tA, g.m, g.k)
	br, bc := dims(g.tB, g.k, g.n)
	na, nb := span(ar, ac, g.lda, g.sa, g.batch), span(br, bc, g.ldb, g.sb, g.batch)
	p.needHalf(g.aSrc, halfA, na)
	p.needHalf(g.bSrc, halfB, nb)
	return func() error {
		if p.prec != BF16 {
			return p.blas.GemmStridedBatched(g.tA, g.tB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.sa, g.b, g.ldb, g.sb,
				g.beta, g.c, g.ldc, g.sc, g.batch)
		}
		a, err := p.halfOperand(g.a, na, g.aSrc, halfA)
		if err != nil {
			return err
		}
		b, err := p.halfOperand(g.b, nb, g.bSrc, halfB)
		if err != nil {
			return err
		}
		return p.blas.GemmStridedBatchedBF16(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, g.lda, g.sa, b, g.ldb, g.sb,
			g.beta, g.c, g.ldc, g.sc, g.batch, g.cHalf)
	}, nil
}

// needHalf counts n bfloat16 values of scratch for an operand from src
// (slot when it is converted).
func (p *Program) needHalf(src halfSrc, slot int, n int64) {
	switch src {
	case inPlace:
		return
	case fromPre:
		slot = halfPre
	}
	p.halfNeed[slot] = max(p.halfNeed[slot], n)
}

// halfOperand gives the bfloat16 values of an n-value operand x from src,
// converting them into slot if that is where they come from.
func (p *Program) halfOperand(x Buffer, n int64, src halfSrc, slot int) (Buffer, error) {
	switch src {
	case inPlace:
		return x, nil
	case fromPre:
		slot = halfPre
	}
	h := p.half[slot]
	if h.Bytes < 2*n {
		return Buffer{}, fmt.Errorf("cuda: bf16 scratch slot %d holds %d bytes, %d needed (SetPrecision allocates it)", slot, h.Bytes, 2*n)
	}
	if src == fromPre {
		return h, nil
	}
	return h, p.k.ToBF16(p.s, x, h, n)
}

// toHalf is a step that, in BF16, converts the first n floats of x into
// slot halfPre for the GEMMs after it that take an operand fromPre; at other
// precisions it does nothing.
func (p *Program) toHalf(x Buffer, n int) func() error {
	p.needHalf(convert, halfPre, int64(n))
	return func() error {
		if p.prec != BF16 {
			return nil
		}
		_, err := p.halfOperand(x, int64(n), convert, halfPre)
		return err
	}
}

// SetPrecision chooses how the program's GEMMs multiply (TF32 is the
// default); BF16 allocates the program's bfloat16 operand scratch on first
// use. The schedule is captured again at the next Run.
func (p *Program) SetPrecision(pr Precision) error {
	if pr < TF32 || pr > BF16 {
		return fmt.Errorf("cuda: SetPrecision: %v", pr)
	}
	if err := p.blas.SetTF32(pr != FP32); err != nil {
		return err
	}
	if pr == BF16 {
		for i, n := range p.halfNeed {
			if n == 0 || p.half[i].Bytes >= 2*n {
				continue
			}
			b, err := p.alloc(int((n + 1) / 2))
			if err != nil {
				return fmt.Errorf("cuda: bf16 operand scratch: %w", err)
			}
			p.half[i] = b
		}
	}
	for _, h := range p.precHooks {
		if err := h(pr); err != nil {
			return err
		}
	}
	p.prec = pr
	p.dropGraph()
	return nil
}

// ToBF16 queues y[i] = x[i] rounded to bfloat16 (nearest, ties to even)
// for i < n; y holds 2-byte values.
func (k *Kernels) ToBF16(s *Stream, x, y Buffer, n int64) error {
	if n < 0 || x.Bytes < 4*n || y.Bytes < 2*n {
		return fmt.Errorf("cuda: ToBF16: %d values, buffers of %d and %d bytes", n, x.Bytes, y.Bytes)
	}
	if n == 0 {
		return nil
	}
	if n%4 == 0 && x.Ptr%16 == 0 && y.Ptr%8 == 0 {
		return k.fns["f32_to_bf16_4"].Launch(s, k.ewGrid(n/4), Dim3{X: ewBlock}, 0, x, y, n/4)
	}
	return k.fns["f32_to_bf16"].Launch(s, k.ewGrid(n), Dim3{X: ewBlock}, 0, x, y, n)
}

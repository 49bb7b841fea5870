package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"lab/architectures"
	"lab/kernels"
)

// bf16Twin rounds f to bfloat16 the slow way: of the two bfloat16 values
// around f (f's bits with the low 16 cleared, and the next one up in
// magnitude) it keeps the nearer in float64, the one with an even last bit
// on a tie. NaN stays NaN. It returns the 16 bits.
func bf16Twin(f float32) uint16 {
	if math.IsNaN(float64(f)) {
		return uint16(math.Float32bits(f)>>16) | 0x40
	}
	if math.IsInf(float64(f), 0) {
		return uint16(math.Float32bits(f) >> 16)
	}
	down := math.Float32bits(f) &^ 0xffff
	up := down + 0x10000
	lo, hi := float64(math.Float32frombits(down)), float64(math.Float32frombits(up))
	if up>>16 == 0x7f80 || up>>16 == 0xff80 { // up is infinity: its distance is measured from bf16's next step
		hi = 2*float64(math.Float32frombits(down)) - float64(math.Float32frombits(down-0x10000))
	}
	dl, dh := math.Abs(float64(f)-lo), math.Abs(hi-float64(f))
	if dl < dh || (dl == dh && (down>>16)&1 == 0) {
		return uint16(down >> 16)
	}
	return uint16(up >> 16)
}

func bf16Value(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundBF16 rounds every value to bfloat16 (in float32).
func roundBF16(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = bf16Value(bf16Twin(v))
	}
	return out
}

// downloadHalves reads n bfloat16 values.
func downloadHalves(t *testing.T, d *Device, b Buffer, n int) []uint16 {
	w := download(t, d, b, (n+1)/2)
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(math.Float32bits(w[i/2]) >> (16 * (i % 2)))
	}
	return out
}

// ToBF16 gives the twin's bits for every value: ties both ways, the
// largest floats (which round to infinity), infinities, NaN, subnormals,
// zeros, and random values, through the vector kernel and the scalar one.
func TestToBF16MatchesTwin(t *testing.T) {
	d, k := gpu(t)
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1,
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), // ties: to 1, to 1+2^-6
		math.Float32frombits(0x3f808001), math.Float32frombits(0x3f807fff),
		math.MaxFloat32, -math.MaxFloat32, math.Float32frombits(0x7f7f7fff), math.Float32frombits(0x7f7f8000),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(1), math.Float32frombits(0x00018000), math.Float32frombits(0x807fffff)}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{len(special), 4096, 4099} {
		x := make([]float32, n)
		for i := range x {
			x[i] = math.Float32frombits(rng.Uint32())
			if i < len(special) {
				x[i] = special[i]
			}
		}
		for _, off := range []int{0, 1} { // offset 1: the scalar kernel
			t.Run(fmt.Sprintf("n%d_off%d", n, off), func(t *testing.T) {
				src := upload(t, d, append(make([]float32, off), x...)).Slice(off, off+n)
				dst := poisoned(t, d, (n+1)/2)
				must(t, k.ToBF16(nil, src, dst, int64(n)))
				got := downloadHalves(t, d, dst, n)
				for i, v := range x {
					want := bf16Twin(v)
					if math.IsNaN(float64(v)) {
						if !math.IsNaN(float64(bf16Value(got[i]))) {
							t.Fatalf("x[%d] = NaN: got %#04x, not a NaN", i, got[i])
						}
						continue
					}
					if got[i] != want {
						t.Fatalf("x[%d] = %g (%#08x): got %#04x, want %#04x", i, v, math.Float32bits(v), got[i], want)
					}
				}
			})
		}
	}
}

// A BF16 GEMM multiplies the operands rounded to bfloat16: against the CPU
// product of the rounded operands it differs by float32 summation only
// (1e-5); against the product of the operands themselves it differs by
// bfloat16's rounding (2^-9 per operand: 5e-4 to 1.5e-2 relative), which
// also shows the operands really went through bfloat16 (TF32 would be
// ~3e-4).
func TestBF16GemmRoundsOperands(t *testing.T) {
	d, k := gpu(t)
	b := newBLAS(t, d)
	rng := rand.New(rand.NewPCG(23, 24))
	const batch = 2
	for _, sz := range [][3]int{{1, 1, 1}, {64, 96, 80}, {127, 33, 65}, {256, 256, 512}} {
		m, n, kk := sz[0], sz[1], sz[2]
		for _, tt := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			tA, tB := tt[0], tt[1]
			ar, ac := dims(tA, m, kk)
			br, bc := dims(tB, kk, n)
			a, bm := randn(rng, batch*ar*ac, 0, 1), randn(rng, batch*br*bc, 0, 1)
			product := func(a, bm []float32) []float32 {
				return cpuTwin(t, func(g *kernels.Graph) *kernels.Node {
					return g.MatMul(constOf(g, "a", a, batch, ar, ac), constOf(g, "b", bm, batch, br, bc), tA, tB)
				})
			}
			ah, bh := poisoned(t, d, (len(a)+1)/2), poisoned(t, d, (len(bm)+1)/2)
			must(t, k.ToBF16(nil, upload(t, d, a), ah, int64(len(a))))
			must(t, k.ToBF16(nil, upload(t, d, bm), bh, int64(len(bm))))
			c := poisoned(t, d, batch*m*n)
			must(t, b.GemmStridedBatchedBF16(tA, tB, m, n, kk, 1, ah, ac, int64(ar*ac), bh, bc, int64(br*bc), 0, c, n, int64(m*n), batch, false))
			got := download(t, d, c, batch*m*n)
			rounded := product(roundBF16(a), roundBF16(bm))
			exact, full := relNorm(got, rounded), relNorm(got, product(a, bm))
			if exact > fp32Tol || (m*kk > 1 && (full < 5e-4 || full > 1.5e-2)) {
				t.Errorf("%dx%dx%d tA=%v tB=%v: against rounded operands %.2e (want <= %.0e), against float32 ones %.2e (want 5e-4..1.5e-2)",
					m, n, kk, tA, tB, exact, fp32Tol, full)
			}
			// A bfloat16 result is the float32 one rounded once: within
			// half a bfloat16 step (2^-9 to 2^-8 relative) of it, element by element.
			ch := poisoned(t, d, (batch*m*n+1)/2)
			must(t, b.GemmStridedBatchedBF16(tA, tB, m, n, kk, 1, ah, ac, int64(ar*ac), bh, bc, int64(br*bc), 0, ch, n, int64(m*n), batch, true))
			// (Plus 1e-5 of the largest |C| for the float32 sums' order.)
			slack := 0.0
			for _, w := range rounded {
				slack = max(slack, 1e-5*math.Abs(float64(w)))
			}
			for i, h := range downloadHalves(t, d, ch, batch*m*n) {
				if g, w := float64(bf16Value(h)), float64(rounded[i]); math.Abs(g-w) > math.Abs(w)/256+slack {
					t.Fatalf("%dx%dx%d tA=%v tB=%v: bf16 C[%d] = %v, float32 product %v", m, n, kk, tA, tB, i, g, w)
				}
			}
		}
	}
}

// The quickstart models' loss and gradients at each precision against the
// CPU, on one batch: FP32 within 1e-5, TF32 within 5e-3, BF16 within 3e-2
// and at least twice TF32's error (bfloat16 keeps 3 fewer mantissa bits,
// so about 8x: a BF16 run that secretly ran TF32 fails). Every GEMM of
// these models goes through the precision: matmuls, the attention scores
// path (its dS converted once), and the fused head (dlogits written as
// bfloat16 by the row kernel). Two runs at each precision (the first
// eager, the rest captured after each change) agree bit for bit.
func TestPrecisionMatchesCPU(t *testing.T) {
	d, _ := gpu(t)
	for _, mix := range []string{"softmax(conv=2)", "linear(feature=elu1, conv=2)"} {
		cfg := architectures.ModelConfig{Vocab: 64, D: 32, Heads: 2, Layers: 2, MaxLen: 64, Mix: mix,
			Channel: "mlp", MLPRatio: 4, Norm: "layernorm", Position: "learned", Chunk: 16}
		const B, L = 4, 40
		cpuT, gpuT := newTrainGraph(t, cfg, B, L, B*L), newTrainGraph(t, cfg, B, L, B*L)
		outs := append([]*kernels.Node{cpuT.loss}, cpuT.grads...)
		cpu, err := kernels.Compile(cpuT.g, outs...)
		must(t, err)
		ids, at, tg := batchData(rand.New(rand.NewPCG(25, 26)), cfg.Vocab, B, L)
		copy(cpu.Value(cpuT.ids).Ints, ids)
		copy(cpu.Value(cpuT.at).Ints, at)
		copy(cpu.Value(cpuT.tg).Ints, tg)
		cpu.Run()
		var want []float32
		for _, n := range outs {
			want = append(want, cpu.Value(n).Data...)
		}
		gouts := append([]*kernels.Node{gpuT.loss}, gpuT.grads...)
		p, err := Compile(d, gpuT.g, gouts...)
		must(t, err)
		must(t, p.SetInts(gpuT.ids, ids))
		must(t, p.SetInts(gpuT.at, at))
		must(t, p.SetInts(gpuT.tg, tg))
		errs := map[Precision]float64{}
		for _, pr := range []Precision{FP32, TF32, BF16} {
			must(t, p.SetPrecision(pr))
			var runs [2][]float32
			for r := range runs {
				must(t, p.Run())
				for _, n := range gouts {
					v := make([]float32, n.Len())
					must(t, p.Read(n, v))
					runs[r] = append(runs[r], v...)
				}
			}
			for i := range runs[0] {
				if math.Float32bits(runs[0][i]) != math.Float32bits(runs[1][i]) {
					t.Fatalf("%s %v: eager and captured runs differ at %d: %v, %v", mix, pr, i, runs[0][i], runs[1][i])
				}
			}
			loss := math.Abs(float64(runs[0][0]-want[0])) / math.Abs(float64(want[0]))
			errs[pr] = relNorm(runs[0][1:], want[1:])
			t.Logf("%s %v: loss %.7f (cpu %.7f, rel %.1e), gradients ||d||/||cpu|| %.2e", mix, pr, runs[0][0], want[0], loss, errs[pr])
			tol := map[Precision]float64{FP32: 1e-5, TF32: 5e-3, BF16: 3e-2}[pr]
			if !(loss <= tol && errs[pr] <= tol) {
				t.Errorf("%s %v: loss rel %.2e, gradients %.2e: tolerance %.0e", mix, pr, loss, errs[pr], tol)
			}
		}
		if errs[BF16] < 2*errs[TF32] {
			t.Errorf("%s: BF16 gradient error %.2e is not above twice TF32's %.2e: are the GEMMs bfloat16?", mix, errs[BF16], errs[TF32])
		}
		p.Free()
	}
}

func TestParsePrecision(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Precision
		ok   bool
	}{{"tf32", TF32, true}, {"FP32", FP32, true}, {"bf16", BF16, true}, {"fp16", 0, false}, {"", 0, false}} {
		got, err := ParsePrecision(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParsePrecision(%q) = %v, %v", c.in, got, err)
		}
		if c.ok && got.String() != map[Precision]string{TF32: "tf32", FP32: "fp32", BF16: "bf16"}[c.want] {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

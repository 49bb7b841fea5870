package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"lab/kernels"
)

// Tests that need a GPU skip where none is usable, saying why. Set
// LAB_CUDA_REQUIRE=1 (as the GPU run does) to make that a failure instead.
var (
	gpuOnce sync.Once
	gpuDev  *Device
	gpuK    *Kernels
	gpuSkip string // why there is no device
	gpuErr  error  // a device exists but could not be set up
)

func TestMain(m *testing.M) {
	// Compile into a fresh cache so the tests see both a compile and a hit,
	// and leave the user's cache alone.
	if os.Getenv("LAB_CUDA_CACHE") == "" {
		dir, err := os.MkdirTemp("", "lab-cuda-cache-")
		if err == nil {
			os.Setenv("LAB_CUDA_CACHE", dir)
			defer os.RemoveAll(dir)
		}
	}
	code := m.Run()
	if gpuK != nil {
		gpuK.Close()
	}
	if gpuDev != nil {
		gpuDev.Close()
	}
	if code != 0 {
		os.Exit(code)
	}
}

func gpu(t testing.TB) (*Device, *Kernels) {
	t.Helper()
	gpuOnce.Do(func() {
		if _, err := Devices(); err != nil {
			gpuSkip = err.Error()
			return
		}
		d, err := Open(0)
		if err != nil {
			gpuErr = err
			return
		}
		gpuDev = d
		gpuK, gpuErr = d.LoadKernels()
	})
	if gpuSkip != "" {
		if os.Getenv("LAB_CUDA_REQUIRE") != "" {
			t.Fatalf("LAB_CUDA_REQUIRE is set but there is no CUDA device: %s", gpuSkip)
		}
		t.Skip("no CUDA device: " + gpuSkip)
	}
	if gpuErr != nil {
		t.Fatal(gpuErr)
	}
	return gpuDev, gpuK
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// nanBits poisons outputs: an element a kernel fails to write stays NaN and
// fails every comparison.
const nanBits = 0x7fc00000

// upload copies src to a new device buffer freed at the end of the test.
func upload(t testing.TB, d *Device, src []float32) Buffer {
	t.Helper()
	b, err := d.Upload(src)
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	return b
}

func uploadInts(t testing.TB, d *Device, src []int32) Buffer {
	t.Helper()
	b, err := d.UploadInts(src)
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	return b
}

// poisoned allocates n floats filled with NaN.
func poisoned(t testing.TB, d *Device, n int) Buffer {
	t.Helper()
	b, err := d.AllocFloats(max(n, 1))
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	must(t, d.Fill32(nil, b, nanBits))
	return b
}

func download(t testing.TB, d *Device, b Buffer, n int) []float32 {
	t.Helper()
	must(t, d.Sync())
	out, err := d.Download(b, n)
	must(t, err)
	return out
}

func randn(rng *rand.Rand, n int, mean, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(mean + std*rng.NormFloat64())
	}
	return out
}

func uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return out
}

// cpuTwin builds a graph with build, compiles it for the CPU and returns
// the output's values: the reference every device kernel is checked against.
func cpuTwin(t testing.TB, build func(g *kernels.Graph) *kernels.Node) []float32 {
	t.Helper()
	g := kernels.NewGraph()
	var out *kernels.Node
	must(t, kernels.Catch(func() { out = build(g) }))
	p, err := kernels.Compile(g, out)
	must(t, err)
	p.Run()
	return p.Value(out).Data
}

func constOf(g *kernels.Graph, name string, data []float32, shape ...int) *kernels.Node {
	return g.Const(name, kernels.FromData(append([]float32(nil), data...), shape...))
}

func intsOf(g *kernels.Graph, name string, data []int32, shape ...int) *kernels.Node {
	t := kernels.NewInts(shape...)
	copy(t.Ints, data)
	return g.Const(name, t)
}

// within checks |got-want| <= tol*(1+|want|) elementwise (NaN never passes)
// and returns the largest |got-want|/(1+|want|), the quantity tol bounds.
func within(t testing.TB, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		if g == w { // equal infinities
			d = 0
		}
		if math.IsNaN(g) != math.IsNaN(w) || d > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d: got %v, want %v (tolerance %.1e*(1+|want|))", what, i, got[i], want[i], tol)
		}
		worst = max(worst, d/(1+math.Abs(w)))
	}
	return worst
}

// sqNorms returns ||got-want||² and ||want||² in float64; a NaN in got
// makes the first +Inf.
func sqNorms(got, want []float32) (diff, norm float64) {
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		diff += d * d
		norm += float64(want[i]) * float64(want[i])
	}
	if math.IsNaN(diff) {
		diff = math.Inf(1)
	}
	return diff, norm
}

// relNorm is ||got-want|| / ||want|| in float64.
func relNorm(got, want []float32) float64 {
	num, den := sqNorms(got, want)
	return math.Sqrt(num / math.Max(den, 1e-300))
}

func errorsAs[T error](err error) (T, bool) {
	var e T
	ok := errors.As(err, &e)
	return e, ok
}

func name(parts ...any) string { return fmt.Sprint(parts...) }

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(body), 0o644))
}

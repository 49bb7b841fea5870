package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDevices(t *testing.T) {
	d, _ := gpu(t)
	infos, err := Devices()
	must(t, err)
	for _, in := range infos {
		t.Logf("device %d: %s, %.1f GiB, compute capability %d.%d, %d SMs, L2 %d MiB, driver %d",
			in.Index, in.Name, float64(in.MemoryBytes)/(1<<30), in.Major, in.Minor, in.SMs, in.L2Bytes>>20, in.DriverVersion)
		if in.Name == "" || in.MemoryBytes <= 0 || in.Major < 3 || in.SMs <= 0 {
			t.Errorf("implausible device info %+v", in)
		}
	}
	free, total, err := d.MemInfo()
	must(t, err)
	if free <= 0 || free > total {
		t.Fatalf("MemInfo free %d total %d", free, total)
	}
}

func TestMemoryRoundTrip(t *testing.T) {
	d, _ := gpu(t)
	rng := rand.New(rand.NewPCG(1, 2))
	x := randn(rng, 1000, 0, 1)
	a := upload(t, d, x)
	b := poisoned(t, d, 1000)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	must(t, d.CopyAsync(s, b, a))
	must(t, s.Sync())
	got := download(t, d, b, 1000)
	for i := range x {
		if got[i] != x[i] {
			t.Fatalf("element %d: %v after a device round trip, want %v", i, got[i], x[i])
		}
	}
	must(t, d.Fill32(s, b.Slice(10, 20), math.Float32bits(-2.5)))
	got = download(t, d, b, 1000)
	if got[9] != x[9] || got[10] != -2.5 || got[19] != -2.5 || got[20] != x[20] {
		t.Fatalf("Fill32 of [10, 20): %v", got[8:22])
	}
	if err := d.CopyIn(b, make([]float32, 1001)); err == nil {
		t.Fatal("copying 1001 floats into a buffer of 1000 should fail")
	}
	if _, err := d.Alloc(1 << 62); err == nil {
		t.Fatal("allocating 4 EiB should fail")
	} else if e, ok := errorsAs[*Error](err); !ok || e.Code != ErrOutOfMemory {
		t.Logf("huge Alloc failed with %v", err)
	}
}

const testSrc = `
extern "C" __global__ void axpb(const float *x, float *y, int n, float a, float b) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) y[i] = a * x[i] + b;
}
`

func TestCompileCacheLaunch(t *testing.T) {
	d, _ := gpu(t)
	src := testSrc + "// " + t.Name() + "\n" // a key no earlier run has cached
	c1, err := CompileSource("axpb.cu", src, d.Info.Major, d.Info.Minor)
	must(t, err)
	c2, err := CompileSource("axpb.cu", src, d.Info.Major, d.Info.Minor)
	must(t, err)
	if c1.Cached || !c2.Cached || string(c1.Image) != string(c2.Image) || c1.CacheErr != nil {
		t.Fatalf("first compile cached=%v (err %v), second cached=%v, same image %v", c1.Cached, c1.CacheErr, c2.Cached, string(c1.Image) == string(c2.Image))
	}
	t.Logf("compiled for %s, %d bytes", c1.Target, len(c1.Image))

	a, err := nvrtc()
	must(t, err)
	ptx, err := a.compileSource("axpb.cu", src, "compute_"+d.Info.Arch(), false, []string{"--gpu-architecture=compute_" + d.Info.Arch()})
	must(t, err)
	for _, img := range []struct {
		name string
		b    []byte
	}{{c1.Target, c1.Image}, {"ptx", ptx.Image}} {
		m, err := d.LoadModule(img.b)
		must(t, err)
		f, err := m.Function("axpb")
		must(t, err)
		n := 1000
		x := randn(rand.New(rand.NewPCG(3, 4)), n, 0, 1)
		xb, yb := upload(t, d, x), poisoned(t, d, n)
		must(t, f.Launch(nil, Dim3{X: (n + 127) / 128}, Dim3{X: 128}, 0, xb, yb, int32(n), float32(2), float32(-1)))
		got := download(t, d, yb, n)
		for i := range x {
			if got[i] != 2*x[i]-1 {
				t.Fatalf("%s: y[%d] = %v, want %v", img.name, i, got[i], 2*x[i]-1)
			}
		}
		if err := f.Launch(nil, Dim3{X: 1}, Dim3{X: 128}, 0, xb, yb, n, float32(2), float32(-1)); err == nil {
			t.Fatal("a plain int argument should be refused")
		}
		if _, err := m.Function("nope"); err == nil {
			t.Fatal("looking up a missing kernel should fail")
		}
		must(t, m.Close())
	}
}

func TestCompileErrorCarriesLog(t *testing.T) {
	d, _ := gpu(t)
	_, err := CompileSource("broken.cu", `extern "C" __global__ void k(float *y) { y[0] = undefined_thing; }`, d.Info.Major, d.Info.Minor)
	ce, ok := errorsAs[*CompileError](err)
	if !ok {
		t.Fatalf("got %v, want a *CompileError", err)
	}
	if !strings.Contains(ce.Error(), "undefined_thing") || !strings.Contains(ce.Error(), "broken.cu") {
		t.Fatalf("error does not carry NVRTC's log: %v", ce)
	}
}

// A captured graph replays the same work: here an affine, an add and a GEMM,
// replayed twice on new inputs copied into the captured buffers.
func TestGraphCapture(t *testing.T) {
	d, k := gpu(t)
	blas := newBLAS(t, d)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	must(t, blas.SetStream(s))
	defer blas.SetStream(nil)
	const m, n, kk = 32, 48, 16
	x, y, w := poisoned(t, d, m*kk), poisoned(t, d, m*kk), poisoned(t, d, kk*n)
	z := poisoned(t, d, m*n)
	g, err := d.Capture(s, func() error {
		return errors.Join(
			k.Affine(s, y, x, m*kk, 3, 1),
			k.Binary(s, Add, y, y, x, m*kk),
			blas.Gemm(false, false, m, n, kk, 1, y, kk, w, n, 0, z, n))
	})
	must(t, err)
	defer g.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for rep := 0; rep < 2; rep++ {
		xs, ws := randn(rng, m*kk, 0, 1), randn(rng, kk*n, 0, 1)
		must(t, d.CopyIn(x, xs))
		must(t, d.CopyIn(w, ws))
		must(t, g.Launch(s))
		must(t, s.Sync())
		got := download(t, d, z, m*n)
		ys := make([]float32, m*kk)
		for i, v := range xs {
			ys[i] = 3*v + 1 + v
		}
		want := naiveGemm(ys, ws, m, n, kk)
		if r := relNorm(got, want); r > 2e-3 {
			t.Fatalf("replay %d: relative error %.2e > 2e-3 (TF32)", rep, r)
		}
	}
}

// naiveGemm is a float64 reference for row-major [m,k]·[k,n].
func naiveGemm(a, b []float32, m, n, k int) []float32 {
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			out[i*n+j] = float32(s)
		}
	}
	return out
}

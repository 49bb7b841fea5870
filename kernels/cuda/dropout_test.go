package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"lab/kernels"
)

// Dropout on the GPU draws the CPU's mask and gives the CPU's bits, forward
// and backward, for several keys replayed through one captured program
// (the key is an input changed between runs).
func TestDropoutMatchesCPUBits(t *testing.T) {
	d, _ := gpu(t)
	rng := rand.New(rand.NewPCG(31, 32))
	for _, tc := range []struct {
		n int
		p float32
	}{{7, 0.5}, {4096, 0.1}, {1<<20 + 3, 0.1}, {1 << 16, 0.9}} {
		x := kernels.NewParam("x", kernels.New(tc.n).Randn(rng, 1))
		r := kernels.New(tc.n).Randn(rng, 1)
		build := func() (*kernels.Graph, *kernels.Node, *kernels.Node, *kernels.Node) {
			g := kernels.NewGraph()
			key := g.IntInput("key", 1)
			y := g.Dropout(g.Param(x), key, tc.p)
			loss := g.SumAll(g.Mul(y, g.Const("r", r)))
			return g, key, y, g.Grad(loss, []*kernels.Node{g.Param(x)})[0]
		}
		cg, ckey, cy, cdx := build()
		cp, err := kernels.Compile(cg, cy, cdx)
		must(t, err)
		gg, gkey, gy, gdx := build()
		gp, err := Compile(d, gg, gy, gdx)
		must(t, err)
		for step := 0; step < 3; step++ {
			k := kernels.DropoutKey(5, step)
			cp.Value(ckey).Ints[0] = k
			cp.Run()
			must(t, gp.SetInts(gkey, []int32{k}))
			must(t, gp.Run())
			for _, o := range []struct {
				what   string
				cn, gn *kernels.Node
			}{{"y", cy, gy}, {"dx", cdx, gdx}} {
				got := make([]float32, tc.n)
				must(t, gp.Read(o.gn, got))
				want := cp.Value(o.cn).Data
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d p=%v step %d %s[%d]: %v, CPU %v", tc.n, tc.p, step, o.what, i, got[i], want[i])
					}
				}
			}
		}
		must(t, gp.Free())
	}
}

package tasks

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMQARInvariants(t *testing.T) {
	for _, p := range []map[string]float64{
		nil,
		{"seq_len": 256, "vocab": 8192, "kv_pairs": 64},
		{"seq_len": 40, "vocab": 22, "kv_pairs": 10, "power_a": 1},
		{"seq_len": 128, "vocab": 8192, "kv_pairs": 8, "random_non_queries": 0},
	} {
		rnq, set := p["random_non_queries"]
		zeros := set && rnq == 0
		task := mustNew(t, "mqar", p)
		L, V, kv := task.SeqLen(), int32(task.Vocab()), task.TargetsPerExample()
		b := mustGenerate(t, task, 200, 9)
		ctx := 2 * kv
		for i := range b.N {
			in, tg, dist := b.Row(i)
			keyAt := map[int32]int{}
			vals := map[int32]bool{}
			for j := range kv {
				k, v := in[2*j], in[2*j+1]
				if k < 1 || k >= V/2 {
					t.Fatalf("example %d: key %d outside 1..%d", i, k, V/2-1)
				}
				if v < V/2 || v >= V {
					t.Fatalf("example %d: value %d outside the upper half", i, v)
				}
				if _, dup := keyAt[k]; dup || vals[v] {
					t.Fatalf("example %d: key %d or value %d repeated", i, k, v)
				}
				keyAt[k], vals[v] = 2*j, true
			}
			for q := range ctx {
				if tg[q] != Ignore {
					t.Fatalf("example %d: target inside the context at %d", i, q)
				}
			}
			asked := map[int32]bool{}
			for q := ctx; q < L; q++ {
				if tg[q] == Ignore {
					if zeros && in[q] != 0 {
						t.Fatalf("example %d: random_non_queries=0 but position %d holds %d", i, q, in[q])
					}
					continue
				}
				if (q-ctx)%2 != 0 {
					t.Fatalf("example %d: query at odd offset %d of the query region", i, q-ctx)
				}
				at, ok := keyAt[in[q]]
				if !ok || asked[in[q]] {
					t.Fatalf("example %d: query %d at %d is not a context key or is asked twice", i, in[q], q)
				}
				asked[in[q]] = true
				if tg[q] != in[at+1] || int(dist[q]) != q-at {
					t.Fatalf("example %d: query at %d: target %d distance %d, want %d and %d", i, q, tg[q], dist[q], in[at+1], q-at)
				}
			}
			if len(asked) != kv {
				t.Fatalf("example %d: %d keys queried, want %d", i, len(asked), kv)
			}
		}
	}
}

// gapCounts returns how often each gap g (query offset/2) is used over n
// examples.
func gapCounts(t *testing.T, params map[string]float64, n int) []int {
	task := mustNew(t, "mqar", params)
	b := mustGenerate(t, task, n, 12)
	ctx := 2 * task.TargetsPerExample()
	counts := make([]int, (task.SeqLen()-ctx)/2)
	for p, y := range b.Targets {
		if y != Ignore {
			counts[(p%b.L-ctx)/2]++
		}
	}
	return counts
}

func TestMQARGapsFavourNear(t *testing.T) {
	counts := gapCounts(t, map[string]float64{"seq_len": 256, "kv_pairs": 8}, 2000)
	near, far := 0, 0
	for g := range 20 {
		near += counts[g]
		far += counts[len(counts)-1-g]
	}
	if near < 2*far {
		t.Errorf("power_a=0.01: %d queries at the 20 nearest gaps, %d at the 20 farthest; want near >> far", near, far)
	}
	// power_a = 1 is uniform: both ends get about the same share.
	counts = gapCounts(t, map[string]float64{"seq_len": 256, "kv_pairs": 8, "power_a": 1}, 2000)
	near, far = 0, 0
	for g := range 20 {
		near += counts[g]
		far += counts[len(counts)-1-g]
	}
	if math.Abs(float64(near-far)) > 0.15*float64(near+far) {
		t.Errorf("power_a=1: near %d, far %d; want about equal", near, far)
	}
}

// TestMQARGapDistribution checks the exact single-query law: with one pair,
// P(g) = (g+1)^(a-1) / sum over gaps.
func TestMQARGapDistribution(t *testing.T) {
	const n, a = 20000, 0.01
	counts := gapCounts(t, map[string]float64{"seq_len": 64, "kv_pairs": 1, "power_a": a}, n)
	sum := 0.0
	for g := range counts {
		sum += math.Pow(float64(g+1), a-1)
	}
	for _, g := range []int{0, 1, 5, 30} {
		p := math.Pow(float64(g+1), a-1) / sum
		if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(counts[g])-n*p) > 5*sd {
			t.Errorf("gap %d: %d draws, want %.0f ± %.0f", g, counts[g], n*p, 5*sd)
		}
	}
}

// TestWeightedDraw checks successive sampling without replacement against
// its exact law for ordered pairs: P(a, b) = w_a/S * w_b/(S - w_a).
func TestWeightedDraw(t *testing.T) {
	w := []float64{1, 2, 3, 4, 0.5}
	d := newWeights(w).newDraw()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	var counts [5][5]int
	out := make([]int, 2)
	for range n {
		d.draw(r, 2, out)
		counts[out[0]][out[1]]++
	}
	S := 10.5
	for a := range w {
		for b := range w {
			p := 0.0
			if a != b {
				p = w[a] / S * w[b] / (S - w[a])
			}
			if sd := math.Sqrt(n*p*(1-p)) + 1; math.Abs(float64(counts[a][b])-n*p) > 5*sd {
				t.Errorf("pair (%d,%d): %d draws, want %.0f", a, b, counts[a][b], n*p)
			}
		}
	}
	// Drawing every index empties the set without repeats.
	all := make([]int, 5)
	d.draw(r, 5, all)
	seen := map[int]bool{}
	for _, i := range all {
		seen[i] = true
	}
	if len(seen) != 5 {
		t.Errorf("full draw %v has repeats", all)
	}
}

// TestDistinct checks both paths of the distinct sampler for repeats and
// rough uniformity.
func TestDistinct(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var d distinct
	for _, n := range []int{10, 1000} { // small-range and hash-set paths
		const k, rounds = 5, 20000
		counts := make([]int, n)
		out := make([]int, k)
		for range rounds {
			d.draw(r, n, k, out)
			seen := map[int]bool{}
			for _, x := range out {
				if x < 0 || x >= n || seen[x] {
					t.Fatalf("n=%d: draw %v out of range or repeated", n, out)
				}
				seen[x] = true
				counts[x]++
			}
		}
		want := float64(rounds*k) / float64(n)
		for x, c := range counts {
			if math.Abs(float64(c)-want) > 6*math.Sqrt(want)+1 {
				t.Errorf("n=%d: value %d drawn %d times, want about %.0f", n, x, c, want)
			}
		}
	}
}

// random_non_queries only changes the filler: the keys, values, gaps and
// targets of each example are the same draws either way, and 2 is refused.
func TestMQARZeroFill(t *testing.T) {
	p := map[string]float64{"seq_len": 64, "vocab": 128, "kv_pairs": 4}
	a := mustGenerate(t, mustNew(t, "mqar", p), 50, 3)
	p["random_non_queries"] = 0
	b := mustGenerate(t, mustNew(t, "mqar", p), 50, 3)
	for i := range a.Targets {
		if a.Targets[i] != b.Targets[i] || (a.Targets[i] != Ignore || i%a.L < 8) && a.Inputs[i] != b.Inputs[i] {
			t.Fatalf("position %d: %d/%d vs %d/%d", i, a.Inputs[i], a.Targets[i], b.Inputs[i], b.Targets[i])
		}
	}
	p["random_non_queries"] = 2
	if _, err := New("mqar", p); err == nil {
		t.Fatal("random_non_queries = 2 accepted")
	}
}

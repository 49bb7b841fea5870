package tasks

import (
	"math"
	"math/rand/v2"
)

// mqarDef is multi-query associative recall exactly as Zoology
// (HazyResearch, zoology/data/multiquery_ar.py) generates it.
//
// Keys are ids 1..vocab/2-1 and values vocab/2..vocab-1. An example draws
// kv_pairs distinct keys and kv_pairs distinct values (without replacement)
// and writes the context k1 v1 k2 v2 ... at positions 0..2*kv_pairs-1. The
// rest of the sequence is the query region; with space = (seq_len -
// 2*kv_pairs)/2, it draws kv_pairs distinct gaps g in [0, space), each draw
// proportional to power_a*(g+1)^(power_a-1) among the gaps not yet drawn, and
// puts key j at position 2*kv_pairs + 2*g_j. Every other position of the
// query region is a uniform random token from [0, vocab), or 0 with
// random_non_queries = 0 (Zoology's random_non_queries=False, which its
// paper figures use). The target at a
// query position is the key's value (Zoology's labels after its one-token
// shift), and Distance there is the query position minus the key's context
// position.
//
// Zoology also asserts vocab > seq_len; that is not needed for the task to be
// well formed and is not enforced here.
var mqarDef = definition{
	info: Info{
		Name: "mqar",
		Doc:  "multi-query associative recall (Zoology's MQAR)",
		Rule: "Context k1 v1 ... kN vN (N = kv_pairs distinct keys from 1..vocab/2-1, distinct values from vocab/2..vocab-1); " +
			"then each key once more at position 2N+2g, the N distinct gaps g in [0, (seq_len-2N)/2) drawn without replacement with weight power_a*(g+1)^(power_a-1), " +
			"every other position a uniform random token (0 with random_non_queries=0); the target at each queried key is its value.",
		Params: []Param{
			{Name: "seq_len", Default: 64, Integer: true, Min: 4, Doc: "sequence length; even, >= 4*kv_pairs"},
			{Name: "vocab", Default: 256, Integer: true, Min: 4, Doc: "vocabulary size; kv_pairs <= vocab/2-1"},
			{Name: "kv_pairs", Default: 8, Integer: true, Min: 1, Doc: "key-value pairs in the context, each queried once"},
			{Name: "power_a", Default: 0.01, Min: 0, Doc: "gap distribution exponent, > 0 and <= 16: weight of gap g is power_a*(g+1)^(power_a-1); 1 is uniform, smaller favours near gaps"},
			{Name: "random_non_queries", Default: 1, Integer: true, Min: 0, Doc: "1: positions of the query region without a query hold uniform random tokens; 0: they hold 0 (Zoology's paper figures)"},
		},
	},
	build: buildMQAR,
}

// maxPowerA keeps the largest gap weight ratio, space^(power_a-1), within
// float64 range.
const maxPowerA = 16

type mqar struct {
	L, V, kv int
	zeros    bool // random_non_queries = 0
	gaps     *weights
}

func buildMQAR(v values) (generator, *ParamError) {
	L, V, kv, a := v.int("seq_len"), v.int("vocab"), v.int("kv_pairs"), v.float("power_a")
	rnq := v.int("random_non_queries")
	switch {
	case rnq > 1:
		return nil, v.bad("random_non_queries", "must be 0 or 1")
	case L%2 != 0:
		return nil, v.bad("seq_len", "must be even")
	case kv > V/2-1:
		return nil, v.bad("kv_pairs", "must be <= vocab/2-1 (%d): keys are distinct ids 1..vocab/2-1", V/2-1)
	case 4*kv > L:
		return nil, v.bad("kv_pairs", "4*kv_pairs must be <= seq_len (%d)", L)
	case a <= 0 || a > maxPowerA:
		return nil, v.bad("power_a", "must be > 0 and <= %d", maxPowerA)
	}
	return &mqar{L: L, V: V, kv: kv, zeros: rnq == 0, gaps: newWeights(powerLaw((L-2*kv)/2, a))}, nil
}

// powerLaw returns the weights power_a*(g+1)^(power_a-1) for g in [0, n),
// rescaled so the largest is 1 (the scale does not change the sampling).
func powerLaw(n int, a float64) []float64 {
	ref := 1.0 // the largest weight is at g = 0 for a <= 1 and at g = n-1 above
	if a > 1 {
		ref = float64(n)
	}
	w := make([]float64, n)
	for g := range w {
		w[g] = math.Exp((a - 1) * (math.Log(float64(g+1)) - math.Log(ref)))
	}
	return w
}

func (m *mqar) targets() int { return m.kv }

func (m *mqar) worker() func(r *rand.Rand, in, tg, dist []int32) {
	var keys, vals distinct
	gaps := m.gaps.newDraw()
	ks, vs, gs := make([]int, m.kv), make([]int, m.kv), make([]int, m.kv)
	half, ctx := m.V/2, 2*m.kv
	return func(r *rand.Rand, in, tg, dist []int32) {
		keys.draw(r, half-1, m.kv, ks)
		vals.draw(r, m.V-half, m.kv, vs)
		for j := range m.kv {
			in[2*j], in[2*j+1] = int32(ks[j]+1), int32(vs[j]+half)
		}
		gaps.draw(r, m.kv, gs)
		// Filling the whole query region first and overwriting the query
		// positions gives the same distribution as filling only the rest.
		for p := ctx; p < m.L; p++ {
			if m.zeros {
				in[p] = 0
			} else {
				in[p] = int32(r.IntN(m.V))
			}
		}
		for j, g := range gs {
			p := ctx + 2*g
			in[p], tg[p], dist[p] = in[2*j], in[2*j+1], int32(p-2*j)
		}
	}
}

package experiments

import (
	"math"
	"math/bits"

	"lab/architectures"
	"lab/kernels"
	"lab/store"
	"lab/tasks"
)

// evaluator runs one held-out set through a forward-only graph.
type evaluator struct {
	set  PreparedEval
	data *tasks.Batch
	f    *feeder
	in   feed
	prog evalProgram
	loss *kernels.Node
	rows []int
}

func newEvaluator(m *architectures.Model, set PreparedEval, batch int, b backend, cache *dataCache) (*evaluator, error) {
	data, err := cache.generate(set.Task, set.Examples, set.Seed)
	if err != nil {
		return nil, err
	}
	batch = min(batch, set.Examples)
	g := kernels.NewGraph()
	f := newFeeder(g, set.Task, batch)
	e := &evaluator{set: set, data: data, f: f, rows: make([]int, batch)}
	err = kernels.Catch(func() {
		f.logits = m.Logits(g, f.ids, f.at, architectures.Chunked)
		e.loss = g.CrossEntropy(f.logits, f.targets)
	})
	if err != nil {
		return nil, err
	}
	if e.prog, err = b.compileEval(g, f.logits, e.loss); err != nil {
		return nil, err
	}
	e.in = f.buffers(e.prog.ints)
	return e, nil
}

// bucketOf maps a key-query distance to its power-of-two bucket [2^i, 2^(i+1)).
func bucketOf(d int32) int { return bits.Len32(uint32(d)) - 1 }

// run scores every example with the current host weights: accuracy (argmax
// = target at each target position), mean loss and accuracy by distance
// bucket.
func (e *evaluator) run() (store.Result, error) {
	if err := e.prog.pushParams(); err != nil {
		return store.Result{}, err
	}
	n := e.set.Examples
	var correct, total int
	var lossSum float64
	var batches int
	buckets := map[int]*store.Bucket{}
	for start := 0; start < n; start += e.f.b {
		// The last batch wraps around to keep the shape; repeats are not scored.
		real := min(e.f.b, n-start)
		for i := range e.rows {
			e.rows[i] = (start + i) % n
		}
		if err := e.f.fill(e.in, e.data, e.rows); err != nil {
			return store.Result{}, err
		}
		if err := e.prog.run(); err != nil {
			return store.Result{}, err
		}
		loss, err := e.prog.floats(e.loss)
		if err != nil {
			return store.Result{}, err
		}
		lossSum += float64(loss[0])
		batches++
		lg, err := e.prog.floats(e.f.logits)
		if err != nil {
			return store.Result{}, err
		}
		v := e.f.logits.Shape[1]
		at, tg := e.in.at, e.in.targets
		for k := range tg {
			bi := int(at[k]) / e.f.l
			if bi >= real {
				continue
			}
			row := lg[k*v : (k+1)*v]
			best := 0
			for j, x := range row {
				if x > row[best] {
					best = j
				}
			}
			ok := int32(best) == tg[k]
			total++
			if ok {
				correct++
			}
			r := e.rows[bi]
			if d := e.data.Distance[r*e.data.L+int(at[k])%e.f.l]; d > 0 {
				i := bucketOf(d)
				b := buckets[i]
				if b == nil {
					b = &store.Bucket{Lo: 1 << i, Hi: 1 << (i + 1)}
					buckets[i] = b
				}
				b.Total++
				if ok {
					b.Correct++
				}
			}
		}
	}
	res := store.Result{
		EvalName: e.set.Name, SeqLen: e.set.Task.SeqLen(), Examples: n,
		Accuracy: float64(correct) / math.Max(1, float64(total)),
		Loss:     lossSum / math.Max(1, float64(batches)),
		Params:   e.set.Task.Params(),
	}
	if kv, ok := res.Params["kv_pairs"]; ok {
		res.KVPairs = int(kv)
	}
	for i := 0; i < 32; i++ {
		if b, ok := buckets[i]; ok {
			res.ByDistance = append(res.ByDistance, *b)
		}
	}
	return res, nil
}

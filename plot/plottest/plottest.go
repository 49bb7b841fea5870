// Package plottest fills a lab database with a small synthetic record of
// runs, metrics and benchmarks, deterministic from a seed, for tests of
// figures and notebooks. Nothing in it is trained: the numbers follow
// simple rules (softmax recalls best and its state grows with length; the
// fixed-state mixers recall less as the length grows).
package plottest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"lab/store"
)

// Mixers are the mixers Fill records, in order.
var Mixers = []string{"softmax(conv=2)", "linear(feature=elu1, conv=2)", "gla(conv=2)", "conv(kernel=4)"}

// Seeds are the training seeds Fill records for every mixer.
var Seeds = []int{1, 2, 3}

// EvalLengths are the evaluation lengths of every run; runs train at the
// first.
var EvalLengths = []int{64, 128, 256, 512}

// BenchLengths are the lengths of the bench rows.
var BenchLengths = []int{64, 128, 256, 512, 1024}

// DModel is the width of every model.
const DModel = 32

// Steps is the number of training steps each run logs.
const Steps = 100

// Fill writes len(Mixers)·len(Seeds) finished runs (spec "synthetic"), each
// with a train/loss curve, eval accuracy and loss curves and one result per
// EvalLengths, and bench rows of metrics "time" (ms) and "peak_memory"
// (bytes), three repeats per mixer and length. It returns the run ids in
// the order written.
func Fill(db *store.DB, seed uint64) ([]string, error) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var ids []string
	for mi, mixer := range Mixers {
		for _, s := range Seeds {
			id, err := addRun(db, rng, mi, mixer, s)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	var bs []store.Bench
	for mi, mixer := range Mixers {
		for _, l := range BenchLengths {
			for range 3 {
				noise := 1 + 0.05*(rng.Float64()-0.5)
				t := 0.002 * float64(l) * noise
				mem := float64(l*DModel*4) * 3
				if mi == 0 { // quadratic in length
					t = 2e-5 * float64(l*l) * noise
					mem += float64(l * l * 4)
				}
				bs = append(bs,
					store.Bench{Kind: "forward", Mixer: mixer, Device: "cpu", Host: "test", SeqLen: l, Batch: 8, DModel: DModel, Metric: "time", Value: t, Unit: "ms"},
					store.Bench{Kind: "forward", Mixer: mixer, Device: "cpu", Host: "test", SeqLen: l, Batch: 8, DModel: DModel, Metric: "peak_memory", Value: mem, Unit: "bytes"})
			}
		}
	}
	if _, err := db.AddBench(bs); err != nil {
		return nil, err
	}
	return ids, nil
}

// addRun writes one finished run of mixer number mi.
func addRun(db *store.DB, rng *rand.Rand, mi int, mixer string, seed int) (string, error) {
	cfg, _ := json.Marshal(map[string]any{
		"name": "synthetic", "seed": seed,
		"task":  map[string]any{"name": "mqar", "seq_len": EvalLengths[0], "kv_pairs": 4},
		"model": map[string]any{"d_model": DModel, "layers": 2, "mixer": mixer},
	})
	state := []int64{2 * 2 * int64(EvalLengths[0]) * DModel * 4, 2 * DModel * DModel * 4, 2 * DModel * DModel * 4, 2 * 3 * DModel * 4}[mi]
	id, err := db.CreateRun(store.NewRun{
		SpecName: "synthetic", TrialIndex: mi, TrialName: "mixer=" + mixer, TrialKey: fmt.Sprintf("k%d-%d", mi, seed),
		Config: cfg, Device: "cpu", Host: "test", Params: 30000, StateBytes: state,
		FLOPsPerToken: float64(1e5 * (4 - mi)),
	})
	if err != nil {
		return "", err
	}
	// Recall at length l: softmax stays high; the others fall with length,
	// the weaker the mixer the faster.
	acc := func(l int) float64 {
		base := []float64{0.99, 0.8, 0.9, 0.3}[mi]
		fall := []float64{0.01, 0.15, 0.1, 0.05}[mi]
		a := base - fall*math.Log2(float64(l)/float64(EvalLengths[0])) + 0.03*(rng.Float64()-0.5)
		return min(1, max(0, a))
	}
	var ms []store.Metric
	for step := 10; step <= Steps; step += 10 {
		loss := 4*math.Exp(-float64(step)/30*(1.5-0.3*float64(mi))) + 0.05 + 0.02*rng.Float64()
		ms = append(ms, store.Metric{Step: step, Name: "train/loss", Value: loss})
	}
	var res []store.Result
	for _, l := range EvalLengths {
		name := fmt.Sprintf("L%d", l)
		a := acc(l)
		for _, step := range []int{Steps / 2, Steps} {
			f := float64(step) / Steps
			ms = append(ms, store.Metric{Step: step, Name: "eval/" + name + "/accuracy", Value: a * f},
				store.Metric{Step: step, Name: "eval/" + name + "/loss", Value: 4 * (1 - a*f)})
		}
		res = append(res, store.Result{EvalName: name, SeqLen: l, KVPairs: l / 16, Accuracy: a, Loss: 4 * (1 - a), Examples: 100})
	}
	if err := db.LogMetrics(id, ms); err != nil {
		return "", err
	}
	return id, db.FinishRun(id, store.Finish{Status: "done", Results: res, Wall: 10, StepTimeMS: float64(20 + 10*mi)})
}

// SweepMixers, SweepSettings, SweepWidths and SweepLRs are the grid
// FillSweep records: Zoology's figure 2 in miniature.
var (
	SweepMixers   = []string{"softmax", "rwkv4"}
	SweepSettings = [][2]int{{64, 4}, {128, 8}, {256, 16}, {512, 64}} // seq_len, kv_pairs
	SweepWidths   = []int{64, 128, 256, 512}
	SweepLRs      = []float64{1e-4, 1e-3, 1e-2}
)

// SweepAccuracy is the accuracy FillSweep records for a run: softmax near
// 1 everywhere, rwkv4 rising with the width and falling with the length;
// the learning rate 1e-3 is the best, the others reach 60% and 80% of it.
func SweepAccuracy(mixer string, seqLen, dModel int, lr float64) float64 {
	a := 0.99
	if mixer != "softmax" {
		a = max(0.02, 0.3+0.2*math.Log2(float64(dModel)/64)-0.1*math.Log2(float64(seqLen)/64))
	}
	switch lr {
	case 1e-4:
		a *= 0.6
	case 1e-2:
		a *= 0.8
	}
	return min(1, a)
}

// FillSweep writes one finished run (spec and config name spec, one eval set "test" at
// the training length, a loss curve of two points) for every mixer, setting, width and learning rate
// of the sweep grid, in that order (the learning rate varies fastest), and
// returns their ids. Nothing is random: the accuracy is SweepAccuracy.
func FillSweep(db *store.DB, spec string) ([]string, error) {
	var ids []string
	i := 0
	for _, mixer := range SweepMixers {
		for _, st := range SweepSettings {
			for _, d := range SweepWidths {
				for _, lr := range SweepLRs {
					cfg, _ := json.Marshal(map[string]any{
						"name": spec, "seed": 1,
						"task":  map[string]any{"name": "mqar", "seq_len": st[0], "kv_pairs": st[1], "vocab": 8192},
						"model": map[string]any{"d_model": d, "heads": 1, "layers": 2, "mixer": mixer, "channel": "none", "norm": "layernorm", "chunk": 64},
						"train": map[string]any{"lr": lr, "epochs": 64},
					})
					state := int64(2 * 2 * st[0] * d * 4)
					if mixer != "softmax" {
						state = int64(2 * 4 * d * 4)
					}
					id, err := db.CreateRun(store.NewRun{SpecName: spec, TrialIndex: i, TrialName: fmt.Sprintf("%s L%d d%d lr%g", mixer, st[0], d, lr),
						TrialKey: fmt.Sprintf("%s-%d", spec, i), Config: cfg, Device: "cpu", Host: "test", Params: int64(d * d), StateBytes: state,
						FLOPsPerToken: float64(d * d)})
					if err != nil {
						return nil, err
					}
					acc := SweepAccuracy(mixer, st[0], d, lr)
					err = db.LogMetrics(id, []store.Metric{{Step: 10, Name: "train/loss", Value: 4}, {Step: 20, Name: "train/loss", Value: 4 * (1 - acc)},
						{Step: 20, Name: "eval/test/accuracy", Value: acc}})
					if err != nil {
						return nil, err
					}
					err = db.FinishRun(id, store.Finish{Status: "done", Wall: 1, StepTimeMS: 1, Results: []store.Result{
						{EvalName: "test", SeqLen: st[0], KVPairs: st[1], Accuracy: acc, Loss: 1 - acc, Examples: 100}}})
					if err != nil {
						return nil, err
					}
					ids = append(ids, id)
					i++
				}
			}
		}
	}
	return ids, nil
}

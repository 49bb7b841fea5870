package experiments

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lab/store"
)

// Trials that cannot fit are refused before their weights are allocated,
// naming the field, the bytes needed and the bytes available; ones that fit
// pass. (Before: these passed validation and died in the allocator with
// "fatal error: out of memory".)
func TestPriceRefusesWhatCannotFit(t *testing.T) {
	const limit = 64 << 30 // an explicit --max-mem: the test does not depend on this machine
	for _, c := range []struct {
		name     string
		old, new string
		want     string // "" : fits
		d4096    bool   // and d_model 4096
	}{
		{name: "base", old: "d_model:", new: "d_model: 64"},
		{name: "wide", old: "d_model:", new: "d_model: 256"},
		{name: "d_model 1e6", old: "d_model:", new: "d_model: 1000000", want: "model.d_model = 1000000: needs about"},
		{name: "deep and wide", old: "layers:", new: "layers: 1024", d4096: true, want: "model.d_model x model.layers = 4096 x 1024: needs about"},
		{name: "seq_len 2^20", old: "seq_len:", new: "seq_len: 1048576", want: "train.batch x task.seq_len = 64 x 1048576: needs about"},
		{name: "train_examples 1e9", old: "vocab:", new: "vocab: 128\ntrain_examples: 1e9", want: "task.train_examples = 1000000000: needs about"},
		{name: "batch 1e6", old: "batch:", new: "batch: 1000000", want: "train.batch x task.seq_len = 1000000 x 64: needs about"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := edit(t, c.old, c.new)
			if c.d4096 {
				src = strings.Replace(src, "d_model: 64", "d_model: 4096", 1)
			}
			s, err := Parse([]byte(src), "q.yaml")
			if err != nil {
				t.Fatal(err)
			}
			trials, err := s.Expand()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			p, err := PrepareWithin(trials[0], limit)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got, est := p.Model.ParamCount(), p.Price.ParamCount; est < got/2 || est > 2*got {
					t.Errorf("estimated %d parameters, the model has %d", est, got)
				}
				return
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("refusing took %v: something was allocated", time.Since(start))
			}
			checkErr(t, err, c.want, "bytes (", "but 68719476736 bytes (64.0 GiB) are available (--max-mem)")
		})
	}
}

// The estimate sums its parts without overflow and grows with each size.
func TestPriceSpecParts(t *testing.T) {
	s, _ := Parse([]byte(base), "q.yaml")
	trials, _ := s.Expand()
	p, err := Prepare(trials[0])
	if err != nil {
		t.Fatal(err)
	}
	sp := trials[0].Spec
	p0 := PriceSpec(&sp, p.Train, nil)
	if p0.Params <= 0 || p0.Activations <= 0 || p0.Data != 20000*64*12 || p0.Total() != p0.Params+p0.Activations+p0.Data {
		t.Fatalf("%+v", p0)
	}
	sp.Train.Batch *= 2
	if p1 := PriceSpec(&sp, p.Train, nil); p1.Activations <= p0.Activations || p1.Params != p0.Params {
		t.Errorf("doubling the batch: %+v from %+v", p1, p0)
	}
	sp.Model.DModel = 1 << 20
	sp.Model.Layers = 1024
	sp.Task.TrainExamples = 1 << 32
	if p2 := PriceSpec(&sp, p.Train, p.Evals); p2.Total() <= 0 {
		t.Errorf("overflow: %+v", p2)
	}
	if n, ok := MemAvailable(); ok && n <= 0 {
		t.Errorf("MemAvailable %d", n)
	}
}

// smallGPU is a device-like backend that reports free bytes of memory.
type smallGPU struct {
	deviceLike
	free int64
}

func (b *smallGPU) freeMemory() (int64, error) { return b.free, nil }

// On a GPU a sweep is priced against the device's free memory, each trial
// alone, before the database is touched; the host's --max-mem, when given,
// is the limit instead.
func TestDevicePriceRefusesBeforeWriting(t *testing.T) {
	s := sweepSpec(t, threeTrials)
	trials, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	p, err := PrepareWithin(trials[0], 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	one := sat(p.Price.Params, p.Price.Activations)
	for _, c := range []struct {
		name    string
		free    int64
		workers int
		maxMem  int64
		want    string // "": runs
	}{
		{name: "fits", free: 1 << 40, workers: 1},
		{name: "too small", free: one / 2, workers: 1, want: "needs about " + strconv.FormatInt(one, 10) + " bytes of GPU memory"},
		{name: "three at once are priced one by one", free: 2 * one, workers: 3},
		{name: "--max-mem decides", free: one / 2, workers: 1, maxMem: 1 << 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gpu.sqlite")
			db := openDB(t, path)
			o := opts(t, db)
			o.backends = []backend{&smallGPU{deviceLike: deviceLike{name: "cuda:0 (fake)"}, free: c.free}}
			o.Workers, o.MaxMem = c.workers, c.maxMem
			_, err := Run(s, o)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "free on cuda:0 (fake)") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line with %q", err, c.want)
			}
			if runs, err := db.Runs(store.Filter{}); err != nil || len(runs) != 0 {
				t.Fatalf("a refused sweep wrote %d runs (%v)", len(runs), err)
			}
		})
	}
}

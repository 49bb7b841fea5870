package bench

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"lab/architectures"
)

func tinyTrain() TrainConfig {
	return TrainConfig{Mixers: []string{"softmax", "linear(feature=elu1)"}, DModels: []int{8}, Lengths: []int{8, 16},
		Batch: 2, Vocab: 32, Layers: 2, Heads: 1, MLPRatio: 4, Norm: "layernorm", Chunk: 4, TargetFrac: 1,
		Warmup: 1, Reps: 3, Seed: 1}
}

// On the CPU every shape is timed, the loss after the steps is finite and
// near ln(vocab) (random targets), and the planned memory is reported.
func TestTrainCPU(t *testing.T) {
	c := tinyTrain()
	var heard int
	c.Progress = func(TrainResult) { heard++ }
	rs, err := Train(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || heard != 4 {
		t.Fatalf("%d results, %d heard; want 4", len(rs), heard)
	}
	for _, r := range rs {
		if r.Err != nil || !(r.MS > 0) || r.MinMS > r.MS || r.PlannedBytes <= 0 || r.Params <= 0 || r.Device != "cpu" {
			t.Fatalf("%+v", r)
		}
		if math.Abs(r.Loss-math.Log(32)) > 0.5 {
			t.Fatalf("%s L=%d: loss %v, want near ln 32 = %.3f", r.Mixer, r.SeqLen, r.Loss, math.Log(32))
		}
	}
	// Fewer targets: the head runs at a quarter of the positions and
	// plans less memory.
	c.TargetFrac, c.Mixers, c.Lengths = 0.25, c.Mixers[:1], c.Lengths[1:]
	few, err := Train(c)
	if err != nil || few[0].Err != nil {
		t.Fatal(err, few[0].Err)
	}
	if few[0].PlannedBytes >= rs[1].PlannedBytes {
		t.Fatalf("targets at 1/4 of the positions plan %d bytes, at all %d", few[0].PlannedBytes, rs[1].PlannedBytes)
	}
}

// A loss that is not finite fails its shape; the others go on.
func TestTrainNaNIsAnError(t *testing.T) {
	c := tinyTrain()
	c.Mixers = c.Mixers[:1]
	c.mutate = func(m *architectures.Model) {
		for _, p := range m.Params() {
			p.Value.Data[0] = float32(math.NaN())
		}
	}
	rs, err := Train(c)
	if err != nil || len(rs) != 2 {
		t.Fatal(err, len(rs))
	}
	for _, r := range rs {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "NaN") {
			t.Fatalf("want a NaN error, got %+v", r)
		}
	}
	var b bytes.Buffer
	WriteTrainTable(&b, "lab", rs, c.Lengths, true)
	if !strings.Contains(b.String(), "error") {
		t.Fatalf("table does not show the failure:\n%s", b.String())
	}
}

func TestTrainCheck(t *testing.T) {
	for name, f := range map[string]func(*TrainConfig){
		"no mixer":        func(c *TrainConfig) { c.Mixers = nil },
		"zero batch":      func(c *TrainConfig) { c.Batch = 0 },
		"negative length": func(c *TrainConfig) { c.Lengths = []int{-4} },
		"heads":           func(c *TrainConfig) { c.Heads = 3 },
		"targets 0":       func(c *TrainConfig) { c.TargetFrac = 0 },
		"targets > 1":     func(c *TrainConfig) { c.TargetFrac = 1.5 },
		"reps":            func(c *TrainConfig) { c.Reps = 0 },
		"warmup":          func(c *TrainConfig) { c.Warmup = -1 },
		"norm":            func(c *TrainConfig) { c.Norm = "batchnorm" },
	} {
		c := tinyTrain()
		f(&c)
		var ie *architectures.InputError
		if err := c.Check(); !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an input error", name, err)
		}
	}
	c := tinyTrain()
	if err := CheckMixer(c, "softmx"); err == nil {
		t.Error("unknown mixer accepted")
	}
}

// The table's layout is the one scripts/torch_reference.py prints.
func TestTrainTableLayout(t *testing.T) {
	rs := []TrainResult{
		{Mixer: "softmax", DModel: 64, SeqLen: 64, MS: 0.884},
		{Mixer: "softmax", DModel: 64, SeqLen: 1024, MS: 8.876},
		{Mixer: "linear(feature=elu1)", DModel: 64, SeqLen: 64, MS: 1.08, Err: errors.New("boom")},
	}
	var b bytes.Buffer
	WriteTrainTable(&b, "lab", rs, []int{64, 256, 1024}, true)
	want := "impl           mixer                          d     L=64    L=256   L=1024\n" +
		"lab            softmax                       64     0.88        -     8.88\n" +
		"lab            linear(feature=elu1)          64    error        -        -\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteTrainCSV(&b, "lab", rs); err != nil || strings.Count(b.String(), "\n") != 4 || !strings.Contains(b.String(), "boom") {
		t.Fatalf("csv %v:\n%s", err, b.String())
	}
	b.Reset()
	WriteTrainMarkdown(&b, "lab", rs, []int{64, 256, 1024})
	if !strings.Contains(b.String(), "| lab | softmax | 64 | 0.88 | - | 8.88 |") {
		t.Fatalf("markdown:\n%s", b.String())
	}
}

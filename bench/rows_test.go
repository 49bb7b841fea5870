package bench

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TrainRows records two rows per measured shape (time in ms, planned memory
// in bytes) with the workload in the config, and none for a failed shape.
func TestTrainRows(t *testing.T) {
	cfg := tinyTrain()
	rs := []TrainResult{
		{Mixer: "softmax", DModel: 8, SeqLen: 16, Device: "cpu", MS: 1.5, MinMS: 1.25, PlannedBytes: 4096, Loss: 3.4},
		{Mixer: "linear(feature=elu1)", DModel: 8, SeqLen: 16, Device: "cpu", Err: errors.New("out of memory")},
	}
	rows := TrainRows(rs, cfg, "h1")
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (the failed shape has none): %+v", len(rows), rows)
	}
	tm, mem := rows[0], rows[1]
	if tm.Kind != "train_step" || tm.Metric != "time" || tm.Value != 1.5 || tm.Unit != "ms" ||
		mem.Metric != "memory" || mem.Value != 4096 || mem.Unit != "bytes" {
		t.Errorf("rows %+v %+v", tm, mem)
	}
	for _, r := range rows {
		if r.Mixer != "softmax" || r.Device != "cpu" || r.Host != "h1" || r.SeqLen != 16 || r.Batch != cfg.Batch || r.DModel != 8 {
			t.Errorf("row %+v", r)
		}
	}
	var conf map[string]any
	if err := json.Unmarshal(tm.Config, &conf); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"vocab": 32.0, "layers": 2.0, "heads": 1.0, "mlp_ratio": 4.0, "norm": "layernorm", "chunk": 4.0,
		"targets": 1.0, "precision": "fp32", "warmup": 1.0, "reps": 3.0, "loss": 3.4, "min_ms": 1.25, "device_bytes": 0.0}
	for k, v := range want {
		if conf[k] != v {
			t.Errorf("config %s = %v, want %v", k, conf[k], v)
		}
	}
	if len(conf) != len(want) {
		t.Errorf("config %v has keys beyond %v", conf, want)
	}
}

// Config.Check names the flag of the first bad size or kind before it
// builds any mixer; MaxMemBytes refuses what is not a positive size.
func TestCostCheck(t *testing.T) {
	good := Config{Mixers: []string{"linear"}, Lengths: []int{8}, DModel: 8, Heads: 2, Batch: 1, Chunk: 4}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.DModel = 0 }, "--d-model 0: must be a positive integer"},
		{func(c *Config) { c.Heads = -1 }, "--heads -1: must be a positive integer"},
		{func(c *Config) { c.Batch = 0 }, "--batch 0: must be a positive integer"},
		{func(c *Config) { c.Chunk = 0 }, "--chunk 0: must be a positive integer"},
		{func(c *Config) { c.Heads = 3 }, "--heads 3: must divide --d-model 8"},
		{func(c *Config) { c.Lengths = []int{8, -2} }, "--length -2: must be a positive integer"},
		{func(c *Config) { c.Kinds = []string{"decode", "train"} }, `--kind "train": allowed: forward, forward_backward, prefill, decode`},
		{func(c *Config) { c.Mixers = []string{"bogus"}; c.DModel = 0 }, "--d-model 0"},
	} {
		cfg := good
		c.edit(&cfg)
		if err := cfg.Check(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Check() = %v, want %q", err, c.want)
		}
	}
	for _, gib := range []float64{0, -1, 1e-10} {
		if _, err := MaxMemBytes(gib); err == nil {
			t.Errorf("MaxMemBytes(%v) accepted", gib)
		}
	}
	if b, err := MaxMemBytes(0.5); err != nil || b != 1<<29 {
		t.Errorf("MaxMemBytes(0.5) = %d, %v", b, err)
	}
}

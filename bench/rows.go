package bench

import (
	"encoding/json"

	"lab/store"
)

// TrainRows are the bench rows `lab bench train --db` records for rs: for
// each shape measured (failed ones are left out) a train_step row of its
// median time in ms and one of its planned memory in bytes, both with the
// workload's settings, the loss, the fastest step and the device bytes in
// the row's config. host names the machine.
func TrainRows(rs []TrainResult, cfg TrainConfig, host string) []store.Bench {
	var bs []store.Bench
	for _, r := range rs {
		if r.Err != nil {
			continue
		}
		conf, _ := json.Marshal(map[string]any{"vocab": cfg.Vocab, "layers": cfg.Layers, "heads": cfg.Heads, "mlp_ratio": cfg.MLPRatio,
			"norm": cfg.Norm, "chunk": cfg.Chunk, "targets": cfg.TargetFrac, "precision": cfg.PrecisionName(), "warmup": cfg.Warmup,
			"reps": cfg.Reps, "loss": r.Loss, "min_ms": r.MinMS, "device_bytes": r.DeviceBytes})
		row := store.Bench{Kind: "train_step", Mixer: r.Mixer, Device: r.Device, Host: host, SeqLen: r.SeqLen, Batch: cfg.Batch,
			DModel: r.DModel, Config: conf}
		t, m := row, row
		t.Metric, t.Value, t.Unit = "time", r.MS, "ms"
		m.Metric, m.Value, m.Unit = "memory", float64(r.PlannedBytes), "bytes"
		bs = append(bs, t, m)
	}
	return bs
}

package experiments

import (
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lab/checkpoint"
)

type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A checkpoint that cannot be written (a full disk) marks the trial failed
// with the cause, and the previous checkpoint stays loadable.
func TestCheckpointWriteErrorFailsTrial(t *testing.T) {
	p, db := tinyTrial(t)
	saves := 0
	defer checkpoint.SetWriteHook(func(w io.Writer) io.Writer {
		saves++
		if saves >= 2 {
			return fullDisk{}
		}
		return w
	})()
	o := opts(t, db)
	out := runTrial(p, 0, 1, "test", cpuBackend{}, o)
	if out.Status != "failed" || out.Err == nil || !strings.Contains(out.Err.Error(), "checkpoint at step 10") || !strings.Contains(out.Err.Error(), "no space left on device") {
		t.Fatalf("status %q err %v, want failed at the step-10 checkpoint with the cause", out.Status, out.Err)
	}
	r, err := db.Run(out.RunID)
	if err != nil || r.Status != "failed" || !strings.Contains(r.Error, "no space left on device") {
		t.Fatalf("stored run %+v (%v), want failed with the cause", r, err)
	}
	_, meta, err := checkpoint.Load(filepath.Join(o.CheckpointDir, out.RunID+".safetensors"))
	if err != nil || meta["step"] != "5" {
		t.Fatalf("previous checkpoint: step %q, %v; want step 5 intact", meta["step"], err)
	}
}

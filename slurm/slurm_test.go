package slurm

import (
	"path/filepath"
	"strings"
	"testing"
)

// The script, whole: header, array, requeue, the optional #SBATCH lines
// only when set, and one lab run per array task into its own shard.
func TestWrite(t *testing.T) {
	j := Job{Spec: "zoo.yaml", SpecAbs: "/w/zoo.yaml", Name: "zoo", Trials: 4, Out: "/w/job.sbatch", Shards: "/w/job.shards",
		Device: "cuda", Lab: "/bin/lab", Partition: "gpu", GPUs: 1}
	var b strings.Builder
	if err := j.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `#!/usr/bin/env bash
# Written by lab slurm for spec zoo.yaml (4 trials).
# Submit:  sbatch /w/job.sbatch
# Merge:   /bin/lab db merge /w/job.sqlite /w/job.shards/shard-*.sqlite
#SBATCH --job-name=lab-zoo
#SBATCH --array=0-3
#SBATCH --output=/w/job.shards/slurm-%A_%a.out
#SBATCH --requeue
#SBATCH --partition=gpu
#SBATCH --gpus-per-task=1
set -euo pipefail
mkdir -p /w/job.shards
exec /bin/lab run /w/zoo.yaml --trial "$SLURM_ARRAY_TASK_ID" --resume --quiet \
  --device cuda --db "/w/job.shards/shard-${SLURM_ARRAY_TASK_ID}.sqlite"
`
	if b.String() != want {
		t.Errorf("script:\n%s\nwant:\n%s", b.String(), want)
	}
	j.Partition, j.GPUs, j.Time, j.CPUs = "", 0, "01:00:00", 8
	b.Reset()
	j.Write(&b)
	for _, w := range []string{"#SBATCH --time=01:00:00\n#SBATCH --cpus-per-task=8\nset -euo"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("script lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "partition") || strings.Contains(b.String(), "gpus") {
		t.Errorf("unset options written:\n%s", b.String())
	}
}

func TestPaths(t *testing.T) {
	out, shards := Paths("/w/job.sbatch", "")
	if out != "/w/job.sbatch" || shards != "/w/job.shards" {
		t.Errorf("Paths = %s, %s", out, shards)
	}
	out, shards = Paths("job.sh", "s")
	if !filepath.IsAbs(out) || !filepath.IsAbs(shards) || filepath.Base(shards) != "s" {
		t.Errorf("relative paths: %s, %s", out, shards)
	}
}

// Package slurm writes the sbatch array job of `lab slurm`: one Slurm array
// task per trial of a spec, each training its trial with `lab run --trial
// $SLURM_ARRAY_TASK_ID --resume` into its own database shard, so a task
// that Slurm requeues resumes from its checkpoint; `lab db merge` joins the
// shards afterwards. The package only renders text: the CLI resolves the
// paths and writes the file.
package slurm

import (
	"io"
	"path/filepath"
	"strings"
	"text/template"
)

// Job is one array job: a spec's trials and where their shards go.
type Job struct {
	Spec    string // the spec as the user named it (shown in the header)
	SpecAbs string // its absolute path, what each task runs
	Name    string // the spec's name; the job is lab-NAME
	Trials  int    // array tasks 0..Trials-1
	Out     string // absolute path of the script
	Shards  string // absolute folder of the shards and the Slurm logs
	Device  string // --device of every task
	Lab     string // the lab binary on the cluster

	Partition string // #SBATCH --partition, when set
	Time      string // #SBATCH --time, when set
	CPUs      int    // #SBATCH --cpus-per-task, when > 0
	GPUs      int    // #SBATCH --gpus-per-task, when > 0
}

// Paths resolves the script path and the shards folder as lab slurm does:
// both absolute; the shards beside the script, named after it with
// .shards, unless given.
func Paths(out, shards string) (outAbs, shardsAbs string) {
	outAbs, _ = filepath.Abs(out)
	if shards == "" {
		shards = strings.TrimSuffix(outAbs, filepath.Ext(outAbs)) + ".shards"
	}
	shardsAbs, _ = filepath.Abs(shards)
	return outAbs, shardsAbs
}

// Merged is the database the script's header tells `lab db merge` to
// write: the script's path with .sqlite for its extension.
func (j Job) Merged() string { return strings.TrimSuffix(j.Out, filepath.Ext(j.Out)) + ".sqlite" }

// Last is the index of the last array task.
func (j Job) Last() int { return j.Trials - 1 }

// script is the sbatch array job: one array task per trial, each writing
// its own database shard, resumable when Slurm requeues it.
var script = template.Must(template.New("sbatch").Parse(`#!/usr/bin/env bash
# Written by lab slurm for spec {{.Spec}} ({{.Trials}} trials).
# Submit:  sbatch {{.Out}}
# Merge:   {{.Lab}} db merge {{.Merged}} {{.Shards}}/shard-*.sqlite
#SBATCH --job-name=lab-{{.Name}}
#SBATCH --array=0-{{.Last}}
#SBATCH --output={{.Shards}}/slurm-%A_%a.out
#SBATCH --requeue
{{- if .Partition}}
#SBATCH --partition={{.Partition}}{{end}}
{{- if .Time}}
#SBATCH --time={{.Time}}{{end}}
{{- if .CPUs}}
#SBATCH --cpus-per-task={{.CPUs}}{{end}}
{{- if .GPUs}}
#SBATCH --gpus-per-task={{.GPUs}}{{end}}
set -euo pipefail
mkdir -p {{.Shards}}
exec {{.Lab}} run {{.SpecAbs}} --trial "$SLURM_ARRAY_TASK_ID" --resume --quiet \
  --device {{.Device}} --db "{{.Shards}}/shard-${SLURM_ARRAY_TASK_ID}.sqlite"
`))

// Write renders the job's sbatch script.
func (j Job) Write(w io.Writer) error { return script.Execute(w, j) }

#!/usr/bin/env bash
# End-to-end check of `lab slurm` against a real single-node Slurm on this
# machine (Debian's slurm-wlm and munge, configured on localhost): submit a
# small sweep as an array job, requeue two of its tasks mid-trial (one as
# Slurm pre-empts, SIGTERM then requeue; one killed with SIGKILL, as a node
# crash, then requeued), wait for it, merge the shards, check that every
# trial is there and done, once, and that each requeued trial kept the run
# id it had before the kill. Needs root (apt, daemons). Takes about two
# minutes.
#
#   bash scripts/slurm-local-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/lab-slurm.XXXXXX)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get install -y -q slurm-wlm munge >/dev/null
fi

# munge: a key and a running daemon.
if ! pgrep -x munged >/dev/null; then
  mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
  chmod 400 /etc/munge/munge.key
  sudo -u munge munged 2>/dev/null || runuser -u munge -- munged
fi

# slurm: one node, this host, all its cores.
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=lab
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmUser=root
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pkill -x slurmctld || true
pkill -x slurmd || true
sleep 1
slurmctld -c
slurmd -c
for i in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix' && break; sleep 1; done
sinfo

# A small sweep: 4 trials, the last two long enough (about 20 s) to be
# requeued mid-trial, with a checkpoint every 500 steps.
go build -o "$work/lab" ./cmd/lab
cat > "$work/sweep.yaml" <<SPEC
name: slurm-check
task: {name: mqar, vocab: 32, seq_len: 16, kv_pairs: 2, train_examples: 256}
eval:
  - {seq_len: 16, kv_pairs: 2, examples: 64}
model: {d_model: 8, heads: 1, layers: 1, mixer: softmax}
train: {batch: 8, steps: 20, checkpoint_every: 500}
sweep:
  trial:
    - {model.mixer: softmax, train.steps: 20}
    - {model.mixer: linear, train.steps: 20}
    - {model.mixer: retnet, train.steps: 15000}
    - {model.mixer: gla, train.steps: 15000}
SPEC
"$work/lab" slurm -o "$work/job.sbatch" --cpus-per-task 1 --time 00:10:00 "$work/sweep.yaml"
job=$(sbatch --parsable "$work/job.sbatch")
echo "submitted array job $job"
shards="$work/job.shards"
fail() { echo "FAIL: $*"; cat "$shards"/slurm-*.out 2>/dev/null; exit 1; }

# midtrial TASK: wait until task TASK's trial is running with a checkpoint
# saved, and print its run id and owner pid.
midtrial() {
  local db="$shards/shard-$1.sqlite" row
  for i in $(seq 600); do
    if [ -f "$db" ]; then
      row=$("$work/lab" query --db "$db" --format csv "SELECT id, owner_pid FROM runs WHERE status = 'running'" 2>/dev/null | tail -n +2 | head -1)
      if [ -n "$row" ] && [ -f "$db.ckpt/${row%%,*}.safetensors" ]; then
        echo "${row%%,*} ${row#*,}"
        return
      fi
    fi
    sleep 0.5
  done
  echo "task $1: no running trial with a checkpoint after 300 s" >&2
  exit 1
}

# taskstate TASK: the array task's JobState.
taskstate() { scontrol show job "${job}_$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }

# restart TASK: let a requeued task start now rather than after the begin
# time Slurm gives a requeued job.
restart() {
  for i in $(seq 60); do
    [ "$(taskstate "$1")" = PENDING ] && break
    sleep 0.5
  done
  scontrol update JobId="${job}_$1" StartTime=now || true
}

# Task 2: requeued while it runs, as Slurm pre-empts (SIGTERM: lab saves a
# checkpoint and marks the trial cancelled; the requeued task resumes it).
read -r id2 pid2 < <(midtrial 2) || true
[ -n "$id2" ] || fail "task 2 never ran mid-trial"
echo "task 2: run $id2 (pid $pid2) mid-trial; scontrol requeue"
scontrol requeue "${job}_2"
restart 2

# Task 3: killed with SIGKILL mid-trial (a crash: its run row stays
# running, owned by a dead process), then requeued; the requeued task takes
# the run over at once, on this host, from its checkpoint.
read -r id3 pid3 < <(midtrial 3) || true
[ -n "$id3" ] && [ -n "$pid3" ] || fail "task 3 never ran mid-trial"
echo "task 3: run $id3 (pid $pid3) mid-trial; kill -9, then scontrol requeue"
kill -9 "$pid3"
for i in $(seq 120); do
  case "$(taskstate 3)" in FAILED | COMPLETED | CANCELLED | NODE_FAIL) break ;; esac
  sleep 0.5
done
echo "task 3 after the kill: $(taskstate 3)"
scontrol requeue "${job}_3"
restart 3

for i in $(seq 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 1
done
"$work/lab" db merge "$work/merged.sqlite" "$shards"/shard-*.sqlite
q() { "$work/lab" query --db "$work/merged.sqlite" --format csv "$1" | tail -n +2; }
"$work/lab" runs --db "$work/merged.sqlite"
n=$(q "SELECT count(*) FROM runs WHERE status = 'done'")
echo "done runs in the merged database: $n (want 4)"
[ "$n" = 4 ] || fail "$n done runs, want 4"
rows=$(q "SELECT count(*) FROM runs")
[ "$rows" = 4 ] || fail "$rows run rows for 4 trials, want one each"
# Each requeued trial is one done row under the run id it had when killed.
[ "$(q "SELECT trial_index || ' ' || status FROM runs WHERE id = '$id2'")" = "2 done" ] || fail "task 2: run $id2 is not trial 2, done"
[ "$(q "SELECT trial_index || ' ' || status FROM runs WHERE id = '$id3'")" = "3 done" ] || fail "task 3: run $id3 is not trial 3, done"
for t in 2 3; do # Slurm really ran each twice
  r=$(scontrol show job "${job}_$t" 2>/dev/null | grep -o 'Restarts=[0-9]*' | cut -d= -f2 || true)
  echo "task $t: Restarts=${r:-?} (want 1)"
  [ -z "$r" ] || [ "$r" -ge 1 ] || fail "task $t was not requeued"
done
echo "requeued tasks kept their runs: trial 2 $id2, trial 3 $id3"
# Merging again adds nothing.
"$work/lab" db merge "$work/merged.sqlite" "$shards"/shard-*.sqlite | grep -q "0 runs added"
echo "slurm end-to-end: ok ($work)"

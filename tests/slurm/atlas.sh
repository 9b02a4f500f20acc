#!/bin/bash
# The atlas on a real Slurm (issue 31): a single-node cluster started here (munged, slurmctld and slurmd in the
# foreground, in a scratch folder, on their own ports, stopped at the end), deploy/slurm/atlas.sbatch submitted as
# an array of 4 shards of AlexNet's conv2, task 1 cancelled after its first batch and submitted again on its own,
# then merged: the packed atlas must equal a single process's byte for byte. Needs root (slurmd starts the tasks as
# the submitting user) and Debian's slurm-wlm and munge; `make test-slurm` runs it with the release binary.
set -euo pipefail

bin=${FILTERLENS:?the filterlens binary, e.g. \$CARGO_TARGET_DIR/release/filterlens}
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/filterlens-slurm.XXXXXX)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap stop EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$scratch"/*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
  exit 1
}

# AlexNet's conv2 (192 filters) in 24 batches of 8, 40 steps at 64 px: 6 batches per shard, about a second each.
settings=(--model alexnet --weights "$repo/weights/alexnet.safetensors" --layers conv2 --batch 8 --steps 40 --size 64)

# Munge with its own key and socket, Slurm with its own configuration, ports and state: nothing of the machine's.
dd if=/dev/urandom of="$scratch/munge.key" bs=1024 count=1 status=none
chmod 600 "$scratch/munge.key"
mkdir -p "$scratch/state" "$scratch/spool" "$scratch/atlas" "$scratch/whole"
munged --foreground --force --key-file="$scratch/munge.key" --socket="$scratch/munge.sock" \
  --pid-file="$scratch/munged.pid" --log-file="$scratch/munged.log" --seed-file="$scratch/munge.seed" \
  >>"$scratch/munged.log" 2>&1 &
pids+=($!)
host=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
port=$((17000 + RANDOM % 2000))
export SLURM_CONF="$scratch/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=filterlens-test
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$scratch/munge.sock
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/slurmctld.log
SlurmdLogFile=$scratch/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
PlugStackConfig=$scratch/plugstack.conf
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=atlas Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
: >"$scratch/plugstack.conf"
sleep 1
slurmctld -D -i >>"$scratch/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D >>"$scratch/slurmd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  sinfo -h -o %t 2>/dev/null | grep -qx idle && break
  sleep 0.2
done
sinfo -h -o %t | grep -qx idle || fail "the node did not come up: $(sinfo 2>&1)"
echo "slurm: node $host up ($cpus CPUs), controller on port $port"

# One task per CPU's pair, as the script asks (--cpus-per-task=2): the 4 shards queue as an array does.
cd "$scratch"
job=$(sbatch --parsable --array=0-3 --export=ALL,FILTERLENS="$bin" \
  "$repo/deploy/slurm/atlas.sbatch" 4 "${settings[@]}" --out "$scratch/atlas")
echo "submitted array job $job"
# Task 1 is cancelled once it has finished a batch, with more to go.
for _ in $(seq 600); do
  grep -q "done in" "filterlens-atlas-${job}_1.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "done in" "filterlens-atlas-${job}_1.log" || fail "task 1 made no picture"
scancel "${job}_1"
echo "cancelled task 1 after: $(grep -c 'done in' "filterlens-atlas-${job}_1.log") of its 6 batches"
while squeue -h -j "$job" 2>/dev/null | grep -q .; do sleep 0.5; done
grep -q "pictures made" "filterlens-atlas-${job}_1.log" && fail "task 1 finished before it was cancelled"

if "$bin" atlas merge --out "$scratch/atlas" 2>"$scratch/merge.err"; then fail "merged an atlas with a shard cancelled"; fi
grep -q "pictures are missing (conv2:" "$scratch/merge.err" || fail "the merge did not name the missing: $(cat "$scratch/merge.err")"
echo "merge refused: $(cat "$scratch/merge.err")"

again=$(sbatch --parsable --array=1 --export=ALL,FILTERLENS="$bin" \
  "$repo/deploy/slurm/atlas.sbatch" 4 "${settings[@]}" --out "$scratch/atlas")
while squeue -h -j "$again" 2>/dev/null | grep -q .; do sleep 0.5; done
summary=$(grep "pictures made" "filterlens-atlas-${again}_1.log") || fail "task 1 submitted again did not finish"
echo "task 1 again: $summary"
[[ $summary =~ ([0-9]+)\ pictures\ made,\ ([0-9]+)\ already\ there ]] || fail "no summary: $summary"
made=${BASH_REMATCH[1]} found=${BASH_REMATCH[2]}
{ [ "$found" -gt 0 ] && [ "$made" -gt 0 ] && [ $((made + found)) -eq 48 ]; } ||
  fail "task 1 again made $made and found $found of its 48 pictures"
for task in 0 2 3; do
  grep -q "48 pictures made, 0 already there, 0 failed" "filterlens-atlas-${job}_${task}.log" ||
    fail "task $task: $(tail -1 "filterlens-atlas-${job}_${task}.log")"
done
"$bin" atlas merge --out "$scratch/atlas"

# The same atlas by one process, outside Slurm.
"$bin" atlas "${settings[@]}" --out "$scratch/whole" 2>/dev/null
"$bin" atlas merge --out "$scratch/whole"
for file in manifest.json layer-000.bin layer-000.png; do
  cmp "$scratch/atlas/pack/$file" "$scratch/whole/pack/$file" || fail "$file differs from one process's"
done
echo "ok: the atlas made by 4 Slurm tasks, one cancelled and resubmitted, equals one process's byte for byte"

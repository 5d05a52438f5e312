#!/usr/bin/env bash
# Runs one real-data job of RESULTS.md into results/runs/NAME and commits its run directory
# (checkpoints stay local: git-ignored).  Usage: results/run.sh NAME train.py|eval.py [overrides...]
# The exact command, the hardware and the wall time are written next to metrics.json;
# scripts/make_results.py builds RESULTS.md from these folders.
set -uo pipefail
cd "$(dirname "$0")/.."
name="$1"; script="$2"; shift 2
dir="results/runs/$name"
if [[ -e "$dir/metrics.json" ]]; then echo "skip $name: $dir/metrics.json exists"; exit 0; fi
mkdir -p "$dir"
cmd="python $script $* hydra.run.dir=$dir"
echo "$cmd" > "$dir/command.txt"
{ lscpu | sed -n 's/^Model name: *//p'; echo "$(nproc) cores, no GPU"; } > "$dir/hardware.txt"
start=$(date +%s)
python "$script" "$@" hydra.run.dir="$dir" > "$dir/train.log" 2>&1
rc=$?
echo $(( $(date +%s) - start )) > "$dir/wall_s.txt"
echo "$rc" > "$dir/rc.txt"
for i in 1 2 3 4 5; do
  git add "$dir" && git commit -q -m "results: $name (rc $rc)" -- "$dir" && break
  sleep 5
done
exit $rc

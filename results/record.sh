#!/usr/bin/env bash
# Records one job of RESULTS.md: runs `python SCRIPT [-m] OVERRIDES... hydra.run.dir=results/runs/NAME`
# (hydra.sweep.dir for a -m sweep: one job folder per setting, 0/, 1/, ..., and summary.csv) and writes
# beside it command.txt (the exact command), commit.txt (the code's commit), hardware.txt, wall_s.txt, rc.txt and console.log (its
# stdout and stderr).  Skips NAME when it is finished: metrics.json exists, or for a sweep summary.csv
# with rc.txt 0 (Hydra rewrites summary.csv after every job).  A train.py run that was cut short (no
# metrics.json, a checkpoints/last.ckpt: the session ended, the machine restarted) is resumed with
# ckpt_path=last: resumed.txt gets a line per resume, console.log is appended to and wall_s.txt sums the
# parts.  It commits nothing: committing the folder is your step, `git add results/runs/NAME` (checkpoints
# stay local: git-ignored); then `python scripts/make_results.py` rebuilds RESULTS.md.  The commands of
# RESULTS.md: results/README.md.
#   Usage: results/record.sh NAME train.py|eval.py [-m] [overrides...]
set -uo pipefail
cd "$(dirname "$0")/.."
name="$1"; script="$2"; shift 2
dir="results/runs/$name"
kind=run
for arg in "$@"; do [[ "$arg" == -m || "$arg" == --multirun ]] && kind=sweep; done
if [[ -e "$dir/metrics.json" || ( -e "$dir/summary.csv" && "$(cat "$dir/rc.txt" 2>/dev/null)" == 0 ) ]]; then
  echo "skip $name: $dir is finished"; exit 0
fi
mkdir -p "$dir"
resume=()
earlier=0
if [[ $kind == run && $script == train.py && -e "$dir/checkpoints/last.ckpt" ]]; then
  resume=(ckpt_path=last)
  earlier=$(cat "$dir/wall_s.txt" 2>/dev/null || echo 0)
  echo "$(date -u +%FT%TZ) resumed from checkpoints/last.ckpt after ${earlier} s: python $script $* ckpt_path=last" \
    >> "$dir/resumed.txt"
  echo "resume $name from its last.ckpt"
else
  echo "python $script $* hydra.$kind.dir=$dir" > "$dir/command.txt"
  : > "$dir/console.log"
fi
# the code it ran: the commit, and whether the working tree differed from it
echo "$(git rev-parse HEAD)$(git diff --quiet HEAD -- src conf train.py eval.py || echo ' (with uncommitted changes)')" \
  >> "$dir/commit.txt"
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | paste -sd, -)
{ lscpu | sed -n 's/^Model name: *//p'; echo "$(nproc) cores, ${gpus:-no GPU}"; } > "$dir/hardware.txt"
start=$(date +%s)
# wall_s.txt is kept current while the job runs, so that a job cut short still records its time
( while sleep 60; do echo $(( earlier + $(date +%s) - start )) > "$dir/wall_s.txt"; done ) &
ticker=$!
python "$script" "$@" "${resume[@]}" "hydra.$kind.dir=$dir" >> "$dir/console.log" 2>&1
rc=$?
kill "$ticker" 2>/dev/null
echo $(( earlier + $(date +%s) - start )) > "$dir/wall_s.txt"
echo "$rc" > "$dir/rc.txt"
exit $rc

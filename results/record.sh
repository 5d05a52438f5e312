#!/usr/bin/env bash
# Records one job of RESULTS.md: runs `python SCRIPT [-m] OVERRIDES... hydra.run.dir=results/runs/NAME`
# (hydra.sweep.dir for a -m sweep: one job folder per setting, 0/, 1/, ..., and summary.csv; a shell script,
# `bash SCRIPT ARGS...`) and writes beside it command.txt (the exact command), commit.txt (the code's commit),
# hardware.txt, wall_s.txt (kept current while it runs), rc.txt and console.log (its stdout and stderr).
# Skips NAME when it is finished: metrics.json exists, or rc.txt is 0 for a sweep (summary.csv; Hydra rewrites
# it after every job) or a shell script.  A train.py run that was cut short (no metrics.json, a
# checkpoints/last.ckpt: the session ended, the machine restarted) is resumed with ckpt_path=last: resumed.txt
# gets a line per resume, console.log is appended to and wall_s.txt sums the parts.  It commits nothing:
# committing the folder is your step, `git add results/runs/NAME` (checkpoints stay local: git-ignored); then
# `python scripts/make_results.py` rebuilds RESULTS.md.  The commands of RESULTS.md: results/README.md.
#   Usage: results/record.sh NAME train.py|eval.py [-m] [overrides...]
#          results/record.sh NAME scripts/device_check.sh [its arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
name="$1"; script="$2"; shift 2
dir="results/runs/$name"
kind=run
# a Python entry point gets hydra.run.dir (hydra.sweep.dir); a shell script (scripts/device_check.sh) runs as it is
runner=python
[[ $script == *.sh ]] && runner=bash
for arg in "$@"; do [[ "$arg" == -m || "$arg" == --multirun ]] && kind=sweep; done
done_rc=$(cat "$dir/rc.txt" 2>/dev/null)
if [[ -e "$dir/metrics.json" || ( ( -e "$dir/summary.csv" || $runner == bash ) && "$done_rc" == 0 ) ]]; then
  echo "skip $name: $dir is finished"; exit 0
fi
mkdir -p "$dir"
where=("hydra.$kind.dir=$dir")
[[ $runner == bash ]] && where=()
resume=()
earlier=0
if [[ $kind == run && $script == train.py && -e "$dir/checkpoints/last.ckpt" ]]; then
  resume=(ckpt_path=last)
  earlier=$(cat "$dir/wall_s.txt" 2>/dev/null || echo 0)
  echo "$(date -u +%FT%TZ) resumed from checkpoints/last.ckpt after ${earlier} s: $runner $script $* ckpt_path=last" \
    >> "$dir/resumed.txt"
  echo "resume $name from its last.ckpt"
else
  echo "$runner $script $* ${where[*]}" > "$dir/command.txt"
  : > "$dir/console.log"
fi
# the code it ran: the commit, and whether the working tree differed from it
if commit=$(git rev-parse HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src conf train.py eval.py || commit="$commit (with uncommitted changes)"
else
  commit="not a git checkout"
fi
echo "$commit" >> "$dir/commit.txt"
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | paste -sd, -)
{ lscpu | sed -n 's/^Model name: *//p'; echo "$(nproc) cores, ${gpus:-no GPU}"; } > "$dir/hardware.txt"
start=$(date +%s)
# wall_s.txt is kept current while the job runs, so that a job cut short still records its time
( while sleep 60; do echo $(( earlier + $(date +%s) - start )) > "$dir/wall_s.txt"; done ) </dev/null >/dev/null 2>&1 &
ticker=$!
$runner "$script" "$@" "${resume[@]}" "${where[@]}" >> "$dir/console.log" 2>&1
rc=$?
pkill -P "$ticker" 2>/dev/null; kill "$ticker" 2>/dev/null
echo $(( earlier + $(date +%s) - start )) > "$dir/wall_s.txt"
echo "$rc" > "$dir/rc.txt"
exit $rc

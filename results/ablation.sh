#!/usr/bin/env bash
# The ablation rows of RESULTS.md ("Ablations"): experiment=skinlight_ablation plus one option per row, seeds 0
# and 1 trained side by side with one thread each (two 1-thread runs deliver ~25 % more images/s on 2 cores
# than one 2-thread run). Each job is results/record.sh abl_<row>_s<seed>, so finished jobs are skipped and
# an interrupted one starts again.  Usage: results/ablation.sh [ROW...]   (no ROW: every row, in order)
set -uo pipefail
cd "$(dirname "$0")/.."
# Budget-scaled where the reduced budget (3 epochs, ~600 steps) would distort an option: the EMA averages
# over ~200 steps (decay 0.995; the recipe's 0.999 spans ~1000 of its ~5000), the warmup is half an epoch.
declare -A ROWS=(
  [baseline]=""
  [label_smoothing]="loss.label_smoothing=0.1"
  [gessert]="meta=gessert"
  [warmup_cosine]="scheduler=warmup_cosine scheduler.warmup_epochs=0.5"
  [ema]="callbacks=ema callbacks.ema.decay=0.995"
  [mixup_cutmix]="mixup=mixup_cutmix"
  [trivialaugment]="augmentation=trivialaugment"
  [randaugment]="augmentation=randaugment"
  [resize_crop]="data.resize=crop"
  [resize_pad]="data.resize=pad"
  [shades_of_gray]="preprocess=shades_of_gray"
  [freeze_backbone]="model.freeze_backbone_epochs=1"
  [layer_decay]="model.lr_groups.layer_decay=0.75"
  [drop_path]="model.drop_path_rate=0.1"
  [adamw]="optimizer=adamw"
)
ORDER=(baseline label_smoothing gessert warmup_cosine ema mixup_cutmix trivialaugment resize_crop shades_of_gray
  randaugment resize_pad freeze_backbone layer_decay drop_path adamw)
BASE="experiment=skinlight_ablation data.root=../shared/data/HAM10000-200x150 logger=csv"
for row in "${@:-${ORDER[@]}}"; do
  [[ -v ROWS[$row] ]] || { echo "no ablation row $row; rows: ${ORDER[*]}" >&2; exit 2; }
  for seed in 0 1; do
    # shellcheck disable=SC2086  # the row's overrides are words
    OMP_NUM_THREADS=1 results/record.sh "abl_${row}_s${seed}" train.py $BASE ${ROWS[$row]} seed=$seed &
  done
  wait
done

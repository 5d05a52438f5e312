#!/usr/bin/env bash
# The prepared device check (RESULTS.md, "Device check"): three measurements on one accelerator, under 6 minutes.
#   1. ms per training step, Lightning Trainer vs a hand-written loop (scripts/bench_step.py), EfficientNet-Lite0
#      at 224 px, batch 128, bf16-mixed + channels_last, and their ratio;
#   2. whether the train loader keeps the model fed (scripts/bench_feed.py): images/s the workers deliver vs
#      images/s the model consumes, with skinlight_gpu's data, loader and precision, and the GPU utilisation;
#   3. a short experiment=skinlight_gpu training on the real HAM10000 (12 epochs, at most 3 minutes of training,
#      then the test), printing its test balanced accuracy.
# --device cpu runs the same three on this machine's CPU at toy sizes (32-bit: the CPU has no fast bf16), as the
# check that the script works; its numbers say nothing about a GPU.
#
#   bash scripts/device_check.sh [--device cuda|cpu] [--data DIR] [--out DIR]
#   bash scripts/device_check.sh [--data DIR] --stage OUT   # a copy of DIR's HAM10000 part_1 (~5,000 images, 27 MB) to carry
#
# --data: a HAM10000 folder as downloaded (default ../shared/data/HAM10000-200x150). The device machine gets the
# working tree and what `carry` names, at most 64 MiB together: the whole 200x150 HAM10000 (56 MB of images) does
# not fit beside results/, so --stage writes part_1's images with the metadata rows of those images into an
# ignored folder of the checkout, e.g. `bash scripts/device_check.sh --stage .device/HAM10000`, then on the device:
# `bash scripts/device_check.sh --data .device/HAM10000` with carry [".device"].
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda
data=../shared/data/HAM10000-200x150
out=outputs/device_check
stage=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --stage) stage="$2"; shift 2 ;;
    *) echo "unknown argument $1; usage: bash scripts/device_check.sh [--device cuda|cpu] [--data DIR] [--out DIR] [--stage OUT]" >&2
       exit 2 ;;
  esac
done
[[ -f "$data/HAM10000_metadata.csv" ]] || { echo "--data $data: no HAM10000_metadata.csv there" >&2; exit 2; }
if [[ -n $stage ]]; then
  python - "$data" "$stage" <<'EOF'
import shutil, sys
from pathlib import Path
import pandas as pd
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
part = src / "HAM10000_images_part_1"
(dst / part.name).mkdir(parents=True, exist_ok=True)
images = {p.stem for p in part.glob("*.jpg")}
table = pd.read_csv(src / "HAM10000_metadata.csv")
table[table["image_id"].isin(images)].to_csv(dst / "HAM10000_metadata.csv", index=False)
for name in images:
    shutil.copy2(part / f"{name}.jpg", dst / part.name / f"{name}.jpg")
print(f"staged {len(images)} images of {src} in {dst}")
EOF
  exit 0
fi
export PYTHONUNBUFFERED=1
mkdir -p "$out"
if [[ $device == cuda ]]; then
  step=(--backbone tf_efficientnet_lite0 --size 224 --batch-size 128 --steps 40 --warmup 10 --device gpu
        --precision bf16-mixed --channels-last)
  feed=(--batches 60 --device cuda)
  # the recipe on a short schedule (warmup and EMA horizon scaled to it), stopped after 3 minutes at the latest
  train=(trainer.max_epochs=12 scheduler.warmup_epochs=1 callbacks.ema.decay=0.995 +trainer.max_time=00:00:03:00)
else
  step=(--backbone tf_efficientnet_lite0 --size 64 --batch-size 16 --steps 8 --warmup 2 --repeats 2 --device cpu)
  feed=(--batches 8 --warmup 2 --device cpu data.image_size=64 data.batch_size=16 data.num_workers=2
        trainer.precision=32-true)
  train=(data.image_size=64 data.batch_size=32 data.num_workers=2 trainer.precision=32-true trainer.max_epochs=1
         +trainer.limit_train_batches=20 +trainer.limit_val_batches=5 +trainer.limit_test_batches=20 trainer.accelerator=cpu
         scheduler.warmup_epochs=0.25 callbacks.ema.decay=0.8)
fi
began=$(date +%s)
elapsed() { echo "  ($(( $(date +%s) - began )) s since the start)"; }

echo "== 1. training step: Lightning Trainer vs a hand-written loop"
python scripts/bench_step.py "${step[@]}"
elapsed
echo "== 2. loader feed: delivered vs consumed"
python scripts/bench_feed.py "${feed[@]}" experiment=skinlight_gpu "data.root=$data" --run-dir "$out/feed"
elapsed
echo "== 3. a short experiment=skinlight_gpu training on $data"
python train.py experiment=skinlight_gpu "data.root=$data" "${train[@]}" logger=csv callbacks.progress_bar=null \
  "hydra.run.dir=$out/train" > "$out/train.log" 2>&1 || { tail -20 "$out/train.log"; exit 1; }
python - "$out/train/metrics.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"test/balanced_acc={m['test/balanced_acc']:.4f} [{m['test/balanced_acc_ci_low']:.4f}, "
      f"{m['test/balanced_acc_ci_high']:.4f}] acc={m['test/acc']:.4f} ({sys.argv[1]})")
EOF
elapsed

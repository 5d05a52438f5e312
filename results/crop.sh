#!/usr/bin/env bash
# Part 3, crop-to-classify: the best classifier's settings (first table) on crops around the best HAM10000
# segmenter's masks, dilated by 0, 16 and 32 px (at the 200x150 images' own resolution); the full-image
# row is that classifier's own run.  Run by results/queue.sh.
cd "$(dirname "$0")/.." && source results/lib.sh
best=$(best_run "cls_*" test/balanced_acc)
seg=$(best_run "seg_ham_*" test/dice)
for k in 0 16 32; do
  nice -n 19 results/run.sh "crop_d${k}_$best" train.py $(overrides_of "$best") pipeline=crop \
    pipeline.seg_ckpt="results/runs/$seg/checkpoints/best.ckpt" pipeline.dilation=$k
done

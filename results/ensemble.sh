#!/usr/bin/env bash
# Part 4, the Table VII layout of Le et al. 2020: the best classifier's settings (first table) trained on
# each fold of a 5-fold split of the non-test lesions (same split seed, so the same test split), then
# eval.py on that test split: each member, their mean, and the mean over the image and its 3 flips (tta=flips;
# d4, the 8 rotations/mirrorings, doubles the evaluation time on this CPU).
# Run by results/queue.sh.
cd "$(dirname "$0")/.." && source results/lib.sh
best=$(best_run "cls_*" test/balanced_acc)
data=$(overrides_of "$best" | tr ' ' '\n' | grep '^data\.' | tr '\n' ' ')
ckpts=()
for k in 0 1 2 3 4; do
  nice -n 19 results/run.sh "ens_fold${k}_$best" train.py $(overrides_of "$best") data.num_folds=5 data.fold=$k
  ckpts+=("results/runs/ens_fold${k}_$best/checkpoints/best.ckpt")
done
members=$(IFS=,; echo "${ckpts[*]}")
nice -n 19 results/run.sh "ens_5fold_flips_$best" eval.py "ensemble=[$members]" data=ham10000 $data \
  data.num_folds=5 tta=flips

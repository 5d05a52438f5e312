#!/usr/bin/env bash
# Part 1's seed repeat: the best run of the first table (by test balanced accuracy, read from the run
# folders) again with seed=1 and seed=2 on the same split.  Usage: results/seeds.sh (after results/queue.sh)
cd "$(dirname "$0")/.." && source results/lib.sh
best=$(best_run "cls_*" test/balanced_acc)
for seed in 1 2; do
  nice -n 19 results/run.sh "seed_s${seed}_$best" train.py $(overrides_of "$best") seed=$seed data.split_seed=42
done

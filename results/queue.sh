#!/usr/bin/env bash
# The real-data runs of RESULTS.md, in priority order, one after the other (niced: they use idle CPU).
# Re-running skips the runs that already have metrics.json.  Usage: nohup results/queue.sh > results/queue.log &
cd "$(dirname "$0")/.."
HAM="data=ham10000 data.root=../shared/data/HAM10000-200x150 data.image_size=128 data.num_workers=2"
CLS="$HAM trainer.max_epochs=3 logger=csv"
r() { nice -n 19 results/run.sh "$@"; }
r cls_lite0_pretrained_ce        train.py $CLS
r cls_lite0_scratch_ce           train.py $CLS backbone.pretrained=false
r cls_lite0_pretrained_wce       train.py $CLS loss=weighted_ce
r cls_lite0_pretrained_focal     train.py $CLS loss=focal
r cls_lite0_pretrained_gessert   train.py $CLS meta=gessert
r cls_lite0_pretrained_softatt   train.py $CLS head=soft_attention

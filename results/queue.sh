#!/usr/bin/env bash
# The real-data runs of RESULTS.md, in priority order, one after the other (niced: they use idle CPU).
# Re-running skips the runs that already have metrics.json.  Usage: nohup results/queue.sh > /tmp/queue.log &
cd "$(dirname "$0")/.."
HAM="data.root=../shared/data/HAM10000-200x150 data.image_size=128 data.num_workers=2 logger=csv"
CLS="data=ham10000 $HAM trainer.max_epochs=3"
# Segmentation on CPU: one epoch over 150 batches (2,400 of the 6,413 training images), tested on the whole test split.
SEG="model=unet data=ham10000_seg $HAM trainer.max_epochs=1 +trainer.limit_train_batches=150 +trainer.limit_val_batches=20"
PH2="model=unet data=ph2 data.root=../shared/data/PH2-sample/PH2Dataset data.num_workers=2 logger=csv trainer.max_epochs=30"
LITE="model.net.encoder_name=tu-tf_efficientnet_lite0"
SCRATCH34="model.net.encoder_name=resnet34 model.net.pretrained=false"
r() { nice -n 19 results/run.sh "$@"; }
r cls_lite0_pretrained_ce        train.py $CLS
r cls_lite0_scratch_ce           train.py $CLS backbone.pretrained=false
r seg_ham_unet_lite0_pretrained  train.py $SEG $LITE
r seg_ham_unet_resnet34_scratch  train.py $SEG $SCRATCH34
r seg_ph2_unet_lite0_pretrained  train.py $PH2 $LITE
r seg_ph2_unet_resnet34_scratch  train.py $PH2 $SCRATCH34
r cls_lite0_pretrained_wce       train.py $CLS loss=weighted_ce
r cls_lite0_pretrained_focal     train.py $CLS loss=focal
r cls_lite0_pretrained_gessert   train.py $CLS meta=gessert
r cls_lite0_pretrained_softatt   train.py $CLS head=soft_attention
# Then the seed repeat, crop-to-classify and 5-fold ensemble of the best classifier (chosen from the finished runs above).
results/seeds.sh
results/crop.sh
results/ensemble.sh

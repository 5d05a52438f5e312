"""Training-step time of the skinlight Classifier through the Lightning Trainer vs a hand-written loop.

    python scripts/bench_step.py [--backbone mobilenetv3_small_100] [--size 112] [--batch-size 32]
        [--steps 30] [--warmup 5] [--repeats 3] [--device auto] [--precision 32-true]
        [--channels-last] [--compile]

Both run the same LightningModule (same weights at the start, same optimizer from
configure_optimizers, same loss) on the same batches: in-memory images, so that the loader
costs the same little in both. The hand-written loop is zero_grad, forward + loss, backward,
step (with torch.autocast for a mixed --precision); the Trainer runs training_step with its
logging, callbacks and hooks (no validation, checkpointing, logger or progress bar, which the
plain loop does not have either). Time per step is measured after --warmup steps, best of
--repeats alternating runs; the ratio Trainer / loop is printed (target <= 1.10).
On a GPU: --device cuda --precision bf16-mixed --channels-last (resnet50 at 224: 4(c) of issue 6).
"""

from __future__ import annotations

import argparse
import copy
import time

import lightning.pytorch as L
import torch
from torch.utils.data import DataLoader

from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.models.classifier import Classifier

AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def make_model(backbone: str) -> Classifier:
    return Classifier(
        backbone={"name": backbone, "pretrained": False},
        head={"_target_": "skinlight.models.heads.LinearHead"},
        loss={"_target_": "skinlight.losses.classification.CrossEntropy"},
        optimizer={"_target_": "torch.optim.Adam", "lr": 1e-3},
        class_names=list(CLASSES),
    )


class StepTimer(L.Callback):
    """Wall time from the start of batch `warmup` to the end of training."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.seconds = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize()
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


def trainer_step(model, loader, args) -> float:
    timer = StepTimer(args.warmup)
    trainer = L.Trainer(
        accelerator=args.device,
        devices=1,
        precision=args.precision,
        max_steps=args.steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        num_sanity_val_steps=0,
    )
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainer.fit(torch.compile(model) if args.compile else model, train_dataloaders=loader)
    return timer.seconds / (args.steps - args.warmup)


def loop_step(model, loader, args) -> float:
    device = torch.device("cuda" if args.device == "gpu" else args.device)
    model = model.to(device).train()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = model.configure_optimizers()
    step_model = torch.compile(model) if args.compile else model
    dtype = AUTOCAST.get(args.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    for i, batch in enumerate(loader):
        if i == args.steps:
            break
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        image, label = batch["image"].to(device, non_blocking=True), batch["label"].to(device, non_blocking=True)
        if args.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = step_model.criterion(step_model(image), label)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / (args.steps - args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="mobilenetv3_small_100")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", help="cpu, gpu or auto")
    parser.add_argument("--precision", default="32-true", help="32-true, bf16-mixed, 16-mixed")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    if args.device == "auto":
        args.device = "gpu" if torch.cuda.is_available() else "cpu"

    torch.manual_seed(0)
    images = torch.randn(args.steps * args.batch_size, 3, args.size, args.size)
    labels = torch.randint(0, len(CLASSES), (len(images),))
    data = [{"image": i, "label": y} for i, y in zip(images, labels)]
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=False, pin_memory=args.device == "gpu")
    initial = make_model(args.backbone)

    times = {"loop": [], "trainer": []}
    for _ in range(args.repeats):  # alternate, so that both see the same machine load
        times["loop"].append(loop_step(copy.deepcopy(initial), loader, args))
        times["trainer"].append(trainer_step(copy.deepcopy(initial), loader, args))
    best = {k: min(v) for k, v in times.items()}
    print(
        f"{args.backbone} at {args.size} px, batch {args.batch_size}, {args.device}, {args.precision}"
        f"{', channels_last' if args.channels_last else ''}{', compile' if args.compile else ''}: "
        f"{args.steps - args.warmup} timed steps, best of {args.repeats}"
    )
    for name, seconds in best.items():
        print(
            f"  {name:8s} {seconds * 1000:8.1f} ms/step  {args.batch_size / seconds:8.0f} img/s   "
            f"(all runs: {', '.join(f'{s * 1000:.1f}' for s in times[name])} ms)"
        )
    print(f"ratio Trainer / hand-written loop = {best['trainer'] / best['loop']:.3f}")


if __name__ == "__main__":
    main()

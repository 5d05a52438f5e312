"""Does the loader keep the model fed? Images/s the train loader's workers deliver vs images/s the model consumes.

    python scripts/bench_feed.py [--batches 40] [--warmup 5] [--device auto] [train.py overrides...]
    e.g. python scripts/bench_feed.py experiment=skinlight_gpu data.root=../shared/data/HAM10000-200x150

The train.py config of the overrides (its data, augmentation, loader workers, model, precision,
channels_last) is composed as train.py composes it. Three measurements, after --warmup batches each:
  delivered  the train loader alone (workers decode/augment, batches collated; nothing trains)
  consumed   the model's training step (forward, loss, backward, optimizer step, in the config's
             precision and memory format) on one batch held on the device: the loader costs nothing
  fed        both together, the way training runs; on a GPU its utilisation is sampled meanwhile
delivered / consumed >= 1 means the workers keep up; fed close to consumed means the GPU does not wait.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import threading
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import open_dict

from skinlight.train import build_datamodule, build_model

CONF = Path(__file__).resolve().parents[1] / "conf"
AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def compose_train(overrides: list[str], run_dir: Path):
    """train.yaml + overrides, with Hydra's runtime fields set as train.py's run would set them."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.runtime.cwd = str(Path.cwd())
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


class Utilisation:
    """GPU utilisation (%) sampled by nvidia-smi every 200 ms while the block runs; None without a GPU."""

    def __enter__(self):
        self.samples: list[float] = []
        self.process = None
        if torch.cuda.is_available():
            command = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"]
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip().split(",")[0].isdigit():
                self.samples.append(float(line.split(",")[0]))

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(batches, step, count: int, warmup: int, device: torch.device) -> float:
    """Images/s of `step` over `count` batches after `warmup` (the first batches start the workers)."""
    images, start = 0, None
    for i, batch in enumerate(batches):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        step(batch)
        if start is not None:
            images += len(batch["label"])
        if i + 1 == warmup + count:
            break
    sync(device)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--run-dir", type=Path, default=Path("outputs/bench_feed"))
    args, overrides = parser.parse_known_args()
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = compose_train(overrides, args.run_dir)

    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_model(cfg, datamodule).to(device).train()
    channels_last = torch.channels_last if cfg.get("channels_last") else torch.contiguous_format
    model = model.to(memory_format=channels_last)
    optimizer = instantiate(model.hparams.optimizer, _partial_=True)(model.optimizer_params())  # no Trainer
    dtype = AUTOCAST.get(str(cfg.trainer.precision))

    def train_step(batch) -> None:
        image = batch["image"].to(device, non_blocking=True).contiguous(memory_format=channels_last)
        label = batch["label"].to(device, non_blocking=True)
        meta = batch["meta"].to(device, non_blocking=True) if "meta" in batch else None
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model.criterion(model(image, meta), label)
        loss.backward()
        optimizer.step()

    loader = datamodule.train_dataloader()
    delivered = timed(loader, lambda batch: None, args.batches, args.warmup, device)
    held = next(iter(loader))
    consumed = timed(itertools.repeat(held), train_step, args.batches, args.warmup, device)
    with Utilisation() as gpu:
        fed = timed(loader, train_step, args.batches, args.warmup, device)

    workers = cfg.data.num_workers
    print(
        f"loader feed ({device.type}, {cfg.data.image_size} px, batch {cfg.data.batch_size}, {workers} workers, "
        f"{cfg.trainer.precision}, channels_last={bool(cfg.get('channels_last'))}):\n"
        f"  delivered by the workers {delivered:8.0f} images/s\n"
        f"  consumed by the model    {consumed:8.0f} images/s\n"
        f"  fed (both together)      {fed:8.0f} images/s\n"
        f"  delivered / consumed = {delivered / consumed:.2f} ({'keeps up' if delivered >= consumed else 'starves'}); "
        f"fed / consumed = {fed / consumed:.2f}; GPU utilisation "
        + (f"{gpu.mean:.0f} % (mean of {len(gpu.samples)} samples)" if gpu.mean is not None else "n/a (no GPU)")
    )


if __name__ == "__main__":
    main()

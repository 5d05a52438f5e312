"""Inference benchmark: parameters, FLOPs and images/second of skinlight classifiers (Table 6 layout).

    skinlight-benchmark mobilenetv3 resnet50 densenet201 [--head linear]
        [--image-size N] [--batch-sizes 1 32] [--repeats 3] [--device auto] [--out table.csv]

Each name is a conf/backbone option; the model is the skinlight Classifier (backbone -> head ->
7-class linear layer, random weights: speed does not depend on them) at the backbone's native
input size unless --image-size. FLOPs (torch.utils.flop_counter: one multiply-add = 2 FLOPs) are
per image; img/s is the median over --repeats timed forward passes, after one warm-up pass.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import timm
import torch
from omegaconf import OmegaConf
from tabulate import tabulate
from torch.utils.flop_counter import FlopCounterMode

from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.devices import device_of
from skinlight.errors import ConfigError, exit_on_user_error
from skinlight.models.classifier import Classifier

CONF = Path(__file__).resolve().parents[3] / "conf"


def _option(group: str, name: str) -> dict:
    path = CONF / group / f"{name}.yaml"
    if not path.is_file():
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        raise ConfigError(f"{group}={name}: no {path}; options: {options}")
    return OmegaConf.to_container(OmegaConf.load(path))


def build(backbone: str, head: str = "linear") -> Classifier:
    """The Classifier of conf/backbone/<backbone>.yaml and conf/head/<head>.yaml, random weights."""
    return Classifier(
        {**_option("backbone", backbone), "pretrained": False, "weights": None},
        _option("head", head),
        _option("loss", "ce"),
        _option("optimizer", "adam"),
        list(CLASSES),
    ).eval()


@torch.no_grad()
def images_per_second(model, batch: torch.Tensor, repeats: int) -> float:
    """Median throughput over `repeats` forward passes of `batch` (after a warm-up pass)."""
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    model(batch)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        model(batch)
        sync()
        times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def benchmark(
    backbones,
    head: str = "linear",
    image_size: int | None = None,
    batch_sizes=(1, 32),
    repeats: int = 3,
    device: str = "auto",
) -> pd.DataFrame:
    """One row per backbone: params (M), GFLOPs per image, input size, img/s per batch size."""
    device = device_of(device)
    rows = []
    for name in backbones:
        model = build(name, head).to(device)
        size = image_size or model.backbone.pretrained_cfg["input_size"][-1]
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=device))
        row = {
            "backbone": name,
            "timm model": model.hparams.backbone["name"],
            "input": size,
            "params (M)": sum(p.numel() for p in model.parameters()) / 1e6,
            "GFLOPs": counter.get_total_flops() / 1e9,
        }
        for b in batch_sizes:
            row[f"img/s (batch {b})"] = images_per_second(model, torch.randn(b, 3, size, size, device=device), repeats)
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="skinlight-benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("backbones", nargs="+", help="conf/backbone options, e.g. mobilenetv3 resnet50 densenet201")
    parser.add_argument("--head", default="linear", help="a conf/head option")
    parser.add_argument("--image-size", type=int, help="input size (default: each backbone's native size)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeats", type=int, default=3, help="timed forward passes per batch size")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, ...")
    parser.add_argument("--out", type=Path, help="also write the table to this CSV")
    args = parser.parse_args(argv)
    with exit_on_user_error():
        table = benchmark(args.backbones, args.head, args.image_size, args.batch_sizes, args.repeats, args.device)
    print(f"device: {device_of(args.device)} ({torch.get_num_threads()} threads), timm {timm.__version__}")
    print(tabulate(table, headers="keys", showindex=False, floatfmt=".2f"))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()

"""Train-loader throughput per worker: naive per-item PIL decode + resize + augment vs the cache.

    python scripts/bench_loader.py [--root data/synthetic_ham10000/n1000_600x450_seed0] [--images 300]
        [--size 224] [--augmentation flips] [--repeats 3]

One process stands for one DataLoader worker (the work a worker does per item, without the
inter-process transfer, the same for both paths). All paths run the train transform of
`conf/augmentation/<name>.yaml` (then normalise, to tensor) on the same images:
  naive    PIL decodes the full JPEG, albumentations resizes to --size, augments
  draft    data.cache=false: PIL draft-mode decoding (DCT scaling) at >= --size, resize, augment
  cached   data.cache=true: the uint8 array from the memory-mapped cache, augment
Prints images/second (best of --repeats passes) and the ratios, measured in this one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import OmegaConf

from skinlight.data.cache import ImageCache
from skinlight.data.datasets import LesionImageDataset
from skinlight.data.layouts.ham10000 import read_ham10000
from skinlight.data.transforms import build_transform
from skinlight.synthetic.ham10000 import generate_ham10000

ROOT = Path(__file__).resolve().parents[1]


def throughput(dataset, repeats: int) -> float:
    """Images per second over the dataset (best of `repeats` passes)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(len(dataset)):
            dataset[i]
        best = min(best, time.perf_counter() - start)
    return len(dataset) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT / "data/synthetic_ham10000/n1000_600x450_seed0")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--augmentation", default="flips")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    if not (args.root / "HAM10000_metadata.csv").exists():
        print(f"generating a synthetic HAM10000 (600x450 JPEGs) into {args.root}")
        generate_ham10000(args.root, num_lesions=max(50, args.images // 2), seed=0, image_size=(600, 450))
    paths = read_ham10000(args.root)["path"].tolist()[: args.images]
    preset = OmegaConf.load(ROOT / "conf/augmentation" / f"{args.augmentation}.yaml")
    augmentation = hydra.utils.instantiate(OmegaConf.merge({"data": {"image_size": args.size}}, preset).train)
    labels = np.zeros(len(paths), dtype=int)

    def dataset(**kwargs) -> LesionImageDataset:
        return LesionImageDataset(paths, labels, build_transform(args.size, augmentation, seed=0), **kwargs)

    with tempfile.TemporaryDirectory() as cache_dir:
        cache = ImageCache(paths, args.size, cache_dir)
        start = time.perf_counter()
        cache.build()
        build = time.perf_counter() - start
        rates = {
            "naive": throughput(dataset(decode_size=None), args.repeats),
            "draft": throughput(dataset(decode_size=args.size), args.repeats),
            "cached": throughput(dataset(images=cache), args.repeats),
        }
    print(
        f"{len(paths)} images of {args.root.name}, {args.size} px, augmentation={args.augmentation}, "
        f"one process (= one loader worker)"
    )
    for name, rate in rates.items():
        print(f"  {name:7s} {rate:8.0f} img/s")
    print(f"  cache build (once, {cache.workers} threads): {build:.1f} s = {len(paths) / build:.0f} img/s")
    print(
        f"ratio cached / naive = {rates['cached'] / rates['naive']:.1f}x   "
        f"draft / naive = {rates['draft'] / rates['naive']:.1f}x   cached / draft = "
        f"{rates['cached'] / rates['draft']:.1f}x"
    )


if __name__ == "__main__":
    main()

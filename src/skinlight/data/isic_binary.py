"""The benign/malignant folder layout (`data=isic_binary`) and a synthetic writer of it.

    root/train/benign/*.jpg     root/train/malignant/*.jpg
    root/test/benign/*.jpg      root/test/malignant/*.jpg

This is how the widespread ISIC-archive binary sets are shared (e.g. Kaggle's "Skin Cancer:
Malignant vs. Benign", 224 x 224 JPEGs named 1.jpg, 2.jpg, ... in every folder). File names
repeat across folders, so an image's id is its path below root ("train/benign/1.jpg"). There
are no lesion ids and no metadata. Hidden files (".DS_Store") are skipped; anything else that
is not an image stops the reader with its path.

Synthetic copy: ``generate_isic_binary(root)`` or ``python -m skinlight.data.isic_binary --out DIR``
draws each image as a new lesion with skinlight.data.synthetic (benign: nv, bkl, df, vasc;
malignant: mel, bcc, akiec, in HAM10000's proportions within each group).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.ham10000 import BINARY_CLASSES, CLASSES, IMAGE_SUFFIXES, MALIGNANT, _show, looks_truncated
from skinlight.data.synthetic import JPEG_QUALITY, LESION_SHARE, draw_lesion_image, sample_lesion, sample_view
from skinlight.errors import DataError

SPLITS = ("train", "test")


def _entries(folder: Path) -> list[Path]:
    """The non-hidden entries of `folder`, sorted."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def read_isic_binary(root: str | os.PathLike, classes=BINARY_CLASSES) -> pd.DataFrame:
    """Image table: image_id (path below root), lesion_id (= image_id), label, split (train/test), path."""
    root, classes = Path(root), tuple(classes)
    layout = f"{root}/{{{','.join(SPLITS)}}}/{{{','.join(classes)}}}/*.jpg"
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root} (expected {layout})")
    rows = []
    for split in SPLITS:
        if not (root / split).is_dir():
            raise DataError(f"folder missing: {root / split} (expected {layout})")
        unexpected = [str(p) for p in _entries(root / split) if p.name not in classes]
        if unexpected:
            raise DataError(f"unexpected entry in {root / split}: {_show(unexpected)}; only the class folders "
                            f"{list(classes)} (data.classes) belong there")
        for label, name in enumerate(classes):
            folder = root / split / name
            if not folder.is_dir():
                raise DataError(f"folder missing: {folder} (expected {layout})")
            files = _entries(folder)
            if not files:
                raise DataError(f"empty class folder: {folder}")
            not_images = [str(p) for p in files if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES]
            if not_images:
                raise DataError(f"not an image file ({', '.join(IMAGE_SUFFIXES)}): {_show(not_images)}")
            broken = [str(p) for p in files if looks_truncated(p)]
            if broken:
                raise DataError(f"{len(broken)} image file(s) empty or truncated: {_show(broken)}")
            rows += [{"image_id": p.relative_to(root).as_posix(), "label": label, "split": split, "path": p}
                     for p in files]
    table = pd.DataFrame(rows)
    table.insert(1, "lesion_id", table["image_id"])
    return table


def generate_isic_binary(root: str | os.PathLike, num_train: int = 200, num_test: int = 50,
                         malignant_fraction: float = 0.45, seed: int = 0,
                         image_size: tuple[int, int] = (224, 224)) -> pd.DataFrame:
    """Write a synthetic benign/malignant folder dataset into `root`; return one row per image.

    Each split has round(malignant_fraction * n) malignant images; every image is a new lesion
    drawn from `seed` and its index, so the same arguments give the same pixels.
    """
    root = Path(root)
    if (root / "train").exists() or (root / "test").exists():
        raise ValueError(f"{root} already holds a train/ or test/ folder; choose an empty directory")
    if not 0 < malignant_fraction < 1:
        raise ValueError(f"malignant_fraction must be in (0, 1), got {malignant_fraction}")
    groups = {"benign": [c for c in CLASSES if c not in MALIGNANT], "malignant": list(MALIGNANT)}
    rows = []
    for s, (split, n) in enumerate(zip(SPLITS, (num_train, num_test))):
        n_malignant = round(malignant_fraction * n)
        if min(n_malignant, n - n_malignant) < 1:
            raise ValueError(f"{split}: {n} images at malignant_fraction={malignant_fraction} leave a class empty")
        for c, (name, count) in enumerate(zip(BINARY_CLASSES, (n - n_malignant, n_malignant))):
            folder = root / split / name
            folder.mkdir(parents=True)
            share = np.array([LESION_SHARE[dx] for dx in groups[name]])
            for i in range(count):
                rng = np.random.default_rng([seed, s, c, i])
                dx = groups[name][rng.choice(len(share), p=share / share.sum())]
                rgb, _ = draw_lesion_image(sample_lesion(dx, rng), sample_view(rng), image_size, rng)
                path = folder / f"{i + 1}.jpg"
                Image.fromarray(rgb).save(path, quality=JPEG_QUALITY)
                rows.append({"path": path, "split": split, "label": name, "dx": dx})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m skinlight.data.isic_binary",
                                description="Write a synthetic dataset in the benign/malignant folder layout.")
    p.add_argument("--out", required=True, help="output directory (must not hold train/ or test/)")
    p.add_argument("--num-train", type=int, default=200)
    p.add_argument("--num-test", type=int, default=50)
    p.add_argument("--malignant-fraction", type=float, default=0.45)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=224, help="square image side in pixels")
    a = p.parse_args(argv)
    table = generate_isic_binary(a.out, a.num_train, a.num_test, a.malignant_fraction, a.seed, (a.size, a.size))
    counts = table.groupby(["split", "label"]).size()
    print(f"wrote {len(table)} images to {a.out}: " + ", ".join(f"{s}/{c} {n}" for (s, c), n in counts.items()))


if __name__ == "__main__":
    main()

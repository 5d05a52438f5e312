"""Mask prediction for a folder: `python predict_masks.py ckpt_path=... input=<folder>` (see conf/predict_masks.yaml).

Every image below `input` (jpg, jpeg, png, bmp; sub-folders mirrored) gets
<output>/<sub-folder>/<image stem>_segmentation.png: 0/255, at the image's own size, the ISIC
ground-truth naming. The checkpoint alone fixes the input size, normalisation and threshold.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PIL import Image

from skinlight.data.dataset import load_rgb
from skinlight.data.ham10000 import IMAGE_SUFFIXES
from skinlight.data.segmentation import MASK_SUFFIX
from skinlight.errors import DataError
from skinlight.models.segmenter import Segmenter

log = logging.getLogger(__name__)
SUFFIXES = (*IMAGE_SUFFIXES, ".bmp")


def find_images(input_path: Path) -> list[Path]:
    """`input_path` itself if it is an image, else every image below it (sorted)."""
    if input_path.is_file():
        return [input_path]
    if not input_path.is_dir():
        raise DataError(f"input does not exist: {input_path}")
    images = sorted(p for p in input_path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not images:
        raise DataError(f"no images ({', '.join(SUFFIXES)}) in {input_path}")
    return images


def predict_folder(model: Segmenter, input_path: str | Path, output: str | Path, batch_size: int = 8) -> list[Path]:
    """Write one mask PNG per image below `input_path` into `output`; return the written paths."""
    input_path, output = Path(input_path), Path(output)
    images = find_images(input_path)
    base = input_path.parent if input_path.is_file() else input_path
    written = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        sizes = []
        for path in chunk:
            with Image.open(path) as img:
                sizes.append((img.height, img.width))
        arrays = [load_rgb(p, model.hparams.image_size) for p in chunk]
        for path, mask in zip(chunk, model.predict_masks(arrays, sizes, batch_size)):
            target = output / path.relative_to(base).parent / f"{path.stem}{MASK_SUFFIX}"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype("uint8") * 255).save(target)
            written.append(target)
    log.info("%d mask(s) written to %s", len(written), output)
    return written


def run_prediction(ckpt_path: str, input: str, output: str, batch_size: int = 8, device: str = "auto",
                   threshold: float | None = None) -> list[Path]:
    """Load the checkpoint (no weight download), move it to `device`, predict the folder."""
    model = Segmenter.from_checkpoint(ckpt_path)
    if threshold is not None:
        model.hparams.threshold = threshold
    model.to(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    return predict_folder(model, input, output, batch_size)

"""Mask prediction: a segmentation model's masks of images, and of a folder (`python predict_masks.py`).

Every image below `input` (jpg, jpeg, png, bmp; sub-folders mirrored) gets
<output>/<sub-folder>/<image stem>_segmentation.png: 0/255, at the image's own size, the ISIC
ground-truth naming. The checkpoint alone fixes the input size, resize policy, normalisation and
threshold. With `truth` the masks are scored against the ground truth (skinlight.inference.mask_scores).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from skinlight.checkpoints import load_checkpoint
from skinlight.data.layouts.files import IMAGE_SUFFIXES, MASK_SUFFIX
from skinlight.data.layouts.images import check_images, load_rgb
from skinlight.data.transforms import build_transform, content_box, preprocessing
from skinlight.devices import device_of
from skinlight.errors import DataError
from skinlight.inference.mask_scores import check_truth_folder, score_masks
from skinlight.models.segmenter import Segmenter

log = logging.getLogger(__name__)
SUFFIXES = (*IMAGE_SUFFIXES, ".bmp")


@torch.no_grad()
def predict_masks(
    model: Segmenter, images: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]] | None = None, batch_size: int = 8
) -> list[np.ndarray]:
    """Boolean masks of RGB uint8 images, each at its image's (h, w) or at `sizes[i]`: the model runs at
    its input size, the probabilities of the image's part of the input (content_box: all of it unless
    data.resize=pad added a border) are resized back, then thresholded."""
    hp = model.hparams
    transform = build_transform(hp.image_size, policy=hp.resize, preprocess=preprocessing(hp.get("preprocess")))
    training, masks = model.training, []
    model.eval()
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        probs = model(torch.stack([transform(image=im)["image"] for im in chunk]).to(model.device)).sigmoid()
        for k, image in enumerate(chunk):
            size = sizes[start + k] if sizes else image.shape[:2]
            top, left, h, w = content_box(*image.shape[:2], hp.image_size, hp.resize)
            prob = probs[k : k + 1, :, top : top + h, left : left + w]
            prob = F.interpolate(prob, size=tuple(size), mode="bilinear", align_corners=False)
            masks.append((prob[0, 0] >= hp.threshold).cpu().numpy())
    model.train(training)
    return masks


def find_images(input_path: Path) -> list[Path]:
    """`input_path` itself if it is an image, else every image below it (sorted); each one checked (check_images)."""
    if input_path.is_file():
        check_images([input_path])
        return [input_path]
    if not input_path.is_dir():
        raise DataError(f"input does not exist: {input_path}")
    images = sorted(p for p in input_path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not images:
        raise DataError(f"no images ({', '.join(SUFFIXES)}) in {input_path}")
    check_images(images)
    return images


def predict_folder(model: Segmenter, input_path: str | Path, output: str | Path, batch_size: int = 8) -> list[Path]:
    """Write one mask PNG per image below `input_path` into `output`; return the written paths."""
    input_path, output = Path(input_path), Path(output)
    images = find_images(input_path)
    base = input_path.parent if input_path.is_file() else input_path
    written = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        sizes = []
        for path in chunk:
            with Image.open(path) as img:
                sizes.append((img.height, img.width))
        arrays = [load_rgb(p, model.hparams.image_size) for p in chunk]
        for path, mask in zip(chunk, predict_masks(model, arrays, sizes, batch_size)):
            target = output / path.relative_to(base).parent / f"{path.stem}{MASK_SUFFIX}"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype("uint8") * 255).save(target)
            written.append(target)
    log.info("%d mask(s) written to %s", len(written), output)
    return written


def run_prediction(
    ckpt_path: str,
    input: str,
    output: str,
    batch_size: int = 8,
    device: str = "auto",
    threshold: float | None = None,
    truth: str | None = None,
) -> list[Path]:
    """Load the checkpoint (no weight download), move it to `device`, predict the folder; with `truth` (a
    folder of ground-truth masks) score the masks (skinlight.inference.mask_scores)."""
    if truth is not None:
        check_truth_folder(truth)
    model = load_checkpoint(ckpt_path, task=Segmenter.TASK)
    if threshold is not None:
        model.hparams.threshold = threshold
    written = predict_folder(model.to(device_of(device)), input, output, batch_size)
    if truth is not None:
        score_masks(written, output, truth)
    return written

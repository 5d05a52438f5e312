"""Mask prediction: a segmentation model's masks of images, and of a folder (`python predict_masks.py`).

Every image below `input` (jpg, jpeg, png, bmp; sub-folders mirrored) gets
<output>/<sub-folder>/<image stem>_segmentation.png: 0/255, at the image's own size, the ISIC
ground-truth naming. The checkpoint alone fixes the input size, resize policy, normalisation and
threshold; `tta=flips|d4` averages the probabilities over views (each inverted), `postprocess=largest_filled`
cleans each thresholded mask at the image's own size. With `truth` the masks are scored against the ground
truth (skinlight.inference.mask_scores).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from skinlight.checkpoints import load_checkpoint
from skinlight.data.layouts.files import IMAGE_SUFFIXES, MASK_SUFFIX
from skinlight.data.layouts.images import check_images, load_rgb
from skinlight.data.transforms import build_transform, preprocessing, restore_size
from skinlight.devices import device_of
from skinlight.errors import DataError
from skinlight.inference.mask_scores import check_truth_folder, score_masks
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.tta import MaskViews, mask_views
from skinlight.models.segmenter import Segmenter, view_probs

log = logging.getLogger(__name__)
SUFFIXES = (*IMAGE_SUFFIXES, ".bmp")


@torch.no_grad()
def mask_probs(
    model: Segmenter,
    images: Sequence[np.ndarray],
    sizes: Sequence[tuple[int, int]] | None = None,
    views: MaskViews | None = None,
    batch_size: int = 8,
) -> list[Tensor]:
    """Lesion probabilities (H, W) of RGB uint8 images, each at its image's (h, w) or at `sizes[i]`: the model
    runs at its input size on each of `views` (tta.mask_views; the plain image by default), each view's
    probabilities are mapped back by its inverse and averaged, and the image's part of the input (content_box:
    all of it unless data.resize=pad added a border) is resized back (bilinear)."""
    hp = model.hparams
    transform = build_transform(hp.image_size, policy=hp.resize, preprocess=preprocessing(hp.get("preprocess")))
    training, out = model.training, []
    model.eval()
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        probs = view_probs(model, torch.stack([transform(image=im)["image"] for im in chunk]).to(model.device), views)
        for k, image in enumerate(chunk):
            size = sizes[start + k] if sizes else image.shape[:2]
            out.append(restore_size(probs[k], image.shape[:2], size, hp.image_size, hp.resize)[0].cpu())
    model.train(training)
    return out


def predict_masks(
    model: Segmenter,
    images: Sequence[np.ndarray],
    sizes: Sequence[tuple[int, int]] | None = None,
    batch_size: int = 8,
    views: MaskViews | None = None,
    postprocess: PostProcess | None = None,
) -> list[np.ndarray]:
    """Boolean masks of RGB uint8 images (mask_probs' probabilities at the images' sizes, thresholded at the
    checkpoint's model.threshold, then `postprocess`ed)."""
    postprocess = postprocess or PostProcess()
    probs = mask_probs(model, images, sizes, views, batch_size)
    return [postprocess((prob >= model.hparams.threshold).numpy()) for prob in probs]


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


def predict_folder(
    model: Segmenter, input_path: str | Path, output: str | Path, batch_size: int = 8, **options
) -> list[Path]:
    """Write one mask PNG per image below `input_path` into `output` (predict_masks' `views` and `postprocess`
    in `options`); return the written paths."""
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
        for path, mask in zip(chunk, predict_masks(model, arrays, sizes, batch_size, **options)):
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
    tta: Mapping | None = None,
    postprocess: Mapping | None = None,
) -> list[Path]:
    """Load the checkpoint (no weight download), move it to `device`, predict the folder with the `tta` and
    `postprocess` configs (conf/tta, conf/postprocess; none by default); with `truth` (a folder of ground-truth
    masks) score the masks (skinlight.inference.mask_scores)."""
    views = mask_views(tta["views"], tta.get("crops")) if tta else None
    post = PostProcess.from_config(postprocess)
    if truth is not None:
        check_truth_folder(truth)
    model = load_checkpoint(ckpt_path, task=Segmenter.TASK)
    if threshold is not None:
        model.hparams.threshold = threshold
    written = predict_folder(model.to(device_of(device)), input, output, batch_size, views=views, postprocess=post)
    if truth is not None:
        score_masks(written, output, truth)
    return written

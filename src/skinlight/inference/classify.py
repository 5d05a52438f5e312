"""Class probabilities for new images: `python predict.py ckpt_path=... input=<image, folder or CSV>`.

The input is one image, a folder (every image below it; any other file is an error, so nothing is
silently skipped) or a CSV with an `image` (or `path`) column of image files, relative to the CSV's
folder. A model that fuses patient metadata needs the CSV form with `age`, `sex` and `localization`
columns too; blank cells are encoded as in training (a missing age is the training mean, flagged;
an unknown sex or site is "unknown"). The output CSV has the image path, one probability column per
class and the prediction; a model of HAM10000's seven classes also gets isic2018_task3_submission.csv beside
it (image = the file stem). The checkpoint alone fixes the input size, resize policy, normalisation
and metadata encoding.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from skinlight.data.datasets import LesionImageDataset
from skinlight.data.layouts.files import check_table, read_csv_table
from skinlight.data.layouts.images import check_images
from skinlight.data.metadata import META_COLUMNS, MetadataEncoder
from skinlight.data.transforms import build_transform, preprocessing
from skinlight.devices import device_of
from skinlight.errors import ConfigError, DataError
from skinlight.inference.ensemble import load_classifier
from skinlight.inference.segment import SUFFIXES, find_images
from skinlight.inference.submission import write_submission
from skinlight.inference.tta import build_views, predict_probs

log = logging.getLogger(__name__)
PATH_COLUMNS = ("image", "path")


def read_input(input_path: str | Path) -> tuple[list[Path], pd.DataFrame | None]:
    """The image files of `input_path` (an image, a folder or a CSV of image paths), and the CSV's rows."""
    input_path = Path(input_path)
    if input_path.suffix.lower() == ".csv" and input_path.is_file():
        table = read_csv_table(input_path, "input CSV")
        column = next((c for c in PATH_COLUMNS if c in table.columns), None)
        if column is None:
            raise DataError(
                f"{input_path}: no {' or '.join(PATH_COLUMNS)} column of image files; found {list(table.columns)}"
            )
        check_table(table, input_path, "input CSV", required=(column,))  # no blank image cell
        paths = [p if p.is_absolute() else input_path.parent / p for p in map(Path, table[column])]
        missing = [f"line {i + 2} ({p})" for i, p in enumerate(paths) if not p.is_file()]
        if missing:
            raise DataError(f"{input_path}: image file(s) not found: {', '.join(missing[:5])}")
        check_images(paths)
        return paths, table
    if input_path.is_file() and input_path.suffix.lower() not in SUFFIXES:
        raise DataError(f"input {input_path} is not an image ({', '.join(SUFFIXES)}) or a CSV")
    if input_path.is_dir():
        others = sorted(
            p
            for p in input_path.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in SUFFIXES
        )
        if others:
            raise DataError(
                f"{input_path} holds file(s) that are not images ({', '.join(SUFFIXES)}): "
                f"{', '.join(map(str, others[:5]))}; move them out or list the images in a CSV"
            )
    return find_images(input_path), None


def encode_metadata(model, ckpt_path, input_path, table: pd.DataFrame | None) -> np.ndarray | None:
    """The metadata vectors of a fusing model's input rows, encoded as in its training; None for image-only models."""
    if model.fusion is None:
        return None
    missing = [c for c in META_COLUMNS if table is None or c not in table.columns]
    if missing:
        got = "a CSV without " + ", ".join(missing) if table is not None else "images without a CSV"
        raise ConfigError(
            f"{ckpt_path} fuses patient metadata "
            f"(meta={model.fusion.option}) but input={input_path} gives {got}: give a CSV with "
            f"columns image, {', '.join(META_COLUMNS)} (blank cells are allowed)"
        )
    return MetadataEncoder.from_state(model.hparams.metadata).transform(table, str(input_path))


def model_inputs(model, paths: list[Path], meta: np.ndarray | None = None) -> LesionImageDataset:
    """The images at `paths` (and their encoded metadata rows) as the model's training fed them: its input size,
    resize policy and preprocessing, from the checkpoint."""
    hp = model.hparams
    transform = build_transform(hp.image_size, policy=hp.resize, preprocess=preprocessing(hp.get("preprocess")))
    return LesionImageDataset(paths, [0] * len(paths), transform, meta=meta, decode_size=hp.image_size)


def predict(
    ckpt_path: str,
    input: str,
    output: str,
    batch_size: int = 32,
    num_workers: int = 0,
    views=("identity",),
    device: str = "auto",
    crops=None,
) -> pd.DataFrame:
    """Write `output` (CSV: path, one probability per class, prediction) and, beside it, the ISIC 2018 Task 3
    submission (skinlight.inference.submission); return the table."""
    model = load_classifier(ckpt_path).to(device_of(device))
    paths, table = read_input(input)
    meta = encode_metadata(model, ckpt_path, input, table)
    loader = DataLoader(model_inputs(model, paths, meta), batch_size=batch_size, num_workers=num_workers)
    probs = predict_probs(model, loader, build_views(views, crops)).mean(0)  # `views`, `crops`: a tta config's
    classes = list(model.hparams.class_names)
    result = pd.DataFrame(probs.numpy(), columns=classes)
    result.insert(0, "path", [str(p) for p in paths])
    result["prediction"] = [classes[i] for i in probs.argmax(1)]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(output, index=False)
    log.info("%d prediction(s) written to %s", len(result), output)
    write_submission(Path(output).parent, [p.stem for p in paths], probs.numpy(), classes)
    return result

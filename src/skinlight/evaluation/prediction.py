"""Class probabilities for new images: `python predict.py ckpt_path=... input=<image, folder or CSV>`.

The input is one image, a folder (every image below it; any other file is an error, so nothing is
silently skipped) or a CSV with an `image` (or `path`) column of image files, relative to the CSV's
folder. The output CSV has the image path, one probability column per class and the prediction.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from skinlight.data.dataset import LesionImageDataset, build_transform
from skinlight.errors import ConfigError, DataError
from skinlight.evaluation.ensemble import load_classifier
from skinlight.evaluation.tta import check_views, device_of, predict_probs
from skinlight.models.backbones import normalization
from skinlight.predict import SUFFIXES, find_images

log = logging.getLogger(__name__)
PATH_COLUMNS = ("image", "path")


def read_input(input_path: str | Path) -> list[Path]:
    """The image files of `input_path` (an image, a folder or a CSV of image paths)."""
    input_path = Path(input_path)
    if input_path.suffix.lower() == ".csv" and input_path.is_file():
        table = pd.read_csv(input_path, dtype=str)
        column = next((c for c in PATH_COLUMNS if c in table.columns), None)
        if column is None:
            raise DataError(f"{input_path}: no {' or '.join(PATH_COLUMNS)} column of image files; "
                            f"found {list(table.columns)}")
        paths = [p if p.is_absolute() else input_path.parent / p for p in map(Path, table[column])]
        missing = [f"line {i + 2} ({p})" for i, p in enumerate(paths) if not p.is_file()]
        if missing:
            raise DataError(f"{input_path}: image file(s) not found: {', '.join(missing[:5])}")
        return paths
    if input_path.is_file() and input_path.suffix.lower() not in SUFFIXES:
        raise DataError(f"input {input_path} is not an image ({', '.join(SUFFIXES)}) or a CSV")
    if input_path.is_dir():
        others = sorted(p for p in input_path.rglob("*") if p.is_file() and not p.name.startswith(".")
                        and p.suffix.lower() not in SUFFIXES)
        if others:
            raise DataError(f"{input_path} holds file(s) that are not images ({', '.join(SUFFIXES)}): "
                            f"{', '.join(map(str, others[:5]))}; move them out or list the images in a CSV")
    return find_images(input_path)


def checkpoint_image_size(ckpt_path: Path) -> int:
    """data.image_size of the run that wrote the checkpoint (its .hydra/config.yaml)."""
    config = ckpt_path.parent.parent / ".hydra" / "config.yaml"
    if not config.is_file():
        raise ConfigError(f"image_size=null but {config} (the checkpoint's run config) is missing: "
                          "set image_size= to the size the model was trained at")
    return int(OmegaConf.load(config).data.image_size)


def predict(ckpt_path: str, input: str, output: str, image_size: int | None = None, batch_size: int = 32,
            num_workers: int = 0, views=("identity",), device: str = "auto") -> pd.DataFrame:
    """Write `output` (CSV: path, one probability per class, prediction); return the table."""
    model = load_classifier(ckpt_path).to(device_of(device))
    if model.fusion is not None:
        raise ConfigError(f"{ckpt_path} fuses patient metadata (meta={model.fusion.option}); predict.py "
                          "takes image-only models: evaluate it with eval.py on its dataset")
    paths = read_input(input)
    size = image_size or checkpoint_image_size(Path(ckpt_path))
    mean, std = normalization(model.hparams.backbone["name"])
    dataset = LesionImageDataset(paths, [0] * len(paths), build_transform(size, mean, std), decode_size=size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    probs = predict_probs(model, loader, check_views(views)).mean(0)
    classes = list(model.hparams.class_names)
    table = pd.DataFrame(probs.numpy(), columns=classes)
    table.insert(0, "path", [str(p) for p in paths])
    table["prediction"] = [classes[i] for i in probs.argmax(1)]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False)
    log.info("%d prediction(s) written to %s", len(table), output)
    return table

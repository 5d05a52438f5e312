"""Reader of the HAM10000 download layout (and of the synthetic copy written in that layout).

    root/HAM10000_metadata.csv            lesion_id, image_id, dx, dx_type, age, sex, localization
    root/HAM10000_images_part_1/*.jpg     (or any folder below root: one folder, part_1/_part_2, ...)
    root/HAM10000_images_part_2/*.jpg

The reader validates everything it can without decoding images: columns, labels, duplicate
ids, images that are missing or visibly truncated. Each problem raises a DataError that names
the file and the rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skinlight.errors import DataError

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
MALIGNANT = ("akiec", "bcc", "mel")  # data.task=binary: these are "malignant", the other four "benign"
BINARY_CLASSES = ("benign", "malignant")  # the positive class is the second one
METADATA_CSV = "HAM10000_metadata.csv"
REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _show(values, limit: int = 5) -> str:
    values = list(values)
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(map(str, values[:limit])) + more


def read_metadata(csv_path: Path, classes=CLASSES, label_column: str = "dx") -> pd.DataFrame:
    """Read and validate the metadata CSV; `label` is the class index of `dx` in `classes`."""
    if not csv_path.is_file():
        listing = _show(sorted(p.name for p in csv_path.parent.iterdir())) if csv_path.parent.is_dir() else "-"
        raise DataError(f"metadata CSV not found: {csv_path} (the folder holds: {listing})")
    df = pd.read_csv(csv_path, dtype={"lesion_id": str, "image_id": str, label_column: str})
    missing = [c for c in (*REQUIRED_COLUMNS[:2], label_column) if c not in df.columns]
    if missing:
        raise DataError(f"{csv_path}: missing column(s) {_show(missing)}; found {_show(df.columns, 20)}")
    duplicated = df["image_id"][df["image_id"].duplicated()]
    if len(duplicated):
        raise DataError(f"{csv_path}: image_id listed more than once: {_show(duplicated.unique())}")
    unknown = ~df[label_column].isin(classes)
    if unknown.any():
        rows = [f"line {i + 2} ({df.at[i, 'image_id']}: {df.at[i, label_column]!r})" for i in df.index[unknown]]
        raise DataError(f"{csv_path}: unknown {label_column} label(s), expected one of {list(classes)}: {_show(rows)}")
    df["label"] = df[label_column].map({c: i for i, c in enumerate(classes)}).astype(int)
    return df


def index_images(root: Path, image_ids) -> dict[str, Path]:
    """Map each image id to its file, searching every folder below `root` once."""
    wanted, found = set(image_ids), {}
    for folder, _, files in os.walk(root):
        for name in files:
            stem, suffix = os.path.splitext(name)
            if stem in wanted and suffix.lower() in IMAGE_SUFFIXES:
                path = Path(folder) / name
                if stem in found:
                    raise DataError(f"image {stem} found twice: {found[stem]} and {path}; keep one copy")
                found[stem] = path
    return found


def looks_truncated(path: Path) -> bool:
    """True for an empty file or a JPEG without its end-of-image marker (a cut-off download)."""
    size = path.stat().st_size
    if size == 0:
        return True
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return False
    with open(path, "rb") as f:
        head = f.read(2)
        # JPEG writers may pad after the end-of-image marker: look for it in the last bytes.
        f.seek(max(size - 64, 0))
        tail = f.read()
    return head != b"\xff\xd8" or b"\xff\xd9" not in tail


def read_ham10000(root: str | os.PathLike, classes=CLASSES, csv_name: str = METADATA_CSV,
                  label_column: str = "dx") -> pd.DataFrame:
    """The metadata table of a HAM10000-layout folder, with a `path` column for each image."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root}")
    csv_path = root / csv_name
    df = read_metadata(csv_path, classes, label_column)
    paths = index_images(root, df["image_id"])
    absent = [f"line {i + 2} ({image_id})" for i, image_id in zip(df.index, df["image_id"]) if image_id not in paths]
    if absent:
        raise DataError(f"{len(absent)} image(s) listed in {csv_path} not found under {root}: {_show(absent)}")
    df["path"] = [paths[i] for i in df["image_id"]]
    broken = [str(p) for p in df["path"] if looks_truncated(p)]
    if broken:
        raise DataError(f"{len(broken)} image file(s) empty or truncated: {_show(broken)}")
    return df

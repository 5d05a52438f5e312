"""Helpers shared by the layout readers: listing values in messages, finding folders and image files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from skinlight.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_SUFFIX = "_segmentation.png"  # the ISIC ground-truth naming: ISIC_xxxxxxx_segmentation.png


def show(values, limit: int = 5) -> str:
    """At most `limit` values for a message, with how many more there are."""
    values = list(values)
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(map(str, values[:limit])) + more


def existing_root(root) -> Path:
    """`data.root` as a Path; a missing folder (or a file) stops here."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root}")
    return root


def folder(root: Path, name: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        listing = show(sorted(p.name for p in root.iterdir())) if root.is_dir() else "-"
        raise DataError(f"folder not found: {folder} ({root} holds: {listing or 'nothing'})")
    return folder


def images_in(folder: Path) -> list[Path]:
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"no images (*.jpg, *.png) in {folder}")
    return images


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


def read_csv_table(path: Path, what: str, required=(), id_columns=()) -> pd.DataFrame:
    """A CSV as text cells (blank cells are NaN), checked once: a file with a header and rows, UTF-8 (a BOM
    and Windows line endings are fine), the `required` columns present and non-blank, `id_columns` unique.

    Every problem is a DataError naming the file (`what` says which file it is) and its lines.
    """
    if not path.is_file():
        listing = show(sorted(p.name for p in path.parent.iterdir())) if path.parent.is_dir() else "-"
        raise DataError(f"{what} not found: {path} (the folder holds: {listing or 'nothing'})")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{what} {path} is empty: it needs a header line and one row per image") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{what} {path} is not UTF-8 text ({e.reason} at byte {e.start}): save it as UTF-8") from None
    except (pd.errors.ParserError, csv.Error) as e:
        raise DataError(f"{what} {path} is not a readable CSV: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return check_table(df, path, what, required, id_columns)


def check_table(df: pd.DataFrame, path: Path, what: str, required=(), id_columns=()) -> pd.DataFrame:
    """read_csv_table's checks of a table read from `path`: rows, the `required` columns present and
    non-blank, `id_columns` unique."""
    require_columns(df, path, what, required)
    if df.empty:
        raise DataError(f"{what} {path} has a header but no rows")
    for column in required:
        blank = df.index[df[column].isna()]
        if len(blank):
            raise DataError(f"{what} {path}: blank {column} on {show(f'line {i + 2}' for i in blank)}")
    for column in id_columns:
        repeated = df[column][df[column].duplicated()]
        if len(repeated):
            raise DataError(f"{what} {path}: {column} listed more than once: {show(repeated.unique())}")
    return df


def require_columns(df: pd.DataFrame, path: Path, what: str, columns) -> None:
    """Columns that must be present (their cells may be blank)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what} {path}: missing column(s) {show(missing)}; found {show(df.columns, 20)}")


CONTRACT = ("image_id", "lesion_id", "patient_id", "diagnosis", "age", "sex", "site")  # skinlight.data.sources


def contract_table(df: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The columns of a source's table (CONTRACT) from the download's (`names`: contract column -> the
    download's); one the download does not have is blank (pd.NA). The index (the CSV's rows) is kept for messages."""
    return pd.DataFrame(
        {c: df[names[c]] if names.get(c) in df.columns else pd.Series(pd.NA, index=df.index) for c in CONTRACT}
    )

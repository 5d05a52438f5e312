"""Helpers shared by the layout readers: listing values in messages, finding folders and image files."""

from __future__ import annotations

import os
from pathlib import Path

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
        raise DataError(f"folder not found: {folder} ({root} holds: {listing})")
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


"""Images that are in two datasets (or twice in one): found by id where ids are the ISIC archive's, else by pixels.

`duplicate_clusters(table)` returns, for each image, the index of the image its cluster keeps (itself when it
is kept or unique). Two images are one when

  * both ids are ISIC archive ids of sources with ISIC_IDS (ISIC 2019 contains HAM10000 under the same ids;
    its "_downsampled" copies carry the suffix), or
  * their 64-bit perceptual hashes (imagehash.phash, a DCT of the 32x32 grey image) differ in at most
    `max_distance` bits: a re-encoded or resized copy under another name.

A cluster keeps the copy of the first source in `preference` (the target dataset first), then the first by
image id. Hashes are cached per file (path, size, modification time) under `cache_dir`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.layouts.files import show
from skinlight.data.layouts.images import load_rgb
from skinlight.errors import DataError

log = logging.getLogger(__name__)
BLOCK = 512  # rows of the pairwise Hamming distances computed at once


def _hash(path: str) -> int:
    rgb = load_rgb(Path(path), min_size=64)
    return int(str(imagehash.phash(Image.fromarray(rgb))), 16)


def perceptual_hashes(paths, cache_dir: Path | None = None) -> np.ndarray:
    """The 64-bit phash of each file as uint64 (read from / added to cache_dir/phash.json)."""
    paths = [str(p) for p in paths]
    cache_file = Path(cache_dir) / "phash.json" if cache_dir else None
    cache = json.loads(cache_file.read_text()) if cache_file and cache_file.is_file() else {}
    keys, hashes = [], []
    for path in paths:
        stat = Path(path).stat()
        key = hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
        if key not in cache:
            cache[key] = f"{_hash(path):016x}"
        keys.append(key)
        hashes.append(int(cache[key], 16))
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    return np.array(hashes, dtype=np.uint64)


def close_pairs(hashes: np.ndarray, max_distance: int) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose hashes differ in at most `max_distance` bits."""
    pairs = []
    for start in range(0, len(hashes), BLOCK):
        block = hashes[start : start + BLOCK]
        distance = np.bitwise_count(block[:, None] ^ hashes[None, :])
        rows, cols = np.nonzero(distance <= max_distance)
        keep = cols > rows + start
        pairs += zip((rows[keep] + start).tolist(), cols[keep].tolist(), strict=True)
    return pairs


class _Union:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def duplicate_clusters(
    table: pd.DataFrame, isic_sources, preference, max_distance: int = 2, cache_dir: Path | None = None
) -> tuple[pd.Series, pd.Series]:
    """(kept, how): for each row of `table` (columns source, image_id, path, dx) the index label of the row its
    cluster keeps, and how it was found ("", "id", "pixels"). Copies whose common classes differ stop here."""
    table = table.reset_index(drop=True)
    union = _Union(len(table))
    how = pd.Series("", index=table.index, dtype=object)
    isic = table["source"].isin(isic_sources)
    key = table["image_id"].str.replace(r"_downsampled$", "", regex=True)
    for _, rows in table[isic].groupby(key[isic]):
        for i in rows.index[1:]:
            union.join(i, rows.index[0])
            how[[i, rows.index[0]]] = "id"
    for i, j in close_pairs(perceptual_hashes(table["path"], cache_dir), max_distance):
        if union.find(i) != union.find(j):
            how[[i, j]] = how[[i, j]].replace("", "pixels")
        union.join(i, j)
    cluster = pd.Series([union.find(i) for i in table.index], index=table.index)
    rank = table["source"].map({s: k for k, s in enumerate(preference)})
    order = table.assign(rank=rank, cluster=cluster).sort_values(["cluster", "rank", "image_id"])
    kept = order.groupby("cluster")["rank"].head(1)
    keeper = pd.Series(kept.index, index=order.loc[kept.index, "cluster"].to_numpy())
    kept_of = cluster.map(keeper)
    conflict = table["dx"] != table["dx"][kept_of].to_numpy()
    if conflict.any():
        pairs = (
            f"{table.at[i, 'source']}:{table.at[i, 'image_id']} ({table.at[i, 'dx']}) = "
            f"{table.at[k, 'source']}:{table.at[k, 'image_id']} ({table.at[k, 'dx']})"
            for i, k in zip(table.index[conflict], kept_of[conflict], strict=True)
        )
        raise DataError(
            f"{conflict.sum()} image(s) are copies of an image with another diagnosis: {show(pairs)}; correct the "
            "label (data.sources[i].labels), or lower data.max_distance if they are different images"
        )
    return kept_of, how


def merge_groups(groups: pd.Series, kept_of: pd.Series) -> pd.Series:
    """Group ids joined through copies: an image's group and its kept copy's group become one, named by the
    smallest id of the joined groups."""
    names = sorted(set(groups))
    index = {g: i for i, g in enumerate(names)}
    union = _Union(len(names))
    for i, k in kept_of.items():
        union.join(index[groups[i]], index[groups[k]])
    smallest = {}
    for g in names:  # sorted: the first name met in a component is its smallest
        smallest.setdefault(union.find(index[g]), g)
    return groups.map(lambda g: smallest[union.find(index[g])])

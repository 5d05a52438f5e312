"""The fast data path: every image decoded once into a uint8 array at the training size (`data.cache=true`).

One `.npy` file per image set (the prefix names the folders the images are read from), image size
and resize policy (data.resize, applied exactly as the uncached transform applies it), shape
(N, size, size, 3), read memory-mapped (every split and fold indexes the same file): an epoch reads
150 KB per 224 px image instead of decoding a JPEG, and the augmentation runs on the cached array.
The file name holds a hash of the decode settings and of every source file's path, size and
modification time, so a changed, added or removed image (or another size or policy) builds a new
cache; caches of older inputs with the same prefix, size and policy are deleted then. The file is
written under a temporary name and renamed only when complete, so a crash or a full disk never
leaves a cache that is reused. `.npy` holds no pickled objects (read with allow_pickle=False).
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import albumentations as A
import numpy as np
from filelock import FileLock
from tqdm import tqdm

from skinlight.data.layouts.images import load_rgb
from skinlight.data.transforms import resize_steps
from skinlight.errors import DataError

log = logging.getLogger(__name__)
VERSION = 2  # bump when the decoding or the key changes: old caches then stop matching (2: the resize policy)


def cache_key(paths, size: int, draft: bool, resize: str = "squash") -> str:
    """Hash of the decode settings (size, draft, resize policy) and every source file's path, byte size and mtime."""
    files = []
    for p in map(Path, paths):
        st = p.stat()
        files.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    spec = {"version": VERSION, "size": size, "draft": draft, "resize": resize, "files": files}
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def decode(path, size: int, draft: bool, resize: str = "squash") -> np.ndarray:
    """Decode as RGB uint8 and resize to size x size with policy `resize` exactly as the uncached transform does.

    With `draft`, JPEGs are decoded at the smallest DCT scale that keeps both sides >= size (PIL draft
    mode, the same decoding as the uncached loader).
    """
    return A.Compose(resize_steps(size, resize))(image=load_rgb(Path(path), size if draft else None))["image"]


class ImageCache:
    """uint8 images (N, size, size, 3) of `paths`, resized with policy `resize`, built once into `cache_dir`
    and memory-mapped.

    `prefix` names the file (e.g. the dataset); `take(rows)` is a view of some rows (a split).
    Picklable: DataLoader workers open their own map.
    """

    def __init__(
        self,
        paths,
        size: int,
        cache_dir: str | os.PathLike,
        prefix: str = "images",
        draft: bool = True,
        workers: int | None = None,
        resize: str = "squash",
    ):
        self.paths, self.size, self.draft, self.resize = [Path(p) for p in paths], size, draft, resize
        self.cache_dir, self.prefix = Path(cache_dir), f"{prefix}-{size}px-{resize}"
        self.path = self.cache_dir / f"{self.prefix}-{cache_key(self.paths, size, draft, resize)}.npy"
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.rows = np.arange(len(self.paths))
        self._array: np.ndarray | None = None

    def take(self, rows) -> ImageCache:
        """A view of the given rows of this cache (same file)."""
        view = copy.copy(self)
        view.rows, view._array = self.rows[np.asarray(rows)], None
        return view

    @property
    def partial_path(self) -> Path:
        return self.path.with_name(self.path.name + ".partial")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._array is None:
            self._array = self.load()
        return np.array(self._array[self.rows[i]])  # a writable copy for the augmentation

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}

    def load(self) -> np.ndarray:
        """The memory-mapped array, built first if it is not on disk yet."""
        self.build()
        return np.load(self.path, mmap_mode="r", allow_pickle=False)

    def _valid(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            log.warning("image cache %s is unreadable (%s): rebuilding it", self.path, e)
            return False
        if array.dtype == np.uint8 and array.shape == (len(self.paths), self.size, self.size, 3):
            return True
        log.warning(
            "image cache %s holds %s %s, expected uint8 %s: rebuilding it",
            self.path,
            array.dtype,
            array.shape,
            (len(self.paths), self.size, self.size, 3),
        )
        return False

    def build(self) -> Path:
        """Decode every image into the cache file unless a complete one exists; return its path."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):  # DDP ranks and parallel jobs: one builds, the others wait
            if self._valid():
                return self.path
            self._write()
            for stale in self.cache_dir.glob(f"{self.prefix}-*.npy"):
                if stale != self.path:
                    stale.unlink()
                    log.info("removed the outdated image cache %s", stale)
        return self.path

    def _write(self) -> None:
        shape = (len(self.paths), self.size, self.size, 3)
        needed = int(np.prod(shape)) + 128
        free = shutil.disk_usage(self.cache_dir).free
        if free < needed:
            raise self._full_disk(needed, free)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        try:
            with open(self.partial_path, "wb") as f, ThreadPoolExecutor(self.workers) as pool:
                np.lib.format.write_array_header_1_0(f, header)
                n = len(self.paths)
                images = pool.map(decode, self.paths, [self.size] * n, [self.draft] * n, [self.resize] * n)
                for image in tqdm(
                    images,
                    total=len(self.paths),
                    desc=f"caching {self.prefix} images",
                    unit="img",
                    mininterval=2,
                    disable=None,
                ):
                    f.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            self.partial_path.unlink(missing_ok=True)
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._full_disk(needed, shutil.disk_usage(self.cache_dir).free) from e
            raise
        except BaseException:
            self.partial_path.unlink(missing_ok=True)
            raise
        os.replace(self.partial_path, self.path)
        log.info(
            "cached %d images at %d px (%s) in %s (%.0f MB)",
            len(self.paths),
            self.size,
            self.resize,
            self.path,
            needed / 1e6,
        )

    def _full_disk(self, needed: int, free: int) -> DataError:
        return DataError(
            f"disk full while writing the image cache {self.path} (needs {needed / 1e6:.0f} MB, "
            f"{free / 1e6:.0f} MB free); nothing was kept. Free space, point data.cache_dir at "
            "another disk, or set data.cache=false"
        )

"""The image cache (data.cache=true): same items as decoding, built once, rebuilt when inputs change,
never a half-written file, no pickle."""

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from skinlight.data import cache as cache_module
from skinlight.data.cache import ImageCache
from skinlight.data.classification import HAM10000DataModule
from skinlight.data.layouts.images import load_rgb
from skinlight.data.transforms import build_transform
from skinlight.errors import DataError


def images(tmp_path, n=3):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = tmp_path / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.mark.parametrize("policy", ["squash", "pad", "crop"])
def test_cached_items_equal_decoded_items(synthetic_root, tmp_path, policy):
    """Same split, same transforms, same random draws: the cached path changes nothing but speed, whatever the
    resize policy (the cache decodes with it)."""
    items = {}
    for cache in (False, True):
        torch.manual_seed(0)
        dm = HAM10000DataModule(
            str(synthetic_root),
            image_size=32,
            resize=policy,
            num_workers=0,
            augmentation=[],
            cache=cache,
            cache_dir=str(tmp_path / "cache"),
        )
        dm.setup("fit")
        items[cache] = [dm.datasets[s][i]["image"] for s in ("train", "test") for i in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(items[False], items[True]))
    assert isinstance(dm.datasets["train"].images, ImageCache)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1  # one file for every split
    squashed = build_transform(32)(image=load_rgb(dm.datasets["train"].paths[0], 32))["image"]
    assert torch.equal(items[True][0], squashed) == (policy == "squash")
    if policy == "pad":  # synthetic HAM10000 images are 4:3: 4 black rows above and below at 32 px
        assert not items[True][0][:, :4].any() and not items[True][0][:, -4:].any()


def test_splits_share_one_cache_file_and_derived_images_get_their_own(synthetic_root, tmp_path):
    """A holdout and a k-fold split read the same file; images derived into another folder (crop-to-classify)
    get a file of their own instead of deleting the dataset's."""
    derived = tmp_path / "derived"
    derived.mkdir()

    def pipeline(table):  # stands for a crop pipeline: every path now points at a derived copy
        paths = [derived / f"{image_id}.png" for image_id in table["image_id"]]
        for src, dst in zip(table["path"], paths):
            Image.open(src).convert("RGB").save(dst)
        return table.assign(path=paths)

    def setup(**kwargs):
        dm = HAM10000DataModule(
            str(synthetic_root),
            image_size=32,
            num_workers=0,
            augmentation=[],
            cache=True,
            cache_dir=str(tmp_path / "cache"),
            **kwargs,
        )
        dm.setup("fit")
        return dm.datasets["train"].images.path

    dataset_cache = setup()
    assert setup(num_folds=3, fold=1) == dataset_cache
    derived_cache = setup(pipeline=pipeline)
    assert derived_cache != dataset_cache
    assert dataset_cache.is_file() and derived_cache.is_file()


def test_built_once_reused_and_rebuilt_when_an_image_changes(tmp_path, monkeypatch):
    paths = images(tmp_path)
    calls = []
    decode = cache_module.decode
    monkeypatch.setattr(cache_module, "decode", lambda *a: calls.append(a) or decode(*a))
    first = ImageCache(paths, 16, tmp_path / "c", prefix="t")
    first.build()
    assert len(calls) == 3
    array = np.load(first.path, allow_pickle=False)
    assert array.shape == (3, 16, 16, 3) and array.dtype == np.uint8
    assert (first[1] == decode(paths[1], 16, True)).all()

    ImageCache(paths, 16, tmp_path / "c", prefix="t").build()
    assert len(calls) == 3  # reused

    Image.new("RGB", (60, 45), "red").save(paths[2])
    os.utime(paths[2], ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = ImageCache(paths, 16, tmp_path / "c", prefix="t")
    assert changed.path != first.path
    changed.build()
    assert len(calls) == 6 and not first.path.exists()  # rebuilt; the outdated cache is removed
    assert np.abs(changed[2].astype(int) - [255, 0, 0]).max() < 8  # the new pixels
    assert ImageCache(paths, 24, tmp_path / "c", prefix="t").path != changed.path  # the size is in the key


def test_view_of_rows_and_pickle_without_the_map(tmp_path):
    cache = ImageCache(images(tmp_path), 16, tmp_path / "c")
    cache.build()
    view = cache.take([2, 0])
    assert len(view) == 2 and (view[0] == cache[2]).all() and (view[1] == cache[0]).all()
    import pickle

    assert len(pickle.dumps(view)) < 2000  # workers get the path, not the pixels


def test_incomplete_cache_file_is_rebuilt(tmp_path):
    cache = ImageCache(images(tmp_path), 16, tmp_path / "c")
    cache.build()
    good = cache[0]
    cache.path.write_bytes(cache.path.read_bytes()[:500])  # e.g. copied by hand and cut off
    fresh = ImageCache(cache.paths, 16, tmp_path / "c")
    assert (fresh[0] == good).all()


def test_full_disk_while_writing_leaves_no_cache(tmp_path):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    cache = ImageCache(images(tmp_path), 16, tmp_path / "c")
    cache.cache_dir.mkdir()
    cache.partial_path.symlink_to("/dev/full")
    with pytest.raises(
        DataError,
        match=r"disk full while writing the image cache .*\.npy .*nothing was kept.*"
        r"data.cache_dir.*data.cache=false",
    ):
        cache.build()
    assert not cache.path.exists() and not cache.partial_path.exists()


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    cache = ImageCache(images(tmp_path), 16, tmp_path / "c")
    with pytest.raises(DataError, match=r"disk full .* \(needs 0 MB, 0 MB free\)"):
        cache.build()
    assert list(cache.cache_dir.iterdir()) == [cache.cache_dir / (cache.path.name + ".lock")]

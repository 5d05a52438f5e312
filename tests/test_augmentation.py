"""Augmentation presets (conf/augmentation/*.yaml) and the seeding of the albumentations pipeline."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image
from torch.utils.data import DataLoader

from skinlight.data.datasets import LesionImageDataset
from skinlight.data.transforms import build_transform, seed_worker_transform
from skinlight.synthetic.draw import draw_lesion_image, sample_lesion, sample_view

CONF = Path(__file__).resolve().parents[1] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "augmentation").glob("*.yaml"))


def _preset(name: str, image_size: int) -> list:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"augmentation={name}", f"data.image_size={image_size}"])
    return instantiate(cfg.augmentation.train)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return draw_lesion_image(sample_lesion("mel", rng), sample_view(rng), (120, 90), rng)[0]


def test_the_paper_presets_exist():
    assert {"none", "flips", "le2020", "nguyen2022", "elgohary2024", "nivas2023"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_keeps_the_image_size_and_changes_the_image(name, image):
    size = 40
    plain = build_transform(size)(image=image)["image"]
    augment = build_transform(size, _preset(name, size), seed=0)
    outputs = [augment(image=image)["image"] for _ in range(8)]
    assert all(o.shape == (3, size, size) and o.dtype == torch.float32 for o in outputs)
    changed = sum(not torch.allclose(o, plain) for o in outputs)
    if name == "none":
        assert changed == 0
    else:
        assert changed >= 4, f"{name} left {8 - changed} of 8 images unchanged"


@pytest.mark.parametrize("name", ["le2020", "nivas2023"])
def test_presets_have_the_papers_operations(name):
    kinds = {type(t).__name__ for t in _preset(name, 32)}
    expected = {
        "le2020": {"Rotate", "HorizontalFlip", "VerticalFlip", "RandomResizedCrop", "CoarseDropout"},
        "nivas2023": {"Affine", "HorizontalFlip", "RandomBrightnessContrast", "ColorJitter", "GaussNoise"},
    }
    assert expected[name] <= kinds


def test_same_seed_same_augmentations_and_workers_do_not_repeat_each_other(image, tmp_path):
    path = tmp_path / "lesion.png"
    Image.fromarray(image).save(path)
    augmentation = _preset("nguyen2022", 32)
    first = [build_transform(32, augmentation, seed=7)(image=image)["image"] for _ in range(2)]
    assert torch.equal(first[0], first[1])

    dataset = LesionImageDataset([path] * 4, [0] * 4, build_transform(32, augmentation, seed=7))
    loader = DataLoader(dataset, batch_size=1, num_workers=2, worker_init_fn=seed_worker_transform)
    batches = [b["image"] for b in loader]  # items 0 and 1 are the first items of workers 0 and 1
    assert not torch.equal(batches[0], batches[1])

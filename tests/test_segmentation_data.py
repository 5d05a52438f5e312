"""Segmentation data: the ISIC 2018 / PH2 / HAM10000-mask readers on synthetic copies, bad masks,
joint image/mask augmentation, and the synthetic writers."""

from pathlib import Path

import albumentations as A
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from skinlight.data.layouts.images import read_mask
from skinlight.data.layouts.isic2018 import read_isic2018
from skinlight.data.layouts.ph2 import read_ph2
from skinlight.data.segmentation import HAM10000SegmentationDataModule, ISIC2018DataModule, PH2DataModule
from skinlight.data.transforms import build_transform
from skinlight.errors import DataError
from skinlight.synthetic.segmentation import generate_isic2018, generate_ph2

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ISIC_COUNTS = (16, 6, 6)


@pytest.fixture(scope="session")
def isic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isic") / "ISIC2018"
    generate_isic2018(root, ISIC_COUNTS, seed=1, image_size=(120, 90), workers=1)
    return root


@pytest.fixture(scope="session")
def ph2_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ph2") / "PH2Dataset"
    generate_ph2(root, num_cases=15, seed=2, workers=1)
    return root


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_isic2018_reader_official_folders(isic_root):
    table = read_isic2018(isic_root)
    assert table.groupby("split").size().to_dict() == dict(zip(("train", "val", "test"), ISIC_COUNTS))
    assert table["image_id"].is_unique and (table["lesion_id"] == table["image_id"]).all()
    for row in table.itertuples():
        assert row.mask_path.name == f"{row.image_id}_segmentation.png" and row.mask_path.is_file()
        assert (
            row.path.parent.name
            == f"ISIC2018_Task1-2_{dict(train='Training', val='Validation', test='Test')[row.split]}_Input"
        )


def test_isic2018_datamodule_items_and_split_csv(isic_root, tmp_path):
    dm = ISIC2018DataModule(isic_root, image_size=64, batch_size=4, num_workers=0)
    dm.setup()
    item = dm.datasets["train"][0]
    assert item["image"].shape == (3, 64, 64) and item["mask"].shape == (1, 64, 64)
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0} and item["mask"].sum() > 0
    batch = next(iter(dm.train_dataloader()))
    assert batch["mask"].shape == (4, 1, 64, 64) and len(batch["image_id"]) == 4
    dm.write_split(tmp_path / "split.csv")
    split = pd.read_csv(tmp_path / "split.csv")
    assert split["split"].value_counts().to_dict() == dict(zip(("train", "val", "test"), ISIC_COUNTS))
    assert (split["label"] == "lesion").all()


def test_isic2018_holdout_split_keeps_lesion_groups(isic_root, tmp_path):
    ids = read_isic2018(isic_root, splits=("train",))["image_id"].tolist()
    groups = pd.DataFrame({"image_id": ids, "lesion_id": [f"L{i // 2}" for i in range(len(ids))]})  # pairs of images
    groups.to_csv(tmp_path / "groups.csv", index=False)
    dm = ISIC2018DataModule(
        isic_root,
        split="holdout",
        groups_csv=str(tmp_path / "groups.csv"),
        image_size=32,
        num_workers=0,
        test_fraction=0.25,
        val_fraction=0.25,
    )
    dm.setup()
    assert len(dm.table) == ISIC_COUNTS[0] and set(dm.table["split"]) == {"train", "val", "test"}
    assert (dm.table.groupby("lesion_id")["split"].nunique() == 1).all()


def test_ph2_reader_txt_and_xlsx(ph2_root, tmp_path):
    table = read_ph2(ph2_root)
    assert table["image_id"].tolist() == [f"IMD{i:03d}" for i in range(1, 16)]
    assert np.bincount(table["label"], minlength=3).tolist() == [6, 6, 3]  # PH2's 2:2:1
    xlsx_root = tmp_path / "xlsx"
    diagnoses = generate_ph2(xlsx_root, num_cases=15, seed=2, table="xlsx", workers=1)
    assert not (xlsx_root / "PH2_dataset.txt").exists()
    assert read_ph2(xlsx_root)["label"].tolist() == diagnoses == table["label"].tolist()


def test_ph2_masks_1bit_and_24bit_and_sizes(ph2_root):
    first = ph2_root / "PH2 Dataset images" / "IMD001"
    second = ph2_root / "PH2 Dataset images" / "IMD002"
    with (
        Image.open(first / "IMD001_lesion" / "IMD001_lesion.bmp") as rgb_mask,
        Image.open(second / "IMD002_lesion" / "IMD002_lesion.bmp") as bit_mask,
        Image.open(second / "IMD002_Dermoscopic_Image" / "IMD002.bmp") as image,
    ):
        assert (rgb_mask.mode, bit_mask.mode, image.mode) == ("RGB", "1", "RGB")
        assert image.size == bit_mask.size == (768, 560)
    for case in (first / "IMD001_lesion" / "IMD001_lesion.bmp", second / "IMD002_lesion" / "IMD002_lesion.bmp"):
        mask = read_mask(case)
        assert mask.shape == (560, 768) and set(np.unique(mask)) == {0, 1}
    dm = PH2DataModule(ph2_root, image_size=32, num_workers=0)
    dm.setup()
    assert dm.table.groupby("split")["label"].nunique().to_dict() == {"test": 3, "train": 3, "val": 3}


def test_ham10000_seg_reader_uses_the_classification_split(synthetic_root):
    from skinlight.data.classification import HAM10000DataModule

    seg = HAM10000SegmentationDataModule(synthetic_root, image_size=32, num_workers=0, split_seed=3)
    cls = HAM10000DataModule(synthetic_root, image_size=32, num_workers=0, split_seed=3, use_metadata=False)
    seg.setup()
    cls.setup()
    pd.testing.assert_series_equal(seg.table["split"], cls.table["split"])
    assert all(p.name == f"{i}_segmentation.png" for i, p in zip(seg.table["image_id"], seg.table["mask_path"]))
    assert seg.datasets["test"][0]["mask"].shape == (1, 32, 32)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "mask(s) missing: {mask}"),
        ("size", "mask {mask} is 60x45 but its image"),
        ("values", "mask {mask} has values 0, 128"),
        ("colour", "mask {mask} is a colour image"),
    ],
)
def test_bad_mask_is_one_error_naming_the_file(isic_root, tmp_path, damage, message):
    root = _copy(isic_root, tmp_path / "isic")
    mask = root / "ISIC2018_Task1_Validation_GroundTruth" / "ISIC_0000016_segmentation.png"
    original = np.asarray(Image.open(mask))
    if damage == "missing":
        mask.unlink()
    elif damage == "size":
        Image.fromarray(original).resize((60, 45)).save(mask)
    elif damage == "values":
        Image.fromarray(np.where(original > 0, 128, 0).astype(np.uint8)).save(mask)
    else:
        rgb = np.stack([original, original, np.zeros_like(original)], -1)
        Image.fromarray(rgb).save(mask)
    dm = ISIC2018DataModule(root, image_size=32, num_workers=0)
    with pytest.raises(DataError, match=message.format(mask=mask).replace("(", r"\(").replace(")", r"\)")):
        dm.setup()
        for i in range(len(dm.datasets["val"])):
            dm.datasets["val"][i]


def test_missing_folder_and_diagnosis_are_named(isic_root, ph2_root, tmp_path):
    root = _copy(isic_root, tmp_path / "isic")
    (root / "ISIC2018_Task1_Test_GroundTruth").rename(root / "elsewhere")
    with pytest.raises(DataError, match="folder not found: .*ISIC2018_Task1_Test_GroundTruth"):
        read_isic2018(root)
    ph2 = _copy(ph2_root, tmp_path / "ph2")
    lines = (ph2 / "PH2_dataset.txt").read_text().splitlines()
    (ph2 / "PH2_dataset.txt").write_text("\n".join(line for line in lines if "IMD004" not in line))
    with pytest.raises(DataError, match="PH2_dataset.txt has no diagnosis for case folder.* IMD004"):
        read_ph2(ph2)


def _experiment_augmentation(experiment: str) -> list:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}", "data.root=unused"])
    return instantiate(cfg.augmentation.train)


@pytest.mark.parametrize("experiment", ["nivas2023_unet", "elgohary2024_unet_ph2"])
def test_joint_augmentation_keeps_image_and_mask_aligned(experiment):
    """A white lesion on black: after the recipe's augmentation, bright pixels are the mask's pixels."""
    rng, augmentation = np.random.default_rng(0), _experiment_augmentation(experiment)
    moved = 0
    for seed in range(12):
        image, mask = np.zeros((90, 120, 3), np.uint8), np.zeros((90, 120), np.uint8)
        y, x = rng.integers(5, 45), rng.integers(5, 65)
        mask[y : y + 30, x : x + 20] = 1
        mask[y + 20 : y + 30, x : x + 45] = 1  # an L: not symmetric under flips or rotations
        image[mask == 1] = 255
        transform = build_transform(64, augmentation, seed=seed)
        out = transform(image=image, mask=mask)
        bright, lesion = out["image"].mean(0) > 0.5, out["mask"] == 1
        assert (bright == lesion).float().mean() > 0.97, f"seed {seed}: image and mask disagree"
        reference = A.Resize(64, 64)(image=image, mask=mask)["mask"] == 1
        moved += int((lesion.numpy() != reference).mean() > 0.02)
    assert moved >= 6  # the augmentation did move the lesion (and the mask with it)


def test_synthetic_writers_are_deterministic(tmp_path):
    generate_isic2018(tmp_path / "a", (2, 1, 1), seed=5, image_size=(64, 48), workers=1)
    generate_isic2018(tmp_path / "b", (2, 1, 1), seed=5, image_size=(64, 48), workers=2)
    for name in (
        "ISIC2018_Task1-2_Test_Input/ISIC_0000003.jpg",
        "ISIC2018_Task1_Training_GroundTruth/ISIC_0000001_segmentation.png",
    ):
        assert np.array_equal(
            np.asarray(Image.open(tmp_path / "a" / name)), np.asarray(Image.open(tmp_path / "b" / name))
        )
    with pytest.raises(DataError, match="not empty"):
        generate_isic2018(tmp_path / "a", (2, 1, 1))


@pytest.mark.shared_data
def test_real_ph2_sample_reads_as_is():
    root = SHARED_DATA / "PH2-sample" / "PH2Dataset"
    if not root.is_dir():
        pytest.skip("../shared/data/PH2-sample absent")
    table = read_ph2(root)
    assert len(table) == 20 and np.bincount(table["label"]).tolist() == [8, 8, 4]
    dm = PH2DataModule(root, image_size=32, num_workers=0)
    dm.setup()
    masks = [read_mask(p) for p in table["mask_path"]]  # 19 1-bit BMPs and one 24-bit 0/255
    assert all(set(np.unique(m)) == {0, 1} for m in masks)

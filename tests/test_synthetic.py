"""The synthetic HAM10000: real layout, deterministic, HAM10000-like counts and metadata; every writer's refusals."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skinlight.data.layouts.ham10000 import read_ham10000
from skinlight.errors import DataError
from skinlight.synthetic import draw, ham10000
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3
from skinlight.synthetic.isic_binary import generate_isic_binary
from skinlight.synthetic.segmentation import generate_isic2018, generate_ph2


def test_layout_matches_the_real_download(synthetic_root):
    meta = pd.read_csv(synthetic_root / "HAM10000_metadata.csv")
    assert list(meta.columns) == ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    parts = [sorted(p.stem for p in (synthetic_root / d).glob("ISIC_*.jpg")) for d in ham10000.IMAGE_DIRS]
    assert sorted(parts[0] + parts[1]) == sorted(meta.image_id) and len(parts[0]) >= len(parts[1]) > 0
    first = read_ham10000(synthetic_root).iloc[0]
    with Image.open(first.path) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (120, 90))
    mask = np.asarray(Image.open(synthetic_root / ham10000.MASK_DIR / f"{first.image_id}_segmentation.png"))
    assert mask.shape == (90, 120) and set(np.unique(mask)) <= {0, 255} and 0.01 < (mask > 0).mean() < 0.9
    info = json.loads((synthetic_root / "synthetic.json").read_text())
    assert info["num_lesions"] == meta.lesion_id.nunique() == 80


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ham10000.generate_ham10000(a, num_lesions=14, seed=3, image_size=(64, 48), workers=1)
    ham10000.generate_ham10000(b, num_lesions=14, seed=3, image_size=(64, 48), workers=2)
    assert (a / "HAM10000_metadata.csv").read_bytes() == (b / "HAM10000_metadata.csv").read_bytes()
    for f in sorted(a.rglob("*.jpg")) + sorted(a.rglob("*.png")):
        assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f.name
    c = tmp_path / "c"
    ham10000.generate_ham10000(c, num_lesions=14, seed=4, image_size=(64, 48), workers=1)
    assert (a / "HAM10000_metadata.csv").read_bytes() != (c / "HAM10000_metadata.csv").read_bytes()


def test_counts_follow_ham10000_with_a_floor_for_rare_classes():
    counts = draw.class_counts(1000)
    assert sum(counts.values()) == 1000 and max(counts, key=counts.get) == "nv"
    assert counts["nv"] > 600 and min(counts.values()) == 40  # floored at 4 %
    with pytest.raises(DataError, match="at least 14"):
        draw.class_counts(13)


def test_plan_has_the_real_quirks_and_metadata_correlated_with_class():
    plan = draw.plan_dataset(2000, seed=0)
    views = plan.groupby("lesion_id").size()
    assert 1.25 < views.mean() < 1.45 and views.max() >= 4
    assert plan.age.isna().any() and (plan.sex == "unknown").any() and (plan.localization == "unknown").any()
    age = plan.groupby("dx").age.mean()
    assert age["mel"] - age["nv"] > 20
    assert (plan[plan.dx == "df"].localization == "lower extremity").mean() > 0.5
    assert ((plan.dx == "mel") & (plan["style"] == "nv")).any()  # melanomas that look like naevi


@pytest.mark.parametrize(
    "write, marker, message",
    [
        (ham10000.generate_ham10000, "HAM10000_metadata.csv", "already holds a dataset"),
        (generate_isic_binary, "train/", "already holds a train/ or test/ folder"),
        (
            generate_isic2018_task3,
            "ISIC2018_Task3_Test_GroundTruth.csv",
            "already holds an ISIC 2018 Task 3 ground truth",
        ),
        (generate_isic2018, "notes.txt", "is not empty"),
        (generate_ph2, "notes.txt", "is not empty"),
    ],
    ids=["ham10000", "isic_binary", "isic2018_task3", "isic2018", "ph2"],
)
def test_writers_refuse_a_folder_that_holds_data(tmp_path, write, marker, message):
    (tmp_path / marker).mkdir() if marker.endswith("/") else (tmp_path / marker).write_text("")
    with pytest.raises(DataError, match=message):
        write(tmp_path)


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda root: ham10000.generate_ham10000(root, num_lesions=13), "at least 14"),
        (lambda root: generate_isic_binary(root, malignant_fraction=1.0), r"must be in \(0, 1\)"),
        (lambda root: generate_isic_binary(root, num_train=4, num_test=1), "test: 1 images at .* leave a class empty"),
        (lambda root: generate_isic2018_task3(root, num_lesions=(14, 13)), "at least 14"),
        (lambda root: generate_ph2(root, num_cases=14), "at least 15"),
    ],
    ids=["ham10000", "isic_binary-fraction", "isic_binary-empty-class", "isic2018_task3", "ph2"],
)
def test_writers_refuse_impossible_counts_before_writing(tmp_path, write, message):
    with pytest.raises(DataError, match=message):
        write(tmp_path / "out")
    assert not (tmp_path / "out").exists()

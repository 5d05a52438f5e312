"""The synthetic HAM10000: real layout, deterministic, HAM10000-like counts and metadata."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skinlight.data import synthetic
from skinlight.data.ham10000 import read_ham10000


def test_layout_matches_the_real_download(synthetic_root):
    meta = pd.read_csv(synthetic_root / "HAM10000_metadata.csv")
    assert list(meta.columns) == ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    parts = [sorted(p.stem for p in (synthetic_root / d).glob("ISIC_*.jpg")) for d in synthetic.IMAGE_DIRS]
    assert sorted(parts[0] + parts[1]) == sorted(meta.image_id) and len(parts[0]) >= len(parts[1]) > 0
    first = read_ham10000(synthetic_root).iloc[0]
    with Image.open(first.path) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (120, 90))
    mask = np.asarray(Image.open(synthetic_root / synthetic.MASK_DIR / f"{first.image_id}_segmentation.png"))
    assert mask.shape == (90, 120) and set(np.unique(mask)) <= {0, 255} and 0.01 < (mask > 0).mean() < 0.9
    info = json.loads((synthetic_root / "synthetic.json").read_text())
    assert info["num_lesions"] == meta.lesion_id.nunique() == 80


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    synthetic.generate_ham10000(a, num_lesions=14, seed=3, image_size=(64, 48), workers=1)
    synthetic.generate_ham10000(b, num_lesions=14, seed=3, image_size=(64, 48), workers=2)
    assert (a / "HAM10000_metadata.csv").read_bytes() == (b / "HAM10000_metadata.csv").read_bytes()
    for f in sorted(a.rglob("*.jpg")) + sorted(a.rglob("*.png")):
        assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f.name
    c = tmp_path / "c"
    synthetic.generate_ham10000(c, num_lesions=14, seed=4, image_size=(64, 48), workers=1)
    assert (a / "HAM10000_metadata.csv").read_bytes() != (c / "HAM10000_metadata.csv").read_bytes()


def test_counts_follow_ham10000_with_a_floor_for_rare_classes():
    counts = synthetic.class_counts(1000)
    assert sum(counts.values()) == 1000 and max(counts, key=counts.get) == "nv"
    assert counts["nv"] > 600 and min(counts.values()) == 40  # floored at 4 %
    with pytest.raises(ValueError, match="at least 14"):
        synthetic.class_counts(13)


def test_plan_has_the_real_quirks_and_metadata_correlated_with_class():
    plan = synthetic.plan_dataset(2000, seed=0)
    views = plan.groupby("lesion_id").size()
    assert 1.25 < views.mean() < 1.45 and views.max() >= 4
    assert plan.age.isna().any() and (plan.sex == "unknown").any() and (plan.localization == "unknown").any()
    age = plan.groupby("dx").age.mean()
    assert age["mel"] - age["nv"] > 20
    assert (plan[plan.dx == "df"].localization == "lower extremity").mean() > 0.5
    assert ((plan.dx == "mel") & (plan["style"] == "nv")).any()  # melanomas that look like naevi


def test_refuses_to_write_over_a_dataset(synthetic_root):
    with pytest.raises(ValueError, match="already holds a dataset"):
        synthetic.generate_ham10000(synthetic_root, num_lesions=14)


def test_cli(tmp_path, capsys):
    synthetic.main(["--out", str(tmp_path / "x"), "--num-lesions", "14", "--width", "40", "--height", "30",
                    "--workers", "1"])
    assert "of 14 lesions" in capsys.readouterr().out
    assert len(list((tmp_path / "x").rglob("ISIC_*.jpg"))) == len(pd.read_csv(tmp_path / "x" / "HAM10000_metadata.csv"))

"""The HAM10000 reader on hand-made folders in the download layout, and each kind of bad input."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skinlight.data.layouts.ham10000 import CLASSES, read_ham10000
from skinlight.data.layouts.images import load_rgb
from skinlight.errors import DataError


def write_layout(root: Path, n: int = 14, parts: bool = True) -> pd.DataFrame:
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "lesion_id": f"HAM_{i // 2:07d}",
            "image_id": f"ISIC_{i:07d}",
            "dx": CLASSES[(i // 2) % 7],
            "dx_type": "histo",
            "age": 40.0,
            "sex": "male",
            "localization": "back",
        }
        for i in range(n)
    ]
    df = pd.DataFrame(rows)
    df.to_csv(root / "HAM10000_metadata.csv", index=False)
    for i, image_id in enumerate(df["image_id"]):
        folder = root / (f"HAM10000_images_part_{1 + (i >= n // 2)}" if parts else "images")
        folder.mkdir(exist_ok=True)
        Image.fromarray(np.full((15, 20, 3), i * 10, np.uint8)).save(folder / f"{image_id}.jpg")
    return df


@pytest.mark.parametrize("parts", [True, False])
def test_reads_both_download_layouts(tmp_path, parts):
    write_layout(tmp_path, parts=parts)
    df = read_ham10000(tmp_path)
    assert len(df) == 14 and df["path"].map(Path.is_file).all()
    assert df["label"].tolist() == [CLASSES.index(d) for d in df["dx"]]


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match=f"data.root does not exist.*{tmp_path / 'nope'}"):
        read_ham10000(tmp_path / "nope")


def test_missing_csv_names_the_file(tmp_path):
    write_layout(tmp_path)
    (tmp_path / "HAM10000_metadata.csv").unlink()
    with pytest.raises(DataError, match="metadata CSV not found: .*HAM10000_metadata.csv"):
        read_ham10000(tmp_path)


def test_missing_image_names_row_and_id(tmp_path):
    write_layout(tmp_path)
    (tmp_path / "HAM10000_images_part_2" / "ISIC_0000009.jpg").unlink()
    with pytest.raises(DataError, match=r"1 image\(s\) listed in .* not found .*line 11 \(ISIC_0000009\)"):
        read_ham10000(tmp_path)


def test_unknown_label_names_row(tmp_path):
    df = write_layout(tmp_path)
    df.loc[3, "dx"] = "melanoma"
    df.to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DataError, match=r"unknown dx label.*line 5 \(ISIC_0000003: 'melanoma'\)"):
        read_ham10000(tmp_path)


def test_missing_column_is_named(tmp_path):
    df = write_layout(tmp_path)
    df.drop(columns="lesion_id").to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) lesion_id"):
        read_ham10000(tmp_path)


def test_duplicate_image_id(tmp_path):
    df = write_layout(tmp_path)
    pd.concat([df, df.iloc[[2]]]).to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DataError, match="more than once: ISIC_0000002"):
        read_ham10000(tmp_path)


def test_truncated_jpeg_is_found_before_training(tmp_path):
    write_layout(tmp_path)
    path = tmp_path / "HAM10000_images_part_1" / "ISIC_0000002.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot be used: .*ISIC_0000002.jpg \(truncated JPEG"):
        read_ham10000(tmp_path)


def test_corrupt_image_names_the_file_when_decoded(tmp_path):
    path = tmp_path / "ISIC_0000001.jpg"
    path.write_bytes(b"\xff\xd8" + b"not a jpeg at all" * 20 + b"\xff\xd9")
    with pytest.raises(DataError, match="cannot decode image .*ISIC_0000001.jpg"):
        load_rgb(path)


def test_draft_decoding_keeps_at_least_the_requested_size(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (450, 600, 3), dtype=np.uint8)).save(path)
    small = load_rgb(path, min_size=64)
    assert small.shape[2] == 3 and min(small.shape[:2]) >= 64 and small.shape[0] < 450
    assert load_rgb(path).shape == (450, 600, 3)


@pytest.mark.shared_data
def test_reads_the_real_download_as_it_is():
    from conftest import SHARED_DATA

    root = SHARED_DATA / "HAM10000-200x150"
    if not root.is_dir():
        pytest.skip(f"{root} absent")
    df = read_ham10000(root)
    assert len(df) == 10015 and df["lesion_id"].nunique() == 7470
    assert df["dx"].value_counts().to_dict() == {
        "nv": 6705,
        "mel": 1113,
        "bkl": 1099,
        "bcc": 514,
        "akiec": 327,
        "vasc": 142,
        "df": 115,
    }
    assert load_rgb(df["path"].iloc[0]).shape == (150, 200, 3)

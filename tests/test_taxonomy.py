"""The common label set and metadata vocabulary (skinlight.data.taxonomy) and duplicate finding
(skinlight.data.duplicates) on hand-made tables and images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skinlight.data.duplicates import close_pairs, duplicate_clusters, merge_groups, perceptual_hashes
from skinlight.data.taxonomy import harmonise, select_classes
from skinlight.errors import ConfigError, DataError

DIAGNOSES = {"nevus": "nv", "melanoma": "mel", "squamous cell carcinoma": "scc"}
SITES = {"anterior torso": "torso", "head/neck": "head/neck"}


def native(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"image_id": [f"IMG_{i}" for i in range(n)], "diagnosis": ["nevus"] * n, "age": [None] * n}
    return pd.DataFrame({**base, "sex": ["male"] * n, "site": ["head/neck"] * n, **columns})


def test_harmonise_maps_words_case_blank_and_age_bands():
    table = native(
        diagnosis=["Nevus", " MELANOMA ", "squamous cell carcinoma"],
        sex=["FEMALE", None, "m"],
        site=["Anterior Torso", "", None],
        age=["47", None, "52.5"],
    )
    out = harmonise(table, "demo", DIAGNOSES, SITES, "demo.csv")
    assert out["dx"].tolist() == ["nv", "mel", "scc"]
    assert out["sex"].tolist() == ["female", "unknown", "male"]
    assert out["localization"].tolist() == ["torso", "unknown", "unknown"]
    assert out["age"].tolist()[0] == 45 and np.isnan(out["age"].tolist()[1]) and out["age"].tolist()[2] == 50
    assert set(out["source"]) == {"demo"}


@pytest.mark.parametrize(
    "column, value, message",
    [
        (
            "diagnosis",
            "lentigo simplex",
            r"demo.csv: diagnosis value\(s\) .*'lentigo simplex' \(1 image\(s\), e.g. IMG_1\).*data.labels",
        ),
        ("site", "knee", r"demo.csv: site value\(s\) .*'knee'.*data.sites"),
        ("sex", "x", r"sex value\(s\) .*'x'"),
        ("age", "forty", r"demo.csv: age is not a number for IMG_1: 'forty'"),
        ("diagnosis", None, r"blank diagnosis for 1 image\(s\): IMG_1; give them a class with data.labels=\{blank"),
    ],
)
def test_a_value_the_tables_do_not_know_stops_with_the_key_that_maps_it(column, value, message):
    table = native(diagnosis=["nevus", "nevus"])
    table.loc[1, column] = value
    with pytest.raises(DataError, match=message):
        harmonise(table, "demo", DIAGNOSES, SITES, "demo.csv")


def test_extra_entries_map_what_the_reader_does_not():
    table = native(diagnosis=["lentigo simplex"], site=["knee"])
    out = harmonise(
        table,
        "demo",
        DIAGNOSES,
        SITES,
        "demo.csv",
        labels={"Lentigo simplex": "bkl"},
        site_names={"knee": "lower extremity"},
    )
    assert out.loc[0, ["dx", "localization"]].tolist() == ["bkl", "lower extremity"]
    undiagnosed = native(diagnosis=["nevus", None, ""])
    out = harmonise(undiagnosed, "demo", DIAGNOSES, SITES, "demo.csv", labels={"blank": "unknown"})
    assert out["dx"].tolist() == ["nv", "unknown", "unknown"]
    with pytest.raises(ConfigError, match=r"data.labels maps onto \['lentigo'\]"):
        harmonise(table, "demo", DIAGNOSES, SITES, "demo.csv", labels={"lentigo simplex": "lentigo"})


def test_classes_outside_the_recipe_are_merged_or_dropped_never_silently():
    dx = pd.Series(["nv", "scc", "scc", "unknown", "mel"])
    sources = pd.Series(["a", "a", "b", "b", "a"])
    seven = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    with pytest.raises(
        ConfigError, match=r"outside data.classes=.*scc: 1 in a, 1 in b; unknown: 1 in b.*data.merge.*data.drop"
    ):
        select_classes(dx, seven, {}, [], sources)
    label, dropped = select_classes(dx, seven, {"scc": "akiec"}, ["unknown"], sources)
    assert label.tolist() == [5, 0, 0, -1, 4] and dropped.tolist() == [False, False, False, True, False]
    label, dropped = select_classes(dx, seven, {}, [], sources, keep_outside=True)
    assert label.tolist() == [5, -1, -1, -1, 4] and not dropped.any()
    with pytest.raises(ConfigError, match="data.merge"):
        select_classes(dx, seven, {"scc": "lentigo"}, [], sources)
    with pytest.raises(ConfigError, match="data.drop"):
        select_classes(dx, seven, {}, ["nv", "scc", "unknown"], sources)


def _lesion(rng, size=(96, 72)) -> np.ndarray:
    """A smooth random image (low frequencies dominate, as in a photograph)."""
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.BICUBIC))


def test_copies_are_found_by_pixels_after_re_encoding_and_resizing(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        path = tmp_path / f"img{i}.jpg"
        Image.fromarray(_lesion(rng)).save(path, quality=95)
        paths.append(path)
    Image.open(paths[0]).save(tmp_path / "copy_q60.jpg", quality=60)
    Image.open(paths[1]).resize((150, 112)).save(tmp_path / "copy_big.png")
    paths += [tmp_path / "copy_q60.jpg", tmp_path / "copy_big.png"]
    hashes = perceptual_hashes(paths, cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "phash.json").is_file()
    assert sorted(close_pairs(hashes, 2)) == [(0, 6), (1, 7)]
    assert np.array_equal(perceptual_hashes(paths, cache_dir=tmp_path / "cache"), hashes)  # read back


def test_clusters_keep_the_preferred_source_join_groups_and_refuse_two_diagnoses(tmp_path):
    rng = np.random.default_rng(1)
    images = [_lesion(rng) for _ in range(3)]
    rows = []
    for source, names in (("b", ["ISIC_1", "X_2", "X_3"]), ("a", ["ISIC_1", "ISIC_9"])):
        for name in names:
            pixels = images[{"ISIC_1": 0, "X_2": 1, "X_3": 2, "ISIC_9": 1}[name]]
            path = tmp_path / f"{source}_{name}.jpg"
            Image.fromarray(pixels).save(path, quality=90 if source == "a" else 70)
            rows.append({"source": source, "image_id": name, "path": path, "dx": "nv", "group_id": f"{source}:{name}"})
    table = pd.DataFrame(rows)
    kept, how = duplicate_clusters(table, isic_sources=["a", "b"], preference=["a", "b"], cache_dir=None)
    # b's ISIC_1 is a's ISIC_1 (by id); b's X_2 is a's ISIC_9 (by pixels); a's copies are kept
    assert kept.tolist() == [3, 4, 2, 3, 4]
    assert how.tolist() == ["id", "pixels", "", "id", "pixels"]
    groups = merge_groups(table["group_id"], kept)
    assert groups[0] == groups[3] and groups[1] == groups[4] and groups[2] == "b:X_3"
    table.loc[4, "dx"] = "mel"
    with pytest.raises(DataError, match=r"copies of an image with another diagnosis: b:X_2 \(nv\) = a:ISIC_9 \(mel\)"):
        duplicate_clusters(table, ["a", "b"], ["a", "b"])

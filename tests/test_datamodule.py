"""The HAM10000 DataModule on synthetic data: splits, batches, metadata, folds."""

import numpy as np
import pandas as pd
import pytest

from skinlight.data.classification import HAM10000DataModule
from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.data.metadata import MetadataEncoder
from skinlight.errors import DataError
from skinlight.synthetic.datamodule import SyntheticHAM10000DataModule


def _dm(root, **kwargs) -> HAM10000DataModule:
    dm = HAM10000DataModule(str(root), image_size=32, batch_size=8, num_workers=0, **kwargs)
    dm.setup("fit")
    return dm


def test_batches_have_images_labels_and_metadata(synthetic_root):
    dm = _dm(synthetic_root)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (8, 3, 32, 32) and batch["image"].dtype.is_floating_point
    assert batch["label"].shape == (8,) and int(batch["label"].max()) < len(CLASSES)
    assert batch["meta"].shape == (8, dm.meta_dim) and dm.meta_dim == 2 + 3 + 15
    sizes = {s: len(dm.datasets[s]) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == len(pd.read_csv(synthetic_root / "HAM10000_metadata.csv"))
    assert dm.class_counts == np.bincount(dm.table.loc[dm.table.split == "train", "label"], minlength=7).tolist()
    assert dm.describe().startswith(f"train: {sizes['train']} images / ")


def test_images_only_without_metadata(synthetic_root):
    dm = _dm(synthetic_root, use_metadata=False)
    assert dm.meta_dim == 0 and "meta" not in next(iter(dm.val_dataloader()))


def test_kfold_folds_share_the_test_split_and_rotate_val(synthetic_root):
    tables = [_dm(synthetic_root, num_folds=3, fold=k).table.set_index("image_id") for k in range(3)]
    test = [set(t.index[t.split == "test"]) for t in tables]
    val = [set(t.index[t.split == "val"]) for t in tables]
    assert test[0] == test[1] == test[2]
    assert not (val[0] & val[1]) and not (val[1] & val[2])
    assert set().union(*val) == set(tables[0].index[tables[0].split != "test"])


def test_split_csv_names_classes(synthetic_root, tmp_path):
    dm = _dm(synthetic_root)
    dm.write_split(tmp_path / "split.csv")
    split = pd.read_csv(tmp_path / "split.csv")
    truth = pd.read_csv(synthetic_root / "HAM10000_metadata.csv").set_index("image_id")["dx"]
    assert (split["label"] == truth[split["image_id"]].to_numpy()).all()


def test_metadata_encoder_scales_age_on_train_and_keeps_unknowns():
    train = pd.DataFrame(
        {"age": [20.0, 40.0, np.nan], "sex": ["male", "female", "unknown"], "localization": ["back", "face", "unknown"]}
    )
    enc = MetadataEncoder().fit(train)
    assert enc.age_mean == 30.0
    x = enc.transform(pd.DataFrame({"age": [30.0, np.nan], "sex": ["unknown", "male"], "localization": ["Face", None]}))
    names = enc.feature_names
    assert x[:, names.index("age")].tolist() == [0.0, 0.0]
    assert x[:, names.index("age_missing")].tolist() == [0.0, 1.0]
    assert x[:, names.index("sex_unknown")].tolist() == [1.0, 0.0]
    assert x[:, names.index("site_face")].tolist() == [1.0, 0.0]
    assert x[:, names.index("site_unknown")].tolist() == [0.0, 1.0]


def test_metadata_value_outside_the_vocabulary_names_the_key():
    enc = MetadataEncoder().fit(pd.DataFrame({"age": [1.0], "sex": ["male"], "localization": ["back"]}))
    with pytest.raises(DataError, match=r"localization value\(s\) \['elbow'\] are outside data.meta_sites"):
        enc.transform(pd.DataFrame({"age": [1.0], "sex": ["male"], "localization": ["elbow"]}))


def test_synthetic_datamodule_generates_once_then_refuses_other_settings(tmp_path):
    root = tmp_path / "syn"
    args = dict(num_lesions=14, width=48, height=36, image_size=16, batch_size=4, num_workers=0)
    SyntheticHAM10000DataModule(str(root), **args).prepare_data()
    stamp = (root / "HAM10000_metadata.csv").stat().st_mtime_ns
    SyntheticHAM10000DataModule(str(root), **args).prepare_data()  # reused, not rewritten
    assert (root / "HAM10000_metadata.csv").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match=r"other settings \{'num_lesions': \(14, 20\)\}"):
        SyntheticHAM10000DataModule(str(root), **{**args, "num_lesions": 20}).prepare_data()

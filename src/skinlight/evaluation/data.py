"""The data a checkpoint is evaluated on (eval.py, explain.py), built from the checkpoint itself.

A checkpoint records the data config it was trained with. Evaluating on the same dataset (the same
datamodule class, or no data= on the command line) rebuilds that config, hence the same split;
on another dataset (e.g. data=isic2018_task3) the command's data config is used with what the model
fixes taken from the checkpoint; a data=<source> reader then keeps the images of classes the model cannot
predict apart (data.outside=keep), for eval.py to report. Options the user gives are either free (where the
data lives, how it is loaded) or must agree with the checkpoint; a contradiction stops with one line.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from skinlight.errors import ConfigError, SkinlightError

log = logging.getLogger(__name__)
# Fixed by the model whatever the dataset: its input and its classes.
MODEL_KEYS = ("image_size", "resize", "preprocess", "classes", "task", "malignant", "meta_sexes", "meta_sites")
# Fixed on the training dataset: they define its split (another value would test on training images).
SPLIT_KEYS = (
    "protocol",
    "published",
    "test_images",
    "test_fraction",
    "val_fraction",
    "num_folds",
    "fold",
    "split_seed",
    "split",
    "groups_csv",
    "num_lesions",
    "generator_seed",
    "width",
    "height",
)
# Parts of the training config that evaluation does not use.
TRAINING_ONLY = {"augmentation": [], "sampler": None}


def _override_keys() -> list[str]:
    """The keys (or groups) the command line sets."""
    if not HydraConfig.initialized():
        return []
    return [override.lstrip("+~").split("=", 1)[0] for override in HydraConfig.get().overrides.task]


def given_data_options(cfg: DictConfig) -> dict:
    """The data.<key> options of the command line, with their composed values (top-level keys)."""
    keys = dict.fromkeys(key.split(".")[1] for key in _override_keys() if key.startswith("data."))
    composed = OmegaConf.to_container(cfg.data, resolve=True, throw_on_missing=False)
    return {k: composed[k] for k in keys if k in composed}


def data_config(cfg: DictConfig, hparams: dict, ckpt_path) -> dict:
    """The plain data config to evaluate the checkpoint's model on (see the module docstring)."""
    trained = hparams["data"]["config"]
    composed = OmegaConf.to_container(cfg.data, resolve=True, throw_on_missing=False)
    # no data= on the command line: the checkpoint's own data
    # one datamodule class reads several downloads (data=<source>): the same dataset is the same class and source
    same = [composed["_target_"], composed.get("source")] == [trained["_target_"], trained.get("source")]
    same = same or "data" not in _override_keys()
    config = (
        dict(trained) if same else {**composed, **{k: trained[k] for k in MODEL_KEYS if k in trained and k in composed}}
    )
    for key, value in given_data_options(cfg).items():
        if key in MODEL_KEYS or (same and key in SPLIT_KEYS):
            if key in config and value != config[key]:
                raise ConfigError(
                    f"data.{key}={value} contradicts {ckpt_path}, trained with data.{key}={config[key]}: "
                    f"leave data.{key} out (the checkpoint fixes it)"
                )
        else:
            config[key] = value
    if same and "root" not in given_data_options(cfg) and not Path(str(trained["root"])).is_dir():
        config["root"] = composed["root"]  # trained elsewhere: the command's own root (synthetic data regenerates)
    if config.get("root") in (None, "???"):
        raise ConfigError(
            f"data.root: {ckpt_path} was trained on {trained['root']}, which is not here: "
            "give data.root=<that dataset's folder on this machine>"
        )
    config.update(TRAINING_ONLY)
    if not same and "outside" in config:  # another dataset's classes the model lacks: reported, not refused
        config["outside"] = "keep"
    if "class_names" in hparams:  # a classifier: the metadata encoding it learned (a segmenter takes none)
        config.update(
            metadata=hparams.get("metadata") if hparams.get("meta") else None, use_metadata=bool(hparams.get("meta"))
        )
    if config.get("pipeline"):  # the derived images the model was trained on, e.g. crops; the report stays here
        config["pipeline"] = {**config["pipeline"], "report": None}
    return config


def trained_images(trained: dict, ckpt_path) -> list[str]:
    """The ids of the images the checkpoint was trained or validated on, read again from its training data (its
    own split); none where that data is not on this machine (said in the log)."""
    try:
        datamodule = instantiate({**trained, **TRAINING_ONLY}, _convert_="all")
        datamodule.prepare_data()
        datamodule.setup("test")
    except (SkinlightError, OSError) as e:
        log.warning(
            "%s: its training data cannot be read here (%s): images it was trained on are not left out", ckpt_path, e
        )
        return []
    seen = datamodule.table[datamodule.table["split"].isin(("train", "val"))]
    return sorted(set(seen["image_id"]))


def datamodule_for(cfg: DictConfig, model, ckpt_path, split: str):
    """The datamodule to evaluate `model` (loaded from `ckpt_path`) on, set up, with `split` images."""
    hparams = dict(model.hparams)
    config = data_config(cfg, hparams, ckpt_path)
    if config.get("outside") == "keep":  # another download: leave out the images the model was trained on
        config["seen"] = trained_images(hparams["data"]["config"], ckpt_path)
    datamodule = instantiate(config, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("test")
    if "class_names" in hparams and list(datamodule.classes) != list(hparams["class_names"]):
        raise ConfigError(
            f"{ckpt_path} predicts {list(hparams['class_names'])} but the data has classes "
            f"{list(datamodule.classes)}: give data.classes / data.task as in training"
        )
    trained = hparams["data"]
    if (
        datamodule.fingerprint()["split_sha256"] != trained["split_sha256"]
        and type(datamodule).__module__ + "." + type(datamodule).__qualname__ == trained["config"]["_target_"]
        and getattr(datamodule, "source", None) == trained["config"].get("source")
    ):
        raise ConfigError(
            f"the split of {datamodule.root} differs from the one {ckpt_path} was trained on (split.csv "
            f"sha256 {trained['split_sha256'][:12]}...): its test images may have been trained on; "
            "evaluate on the data it was trained with, unchanged"
        )
    if not (datamodule.table.split == split).any():
        raise ConfigError(
            f"split={split}: the data has no {split} images ({datamodule.describe()}); "
            f"choose split={'val' if split == 'test' else 'test'}"
        )
    return datamodule

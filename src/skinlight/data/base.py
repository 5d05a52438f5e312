"""The generic lesion datamodule: a layout's image table, split by lesion, one dataset per split, loaders.

A dataset is a small subclass: `read_table()` returns one row per image (image_id, lesion_id,
label, path, and `split` where the layout fixes it); the task's subclass (classification.py,
segmentation.py) turns the split rows into datasets. Images leave the loaders as float tensors in
[0, 1] at `image_size` (skinlight.data.transforms); the model normalises them.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import lightning.pytorch as L
import pandas as pd
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from skinlight.data.protocol import TEST_IMAGES, UNUSED, Protocol, one_image_per_test_lesion
from skinlight.data.splits import assign_splits
from skinlight.data.transforms import build_transform, resize_steps, seed_worker_transform
from skinlight.errors import ConfigError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")  # split.csv may also hold UNUSED (data.test_images=one_per_lesion)
SPLIT_COLUMNS = ["image_id", "lesion_id", "label", "split", "fold"]


class LesionDataModule(L.LightningDataModule):
    """Read, split (lesion-grouped, class-stratified), build datasets, serve loaders.

    `TASK` names the LightningModule family this data feeds ("classification" or "segmentation");
    train.py checks it against the model's. `augmentation` (albumentations transforms) applies to
    the train split only, `preprocess` (the same kind) to every split. `protocol` / `published`: the split
    protocol (skinlight.data.protocol); `test_images="one_per_lesion"` keeps one image of each test lesion.
    """

    TASK = ""
    has_lesion_ids = True  # False: lesion_id is the image id internally and left empty in split.csv

    def __init__(
        self,
        root: str,
        classes,
        image_size: int = 224,
        resize: str = "squash",
        batch_size: int = 32,
        num_workers: int = 2,
        test_fraction: float | None = 0.2,
        val_fraction: float = 0.2,
        num_folds: int = 0,
        fold: int = 0,
        split_seed: int = 0,
        augmentation=(),
        preprocess=(),
        protocol: str = "honest",
        published: dict | None = None,
        test_images: str = "all",
    ):
        super().__init__()
        self.root, self.classes, self.image_size = Path(root), tuple(classes), image_size
        resize_steps(image_size, resize)  # an unknown policy stops at start-up
        self.resize, self.batch_size, self.num_workers = resize, batch_size, num_workers
        self.split_args = dict(
            test_fraction=test_fraction, val_fraction=val_fraction, num_folds=num_folds, fold=fold, seed=split_seed
        )
        self.augmentation, self.preprocess = list(augmentation or ()), list(preprocess or ())
        self.protocol = Protocol.from_config(protocol, published)
        if test_images not in TEST_IMAGES:
            raise ConfigError(f"data.test_images={test_images!r}: choose one of {list(TEST_IMAGES)}")
        if self.protocol.test_siblings == "train" and test_images != "one_per_lesion":
            raise ConfigError("data.published.test_siblings=train needs data.test_images=one_per_lesion")
        self.test_images = test_images
        self.table: pd.DataFrame | None = None
        self.datasets: dict[str, Dataset] = {}

    # -- what a dataset subclass and a task subclass provide

    def read_table(self) -> pd.DataFrame:
        """One row per image: image_id, lesion_id, label (index into self.classes), path[, split, ...]."""
        raise NotImplementedError

    def prepare_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """The split table before datasets are built (checks, derived images, fitted encodings)."""
        return table

    def make_dataset(self, rows: pd.DataFrame, transform) -> Dataset:
        raise NotImplementedError

    def model_inputs(self) -> dict:
        """What the model learns from this data at construction (class names, ...), as plain values."""
        return {"class_names": list(self.classes)}

    # -- the shared steps

    def split_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """Add `split` and `fold`. A layout that fixes the validation split (official folders) keeps its
        splits; otherwise the lesion-grouped, class-stratified split of skinlight.data.splits (a given
        test split is kept, train/val drawn from the rest), under the split protocol; then the test
        images option."""
        if "split" in table and table["split"].eq("val").any():
            table = table.assign(fold=pd.array([pd.NA] * len(table), dtype="Int64"))
        else:
            regrouped = self.protocol.regroup(table, self.classes)
            table = self.protocol.restore(assign_splits(regrouped, self.classes, **self.split_args))
        if self.test_images == "one_per_lesion":
            table = one_image_per_test_lesion(table, self.split_args["seed"], self.protocol.test_siblings)
        return table

    def setup(self, stage: str | None = None) -> None:
        if self.table is not None:
            return
        self.table = self.prepare_table(self.split_table(self.read_table()).reset_index(drop=True))
        for split in SPLITS:
            rows = "test" if split == "val" and self.protocol.select_on == "test" else split
            self.datasets[split] = self.make_dataset(self.table[self.table["split"] == rows], self.transform(split))
        log.info("split %s", self.describe())

    def transform(self, split: str):
        """The transform of `split`'s images: the augmentation for train only, the preprocessing for every split;
        seeded from the run seed (seed_everything), each loader worker reseeds its copy."""
        augmentation = self.augmentation if split == "train" else ()
        return build_transform(
            self.image_size, augmentation, seed=torch.initial_seed(), policy=self.resize, preprocess=self.preprocess
        )

    def describe(self) -> str:
        """Images and lesions per split, e.g. for the log."""
        g = self.table.groupby("split")
        return ", ".join(
            f"{s}: {len(g.get_group(s))} images / {g.get_group(s)['lesion_id'].nunique()} lesions"
            for s in (*SPLITS, UNUSED)
            if s in g.groups
        )

    def split_frame(self) -> pd.DataFrame:
        """split.csv's rows: image_id, lesion_id (empty where the layout has none), label (class name), split, fold."""
        table = self.table[SPLIT_COLUMNS].copy()
        table["label"] = [self.classes[i] for i in table["label"]]
        if not self.has_lesion_ids:
            table["lesion_id"] = ""
        return table

    def write_split(self, path: Path) -> None:
        self.split_frame().to_csv(path, index=False)

    def fingerprint(self) -> dict:
        """What identifies the data a model was trained on: root, the sha256 of split.csv, images per split."""
        split_csv = self.split_frame().to_csv(index=False).encode()
        return {
            "root": str(self.root.resolve()),
            "split_sha256": hashlib.sha256(split_csv).hexdigest(),
            "images": {s: int((self.table["split"] == s).sum()) for s in SPLITS},
        }

    def _loader(self, split: str, shuffle: bool, sampler=None) -> DataLoader:
        trainer = self.trainer
        if split != "train" and trainer is not None and trainer.world_size > 1:
            # DDP: every val/test image on exactly one rank (rank r: images r, r + world, ...); Lightning's
            # default DistributedSampler pads with repeated images, which would bias the synced metrics
            sampler = UnrepeatedDistributedSampler(
                self.datasets[split], num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
            )
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            # training workers start afresh each epoch, their augmentation seeded from the run's torch generator
            # (which checkpoints carry): a resumed run draws the same augmentations as the uninterrupted one
            persistent_workers=self.num_workers > 0 and split != "train",
            worker_init_fn=seed_worker_transform,
            pin_memory=torch.cuda.is_available(),
            drop_last=split == "train" and self._last_batch_of_one(split, sampler),
        )

    def _last_batch_of_one(self, split: str, sampler) -> bool:
        """Whether an epoch of `split` would end on a batch of one image (BatchNorm cannot train on it): that
        image, a different one each shuffled epoch, is then left out of the epoch."""
        drawn = len(sampler) if sampler is not None else len(self.datasets[split])
        return drawn > 1 and drawn % self.batch_size == 1

    def split_dataloader(self, split: str) -> DataLoader:
        """The images of `split` in table order, unshuffled and unresampled (evaluation, e.g. of the train split)."""
        return self._loader(split, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

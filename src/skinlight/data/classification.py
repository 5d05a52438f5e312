"""Classification datamodules: HAM10000, the benign/malignant folders, the official ISIC 2018 Task 3 sets.

`ClassificationDataModule` adds to the generic lesion datamodule what only classification uses:
the binary relabelling (`task="binary"`: the dx values in `malignant` against the others), patient
metadata (skinlight.data.metadata, fitted on the train split, or given fitted as `metadata`), a
train-split `sampler` (a factory of skinlight.data.samplers), the decoded-image `cache`, and a
`pipeline` that maps the split table to one whose `path` column points at derived images (e.g.
skinlight.inference.crop.CropPipeline).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.base import LesionDataModule
from skinlight.data.cache import ImageCache
from skinlight.data.datasets import LesionImageDataset
from skinlight.data.layouts.ham10000 import BINARY_CLASSES, CLASSES, MALIGNANT, METADATA_CSV, read_ham10000
from skinlight.data.layouts.isic2018_task3 import read_isic2018_task3
from skinlight.data.layouts.isic_binary import read_isic_binary
from skinlight.data.metadata import SEXES, SITES, MetadataEncoder
from skinlight.errors import ConfigError

log = logging.getLogger(__name__)


class ClassificationDataModule(LesionDataModule):
    """Image (+ metadata) items with class labels; see the module docstring for the options."""

    TASK = "classification"

    def __init__(
        self,
        root: str,
        classes=CLASSES,
        task: str = "multiclass",
        malignant=MALIGNANT,
        use_metadata: bool = True,
        meta_sexes=SEXES,
        meta_sites=SITES,
        metadata: dict | None = None,
        sampler=None,
        cache: bool = False,
        cache_dir: str | None = None,
        pipeline=None,
        **kwargs,
    ):
        if task not in ("multiclass", "binary"):
            raise ConfigError(f"data.task must be multiclass or binary, got {task!r}")
        unknown = sorted(set(malignant) - set(classes))
        if task == "binary" and unknown:
            raise ConfigError(f"data.malignant has {unknown}, not among data.classes {list(classes)}")
        super().__init__(root, BINARY_CLASSES if task == "binary" else classes, **kwargs)
        self.dx_classes, self.malignant = tuple(classes), (tuple(malignant) if task == "binary" else None)
        if metadata is not None:
            self.encoder = MetadataEncoder.from_state(metadata)
        else:
            self.encoder = MetadataEncoder(meta_sexes, meta_sites) if use_metadata else None
        self.fit_encoder = metadata is None
        self.sampler, self.pipeline = sampler or None, pipeline or None
        if cache and not cache_dir:
            raise ConfigError("data.cache=true needs data.cache_dir (a folder for the decoded images)")
        self.cache_dir = Path(cache_dir) if cache else None
        self.meta: np.ndarray | None = None
        self.images: ImageCache | None = None
        self.train_sampler = None

    @property
    def meta_dim(self) -> int:
        return self.encoder.dim if self.encoder else 0

    @property
    def class_counts(self) -> list[int]:
        """Images per class in the train split (for class weights and samplers)."""
        train = self.table[self.table["split"] == "train"]
        return np.bincount(train["label"], minlength=len(self.classes)).tolist()

    def model_inputs(self) -> dict:
        return {
            **super().model_inputs(),
            "class_counts": self.class_counts,
            "metadata": self.encoder.state() if self.encoder else None,
        }

    def table_source(self) -> str:
        """Where the image table comes from, for messages about its rows."""
        return f"the image table of data.root={self.root}"

    def relabel(self, table: pd.DataFrame) -> pd.DataFrame:
        """data.task=binary: label 1 for the dx values in `malignant`, else 0."""
        return table.assign(label=table["dx"].isin(self.malignant).astype(int)) if self.malignant else table

    def prepare_table(self, table: pd.DataFrame) -> pd.DataFrame:
        if self.pipeline:  # e.g. crop-to-classify: `path` now points at the derived images
            table = self.pipeline(table)
        if self.encoder:
            source = self.table_source()
            if self.fit_encoder:
                self.encoder.fit(table[table["split"] == "train"], source)
            self.meta = self.encoder.transform(table, source)
        if self.cache_dir:
            self.images = self._image_cache(table)
        return table

    def make_dataset(self, rows: pd.DataFrame, transform) -> LesionImageDataset:
        positions = rows.index.to_numpy()
        return LesionImageDataset(
            rows["path"],
            rows["label"],
            transform,
            meta=None if self.meta is None else self.meta[positions],
            decode_size=self.image_size,
            images=None if self.images is None else self.images.take(positions),
        )

    def setup(self, stage: str | None = None) -> None:
        if self.table is not None:
            return
        super().setup(stage)
        if self.sampler and self.protocol.duplicate:
            log.info("train sampler not used: data.published.duplicate_before_split made the copies")
        elif self.sampler:
            self.train_sampler = self.sampler(self.datasets["train"].labels, self.classes)
            log.info("train sampler %s: %d draws per epoch", type(self.train_sampler).__name__, len(self.train_sampler))

    def _image_cache(self, table: pd.DataFrame) -> ImageCache:
        """Every image of the table decoded once at image_size and data.resize (built on first use, then reused).

        The file's prefix names the folders the images are read from, so images derived by a pipeline
        (each crop dilation) get caches of their own rather than replacing the dataset's as outdated.
        """
        folders = sorted({str(Path(path).resolve().parent) for path in table["path"]})
        prefix = f"{self.root.resolve().name}-{hashlib.sha256(json.dumps(folders).encode()).hexdigest()[:8]}"
        cache = ImageCache(table["path"], self.image_size, self.cache_dir, prefix=prefix, resize=self.resize)
        cache.build()
        return cache

    def train_dataloader(self):
        return self._loader("train", shuffle=self.train_sampler is None, sampler=self.train_sampler)


class HAM10000DataModule(ClassificationDataModule):
    """HAM10000 as downloaded (skinlight.data.layouts.ham10000)."""

    def table_source(self) -> str:
        return str(self.root / METADATA_CSV)

    def read_table(self) -> pd.DataFrame:
        return self.relabel(read_ham10000(self.root, self.dx_classes))


class ISICBinaryDataModule(ClassificationDataModule):
    """The benign/malignant folder layout (root/{train,test}/{benign,malignant}/*.jpg).

    With `test_fraction=None` the test folder is the test split and the train folder is split
    into train/val (or k folds), stratified by class; with a number, both folders are pooled and
    split as HAM10000 is (test_fraction to test, then val_fraction of the rest to val). The
    layout has no lesion ids (each image is its own group) and no metadata. It is the binary task
    as it is (`task="binary"`, the only value): the folders are the labels, no dx values to relabel.
    """

    has_lesion_ids = False

    def __init__(
        self,
        root: str,
        classes=BINARY_CLASSES,
        task: str = "binary",
        use_metadata: bool = False,
        test_fraction: float | None = None,
        **kwargs,
    ):
        if task != "binary":
            raise ConfigError(
                f"data.task={task!r}: data=isic_binary is the binary task of its folders {list(classes)}; "
                "set data.task=binary"
            )
        if use_metadata:
            raise ConfigError("data=isic_binary has no patient metadata: set data.use_metadata=false (and meta=none)")
        # "multiclass" for the parent: the class folders are the labels as they are (nothing relabelled)
        super().__init__(
            root, classes=classes, task="multiclass", use_metadata=False, test_fraction=test_fraction, **kwargs
        )
        self.pool_folders = test_fraction is not None

    def read_table(self) -> pd.DataFrame:
        table = read_isic_binary(self.root, self.classes)
        return table.drop(columns="split") if self.pool_folders else table


class ISIC2018Task3DataModule(ClassificationDataModule):
    """The official ISIC 2018 Task 3 validation ("val") and test ("test") sets, for evaluation only.

    A metadata model's ages are standardised with the statistics of its own training split: eval.py
    passes the encoder the checkpoint recorded (`metadata`); the sets have no training split.
    """

    def __init__(self, root: str, metadata_csv: str | None = None, allow_missing: bool = False, **kwargs):
        super().__init__(root, **kwargs)
        self.metadata_csv, self.allow_missing = metadata_csv, allow_missing

    def table_source(self) -> str:
        extra = f" and {self.root / self.metadata_csv}" if self.metadata_csv else ""
        return f"the ground-truth CSVs under {self.root}{extra}"

    def read_table(self) -> pd.DataFrame:
        return self.relabel(read_isic2018_task3(self.root, self.dx_classes, self.metadata_csv, self.allow_missing))

    def split_table(self, table: pd.DataFrame) -> pd.DataFrame:
        return table.assign(fold=pd.array([pd.NA] * len(table), dtype="Int64"))  # the sets are the splits

    def setup(self, stage: str | None = None) -> None:
        if stage == "fit":
            raise ConfigError(
                "data=isic2018_task3 holds the official validation/test sets, for evaluation: "
                "train on data=ham10000 and evaluate with python eval.py ckpt_path=... "
                "data=isic2018_task3 data.root=..."
            )
        if self.encoder is not None and self.fit_encoder:
            raise ConfigError(
                "data=isic2018_task3 has no training split to fit the metadata encoding on: "
                "evaluate a metadata model with python eval.py ckpt_path=... (the checkpoint "
                "holds its encoding), or set data.use_metadata=false"
            )
        super().setup(stage)

    def describe(self) -> str:
        counts = self.table.groupby("split").size()
        return ", ".join(f"{s}: {counts.get(s, 0)} images" for s in ("val", "test"))

"""LightningDataModules: HAM10000 (the real download and the synthetic copy) and the benign/malignant
folder layout."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader

from skinlight.data.cache import ImageCache
from skinlight.data.dataset import LesionImageDataset, build_transform, seed_worker_transform
from skinlight.data.ham10000 import BINARY_CLASSES, CLASSES, MALIGNANT, read_ham10000
from skinlight.data.isic_binary import read_isic_binary
from skinlight.data.metadata import SEXES, SITES, MetadataEncoder
from skinlight.data.splits import assign_splits
from skinlight.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SPLIT_COLUMNS = ["image_id", "lesion_id", "label", "split", "fold"]


class HAM10000DataModule(L.LightningDataModule):
    """HAM10000 (or its layout): grouped stratified split, metadata encoding, loaders.

    `task="binary"` relabels the `classes` (dx values) as ("benign", "malignant"), malignant being
    the dx values in `malignant`; the split is then stratified by the binary label. `mean`/`std`
    normally come from the backbone's pretrained config; `augmentation` is a list of
    albumentations transforms and `sampler` a factory from skinlight.data.samplers (None: plain
    shuffling), both for the train split only. `cache=True` decodes every image once into a uint8
    array at `image_size` under `cache_dir` (skinlight.data.cache) and augments the cached arrays.
    `pipeline` (e.g. skinlight.data.crop_pipeline.CropPipeline) maps the split table to one whose
    `path` column points at derived images.
    """

    has_lesion_ids = True  # False: lesion_id is the image id internally and left empty in split.csv

    def __init__(self, root: str, image_size: int = 224, batch_size: int = 32, num_workers: int = 2,
                 test_fraction: float = 0.2, val_fraction: float = 0.2, num_folds: int = 0, fold: int = 0,
                 split_seed: int = 0, use_metadata: bool = True, meta_sexes=SEXES, meta_sites=SITES,
                 classes=CLASSES, task: str = "multiclass", malignant=MALIGNANT,
                 mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), augmentation=(), sampler=None,
                 cache: bool = False, cache_dir: str | None = None, pipeline=None):
        super().__init__()
        self.root, self.image_size, self.batch_size, self.num_workers = Path(root), image_size, batch_size, num_workers
        self.split_args = dict(test_fraction=test_fraction, val_fraction=val_fraction, num_folds=num_folds,
                               fold=fold, seed=split_seed)
        if task not in ("multiclass", "binary"):
            raise ConfigError(f"data.task must be multiclass or binary, got {task!r}")
        unknown = sorted(set(malignant) - set(classes))
        if task == "binary" and unknown:
            raise ConfigError(f"data.malignant has {unknown}, not among data.classes {list(classes)}")
        self.dx_classes, self.malignant = tuple(classes), (tuple(malignant) if task == "binary" else None)
        self.classes = BINARY_CLASSES if task == "binary" else self.dx_classes
        self.use_metadata = use_metadata
        self.encoder = MetadataEncoder(meta_sexes, meta_sites) if use_metadata else None
        self.mean, self.std, self.augmentation = tuple(mean), tuple(std), list(augmentation or ())
        self.sampler = sampler or None
        self.pipeline = pipeline or None
        if cache and not cache_dir:
            raise ConfigError("data.cache=true needs data.cache_dir (a folder for the decoded images)")
        self.cache_dir = Path(cache_dir) if cache else None
        self.table: pd.DataFrame | None = None
        self.datasets: dict[str, LesionImageDataset] = {}
        self.train_sampler = None

    @property
    def meta_dim(self) -> int:
        return self.encoder.dim if self.encoder else 0

    @property
    def class_counts(self) -> list[int]:
        """Images per class in the train split (for class weights and samplers)."""
        train = self.table[self.table["split"] == "train"]
        return np.bincount(train["label"], minlength=len(self.classes)).tolist()

    def read_table(self) -> pd.DataFrame:
        """The image table: lesion_id, image_id, path, label (index into self.classes), metadata."""
        table = read_ham10000(self.root, self.dx_classes)
        if self.malignant:
            table["label"] = table["dx"].isin(self.malignant).astype(int)
        return table

    def split_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """Add the split and fold columns (lesion-grouped, class-stratified; see skinlight.data.splits)."""
        return assign_splits(table, self.classes, **self.split_args)

    def setup(self, stage: str | None = None) -> None:
        if self.table is not None:
            return
        self.table = self.split_table(self.read_table())
        if self.pipeline:  # e.g. crop-to-classify: `path` now points at the derived images
            self.table = self.pipeline(self.table)
        meta = None
        if self.encoder:
            self.encoder.fit(self.table[self.table["split"] == "train"])
            meta = self.encoder.transform(self.table)
        images = self._image_cache() if self.cache_dir else None
        for split in ("train", "val", "test"):
            rows = (self.table["split"] == split).to_numpy()
            augmentation = self.augmentation if split == "train" else ()
            # seeded from the run seed (seed_everything); each loader worker reseeds its copy
            transform = build_transform(self.image_size, self.mean, self.std, augmentation, seed=torch.initial_seed())
            self.datasets[split] = LesionImageDataset(
                self.table["path"][rows], self.table["label"][rows], transform,
                meta=None if meta is None else meta[rows], decode_size=self.image_size,
                images=None if images is None else images.take(np.flatnonzero(rows)))
        if self.sampler:
            self.train_sampler = self.sampler(self.datasets["train"].labels, self.classes)
        log.info("split %s%s", self.describe(),
                 f"; train sampler {type(self.train_sampler).__name__}: {len(self.train_sampler)} draws per epoch"
                 if self.train_sampler else "")

    def _image_cache(self) -> ImageCache:
        """Every image of the table decoded once at image_size (built on first use, then reused).

        The file's prefix names the folders the images are read from, so images derived by a pipeline
        (each crop dilation) get caches of their own rather than replacing the dataset's as outdated.
        """
        folders = sorted({str(Path(path).resolve().parent) for path in self.table["path"]})
        prefix = f"{self.root.resolve().name}-{hashlib.sha256(json.dumps(folders).encode()).hexdigest()[:8]}"
        cache = ImageCache(self.table["path"], self.image_size, self.cache_dir, prefix=prefix)
        cache.build()
        return cache

    def describe(self) -> str:
        """Images and lesions per split, e.g. for the log."""
        g = self.table.groupby("split")
        return ", ".join(f"{s}: {len(g.get_group(s))} images / {g.get_group(s)['lesion_id'].nunique()} lesions"
                         for s in ("train", "val", "test"))

    def write_split(self, path: Path) -> None:
        """split.csv: one row per image; `label` is the class name."""
        table = self.table[SPLIT_COLUMNS].copy()
        table["label"] = [self.classes[i] for i in table["label"]]
        if not self.has_lesion_ids:
            table["lesion_id"] = ""
        table.to_csv(path, index=False)

    def _loader(self, split: str, shuffle: bool, sampler=None) -> DataLoader:
        trainer = self.trainer
        if split != "train" and trainer is not None and trainer.world_size > 1:
            # DDP: every val/test image on exactly one rank (rank r: images r, r + world, ...); Lightning's
            # default DistributedSampler pads with repeated images, which would bias the synced metrics
            sampler = UnrepeatedDistributedSampler(self.datasets[split], num_replicas=trainer.world_size,
                                                   rank=trainer.global_rank, shuffle=False)
        return DataLoader(self.datasets[split], batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          worker_init_fn=seed_worker_transform, pin_memory=torch.cuda.is_available(),
                          drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=self.train_sampler is None, sampler=self.train_sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class SyntheticHAM10000DataModule(HAM10000DataModule):
    """The embedded synthetic HAM10000: generated into `root` on first use, then reused."""

    def __init__(self, root: str, num_lesions: int = 1000, generator_seed: int = 0,
                 width: int = 600, height: int = 450, **kwargs):
        super().__init__(root, **kwargs)
        self.generator_args = dict(num_lesions=num_lesions, seed=generator_seed, image_size=(width, height))

    def prepare_data(self) -> None:
        from skinlight.data.synthetic import generate_ham10000

        manifest = self.root / "synthetic.json"
        if not manifest.exists():
            log.info("generating synthetic HAM10000 into %s", self.root)
            generate_ham10000(self.root, **self.generator_args)
            return
        written = json.loads(manifest.read_text())
        wanted = {**self.generator_args, "image_size": list(self.generator_args["image_size"])}
        differing = {k: (written.get(k), v) for k, v in wanted.items() if written.get(k) != v}
        if differing:
            raise DataError(f"{self.root} holds synthetic data made with other settings {differing} "
                            "(found, wanted); choose another data.root or delete that folder")


class ISICBinaryDataModule(HAM10000DataModule):
    """The benign/malignant folder layout (root/{train,test}/{benign,malignant}/*.jpg).

    With `test_fraction=None` the test folder is the test split and the train folder is split
    into train/val (or k folds), stratified by class; with a number, both folders are pooled and
    split as HAM10000 is (test_fraction to test, then val_fraction of the rest to val). The
    layout has no lesion ids (each image is its own group) and no metadata.
    """

    has_lesion_ids = False

    def __init__(self, root: str, classes=BINARY_CLASSES, use_metadata: bool = False,
                 test_fraction: float | None = None, **kwargs):
        if use_metadata:
            raise ConfigError("data=isic_binary has no patient metadata: set data.use_metadata=false "
                              "(and meta=none)")
        super().__init__(root, classes=classes, use_metadata=False, test_fraction=test_fraction, **kwargs)
        self.pool_folders = test_fraction is not None

    def read_table(self) -> pd.DataFrame:
        table = read_isic_binary(self.root, self.classes)
        return table.drop(columns="split") if self.pool_folders else table

"""The datasets beyond HAM10000 as one kind of datamodule: `data=<source> data.root=...` (conf/data/<source>.yaml).

A source is a layout module skinlight.data.layouts.<source> that provides

    read(root) -> DataFrame   image_id (unique), lesion_id, patient_id (blank where the download has none),
                              diagnosis, age, sex, site (the download's own words), path[, split where the
                              download fixes one]; every bad file or row a DataError naming it
    TABLE                     the file (relative to root) the diagnoses are read from, for messages
    [METADATA_TABLE]          the file age, sex and site come from, where it is another one
    DIAGNOSES, SITES          the download's diagnoses and sites -> skinlight.data.taxonomy's common ones
    ISIC_IDS                  True where image and lesion ids are the ISIC archive's (shared across its datasets)

`SourceDataModule` harmonises the table (taxonomy.harmonise), splits it by group (split_by_group: the patient
where the download gives one, else the lesion, else the image; stratified by class) and selects the recipe's
classes (taxonomy.select_classes). split.csv adds `source` and `patient_id` to the contract's columns; images of
a dropped class are in it as "unused". skinlight.data.combined trains several sources together.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

import numpy as np
import pandas as pd

from skinlight.data.classification import ClassificationDataModule
from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.data.protocol import UNUSED
from skinlight.data.splits import assign_splits
from skinlight.data.taxonomy import COMMON_CLASSES, COMMON_SITES, harmonise, select_classes
from skinlight.errors import ConfigError

log = logging.getLogger(__name__)
SOURCES = ("ham10000", "isic2019", "isic2020", "bcn20000", "derm7pt", "pad_ufes20")
SPLIT_EXTRA = ["source", "patient_id"]  # split.csv's columns beyond the contract's
MIN_GROUPS = 3  # groups a class needs to be split (test, val and train each get one)
OUTSIDE = "outside"  # the dataset of test images of classes the model cannot predict (outside="keep")


def layout(source: str) -> ModuleType:
    """The reader module of `source` (one of SOURCES)."""
    if source not in SOURCES:
        raise ConfigError(f"data source {source!r} is not one skinlight reads: choose one of {list(SOURCES)}")
    return importlib.import_module(f"skinlight.data.layouts.{source}")


def read_source(
    source: str, root, labels=None, sites=None, age_band: int = 5, keys=("data.labels", "data.sites")
) -> pd.DataFrame:
    """The harmonised table of one download: the reader's columns, `source`, common `dx`, `sex`,
    `localization`, banded `age`, and `group_id` (what the split keeps together). `keys`: the config keys of
    `labels` and `sites`, for messages."""
    module = layout(source)
    table = module.read(root)
    where, meta_where = (f"{root}/{getattr(module, name, module.TABLE)}" for name in ("TABLE", "METADATA_TABLE"))
    table = harmonise(table, source, module.DIAGNOSES, module.SITES, where, labels, sites, age_band, keys, meta_where)
    scope = "isic" if module.ISIC_IDS else source  # ISIC archive ids name the same lesion in every ISIC dataset
    patient, lesion = table["patient_id"], table["lesion_id"]
    table["group_id"] = np.where(
        patient.notna(),
        f"{source}:patient:" + patient.astype(str),
        np.where(lesion.notna(), f"{scope}:lesion:" + lesion.astype(str), f"{scope}:image:" + table["image_id"]),
    )
    return table


def split_by_group(table: pd.DataFrame, target: str, split_args: dict) -> pd.DataFrame:
    """`split` and `fold` for each image: whole groups (group_id) go to one split, validation and test drawn
    from the groups that hold `target`'s images only, stratified by the group's rarest common class (a class of
    fewer than MIN_GROUPS groups is all train, with a warning).

    Other sources' images in a group chosen for validation or test become "unused" (test comes from the target
    alone, and they cannot be trained on without leaking); every other image is train. A download that fixes
    its own split (a `split` column) keeps it for its images.
    """
    frequency = table["dx"].value_counts()
    order = {c: i for i, c in enumerate(COMMON_CLASSES)}
    rarest = table.assign(rank=table["dx"].map(frequency)).sort_values(["rank", "dx"])
    groups = rarest.groupby("group_id", sort=True).agg(
        dx=("dx", "first"), target=("source", lambda s: (s == target).any())
    )
    drawn = groups[groups["target"]].reset_index()
    given = "split" in table and table["split"].notna().any()
    if given:
        first = table.groupby("group_id")["split"].first()
        drawn["split"] = drawn["group_id"].map(first)
    sizes = drawn["dx"].value_counts()
    rare = sorted(sizes.index[sizes < MIN_GROUPS]) if not given else []
    if rare:  # too few to stratify (one for test, one for val, one to train): trained on, said in the log
        log.warning(
            "class(es) %s have fewer than %d groups in %s: all train, none tested",
            ", ".join(f"{c} ({sizes[c]})" for c in rare),
            MIN_GROUPS,
            target,
        )
        drawn = drawn[~drawn["dx"].isin(rare)]
    present = sorted(drawn["dx"].unique(), key=order.get)
    strata = drawn.assign(lesion_id=drawn["group_id"], label=drawn["dx"].map({c: i for i, c in enumerate(present)}))
    if given and strata["split"].eq("val").any():
        strata["fold"] = pd.array([pd.NA] * len(strata), dtype="Int64")
    else:
        strata = assign_splits(strata, present, **split_args)
    split = strata.set_index("group_id")["split"]
    fold = strata.set_index("group_id")["fold"]
    out = table.copy()
    out["split"] = out["group_id"].map(split).fillna("train")
    out["fold"] = out["group_id"].map(fold).astype("Int64")
    held_out = out["split"].isin(("val", "test")) & (out["source"] != target)
    out.loc[held_out, ["split", "fold"]] = [UNUSED, pd.NA]
    if held_out.any():
        log.info("%d image(s) of other sources share a group with a %s val/test image: unused", held_out.sum(), target)
    return out


class SourceDataModule(ClassificationDataModule):
    """One download of SOURCES (see the module docstring), classified into `classes`.

    `merge` / `drop`: classes of the data outside `classes` merged into one of them or left out (taxonomy).
    `labels` / `sites`: extra native -> common entries for this source's diagnoses / sites. `age_band`: ages
    rounded to it (years). `outside="keep"` (eval.py on a checkpoint of other classes) keeps the images of
    classes the model cannot predict in the table, with label -1 and in no dataset, for the report. `seen`:
    image ids to leave out ("unused"), eval.py's list of the images the evaluated model was trained on.
    """

    def __init__(
        self,
        root: str,
        source: str,
        classes=CLASSES,
        merge: dict | None = None,
        drop=(),
        labels: dict | None = None,
        sites: dict | None = None,
        age_band: int = 5,
        meta_sites=COMMON_SITES,
        outside: str = "error",
        seen=(),
        **kwargs,
    ):
        layout(source)
        if outside not in ("error", "keep"):
            raise ConfigError(f"data.outside={outside!r}: choose error or keep")
        super().__init__(root, classes=classes, meta_sites=meta_sites, **kwargs)
        self.source, self.merge, self.drop = source, dict(merge or {}), tuple(drop or ())
        self.labels, self.sites, self.age_band, self.outside = labels, sites, age_band, outside
        self.seen = frozenset(seen or ())

    def table_source(self) -> str:
        return f"{self.root}/{layout(self.source).TABLE}"

    def read_table(self) -> pd.DataFrame:
        return read_source(self.source, self.root, self.labels, self.sites, self.age_band)

    def split_table(self, table: pd.DataFrame) -> pd.DataFrame:
        return self.leave_out_seen(self.select(split_by_group(table, self.source, self.split_args)))

    def leave_out_seen(self, table: pd.DataFrame) -> pd.DataFrame:
        """`seen` (eval.py: the ids of the images the evaluated model was trained on) -> "unused", counted."""
        seen = table["image_id"].isin(self.seen) & (table["split"] != UNUSED)
        self.seen_count = int((seen & (table["split"] == "test")).sum())  # what the test split would have held
        if seen.any():
            log.info("%d image(s) the model was trained on (same id) left out: unused", seen.sum())
            table.loc[seen, ["split", "fold"]] = [UNUSED, pd.NA]
        return table

    def select(self, table: pd.DataFrame) -> pd.DataFrame:
        """`label` for the recipe's classes; a dropped class's images "unused" (kept in split.csv)."""
        label, dropped = select_classes(
            table["dx"], self.dx_classes, self.merge, self.drop, table["source"], keep_outside=self.outside == "keep"
        )
        table = table.assign(common=table["dx"], dx=table["dx"].map(lambda c: self.merge.get(c, c)), label=label)
        if self.malignant:  # data.task=binary: benign / malignant, an image outside the classes stays -1
            table["label"] = np.where(label < 0, -1, table["dx"].isin(self.malignant).astype(int))
        table.loc[dropped, ["split", "fold"]] = [UNUSED, pd.NA]
        return table

    def make_dataset(self, rows: pd.DataFrame, transform):
        return super().make_dataset(rows[rows["label"] >= 0], transform)

    def setup(self, stage: str | None = None) -> None:
        """The splits' datasets, and with outside="keep" OUTSIDE: the test images of classes outside `classes`."""
        if self.table is not None:
            return
        super().setup(stage)
        self.outside = outside = self.table[(self.table["label"] < 0) & (self.table["split"] == "test")]
        if len(outside):
            self.datasets[OUTSIDE] = super().make_dataset(outside.assign(label=0), self.transform("test"))  # no label
            log.info("%d test image(s) of classes outside data.classes, reported apart", len(outside))

    def class_mapping(self, split: str = "test") -> pd.DataFrame:
        """How `split`'s images reach the model's classes: source, diagnosis (the download's word), common class,
        class (after data.merge; "-" where the model has none), images."""
        rows = self.table[self.table["split"] == split]
        names = rows["dx"].where(rows["label"] >= 0, "-")
        frame = rows.assign(**{"class": names}).groupby(["source", "diagnosis", "common", "class"]).size()
        return frame.rename("images").reset_index()

    def split_frame(self) -> pd.DataFrame:
        frame = self.table[["image_id", "lesion_id", "dx", "split", "fold", *SPLIT_EXTRA]].rename(
            columns={"dx": "label"}
        )
        if self.malignant:
            frame["label"] = [self.classes[i] if i >= 0 else dx for i, dx in zip(self.table["label"], frame["label"])]
        return frame

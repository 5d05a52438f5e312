"""The split protocol: honest by default, or a paper's own (published) protocol with what it leaks.

`data.protocol=honest` (the default) splits by lesion, never copies an image into two splits and
selects the model on the validation split. `data.protocol=published` applies the recipe's
`data.published` block, the paper's own protocol, whose keys are

    split_by: image               split by image: other images of a test lesion are trained on
    duplicate_before_split: {...}  class -> copies of each image, made before the split (Elgohary et al.):
                                   copies of one image land in train and test; the sampler does not
                                   duplicate again
    select_on: test               best checkpoint, early stopping and LR schedule read the test split
                                   (the validation part is trained on)
    test_siblings: train          with data.test_images=one_per_lesion: the untested images of the test
                                   lesions are trained on (Le et al.), instead of left unused

Each active key is a leak; `leaks()` says what each lets through, for the start-up warning and
run_info.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from skinlight.errors import ConfigError

PROTOCOLS = ("honest", "published")
UNUSED = "unused"  # the split of test-lesion images left out by one_per_lesion
PUBLISHED_KEYS = {
    "split_by": ("lesion", "image"),
    "duplicate_before_split": None,
    "select_on": ("val", "test"),
    "test_siblings": (UNUSED, "train"),
}
TEST_IMAGES = ("all", "one_per_lesion")


@dataclass(frozen=True)
class Protocol:
    """How the image table is split (see the module docstring)."""

    name: str = "honest"
    split_by: str = "lesion"
    duplicate: Mapping[str, int] = field(default_factory=dict)
    select_on: str = "val"
    test_siblings: str = UNUSED

    @classmethod
    def from_config(cls, protocol: str = "honest", published: Mapping | None = None) -> Protocol:
        """`data.protocol` and `data.published`; a value that cannot work stops with the key to change."""
        if protocol not in PROTOCOLS:
            raise ConfigError(f"data.protocol={protocol!r}: choose one of {list(PROTOCOLS)}")
        published = dict(published or {})
        unknown = sorted(set(published) - set(PUBLISHED_KEYS))
        if unknown:
            raise ConfigError(f"data.published has unknown key(s) {unknown}; its keys are {list(PUBLISHED_KEYS)}")
        for key, allowed in PUBLISHED_KEYS.items():
            if allowed and key in published and published[key] not in allowed:
                raise ConfigError(f"data.published.{key}={published[key]!r}: choose one of {list(allowed)}")
        duplicate = published.get("duplicate_before_split") or {}
        if not isinstance(duplicate, Mapping) or not all(isinstance(n, int) and n >= 1 for n in duplicate.values()):
            raise ConfigError(
                f"data.published.duplicate_before_split must map class names to whole numbers >= 1, got {duplicate!r}"
            )
        if protocol == "honest":
            return cls()
        if not published:
            raise ConfigError(
                "data.protocol=published: this recipe has no published protocol (data.published is empty); "
                "the recipes with one set data.published (see docs/recipes/)"
            )
        return cls(
            "published",
            published.get("split_by", "lesion"),
            dict(duplicate),
            published.get("select_on", "val"),
            published.get("test_siblings", UNUSED),
        )

    def leaks(self) -> list[str]:
        """What this protocol lets from the test split into training or model selection (empty: honest)."""
        found = []
        if self.split_by == "image":
            found.append("the split is by image, not by lesion: other images of a test lesion are trained on")
        if self.duplicate:
            found.append("images are duplicated before the split: copies of one image are in train and test")
        if self.select_on == "test":
            found.append("the best checkpoint, early stopping and LR schedule are chosen on the test split")
        if self.test_siblings == "train":
            found.append("the untested images of each test lesion are trained on")
        return found

    def record(self) -> dict:
        """What run_info.json keeps of the protocol."""
        return {"name": self.name, "leaks": self.leaks()}

    def regroup(self, table: pd.DataFrame, classes) -> pd.DataFrame:
        """The table the split draws from: copies made (`duplicate`) and each copy or image its own group
        (`split_by: image`); the lesion ids are restored by `restore`."""
        if not (self.duplicate or self.split_by == "image"):
            return table
        table = table.assign(true_lesion_id=table["lesion_id"])
        if self.duplicate:
            missing = [c for c in classes if c not in self.duplicate]
            if missing:
                raise ConfigError(f"data.published.duplicate_before_split has no entry for class(es) {missing}")
            copies = [self.duplicate[classes[label]] for label in table["label"]]
            table = table.loc[table.index.repeat(copies)].copy()
            table["copy"] = table.groupby(level=0).cumcount()
            table = table.reset_index(drop=True)
            table["lesion_id"] = table["image_id"].astype(str) + "#" + table["copy"].astype(str)
        else:
            table["lesion_id"] = table["image_id"]
        return table

    def restore(self, table: pd.DataFrame) -> pd.DataFrame:
        """The split table with its real lesion ids again (and the validation part trained on for
        `select_on: test`)."""
        if "true_lesion_id" in table:
            table = table.assign(lesion_id=table.pop("true_lesion_id"))
        if self.select_on == "test":
            table = table.assign(split=table["split"].replace("val", "train"))
        return table.drop(columns="copy", errors="ignore")


def one_image_per_test_lesion(table: pd.DataFrame, seed: int, siblings: str = UNUSED) -> pd.DataFrame:
    """data.test_images=one_per_lesion: one image of each test lesion (drawn with `seed`) stays test, its
    other images go to split `siblings`: "unused" (kept in split.csv, in no loader) or, for Le et al.
    2020's published protocol, "train"."""
    test = table.index[table["split"] == "test"]
    kept = table.loc[test].sample(frac=1.0, random_state=seed).groupby("lesion_id", sort=False).head(1).index
    out = table.copy()
    out.loc[test.difference(kept), "split"] = siblings
    return out

"""`data=combined`: several downloads trained together, without leaks, evaluated on one target dataset.

    data.sources=[{source: ham10000, root: /data/HAM10000}, {source: isic2019, root: /data/ISIC2019}]
    data.target=ham10000

Each source is read and harmonised as data=<source> reads it (skinlight.data.sources: the common classes,
sites, sexes and age bands; per source `labels` / `sites` entries). Then

  1. duplicates: an image in two sources (or twice in one) is kept once (skinlight.data.duplicates: by ISIC id,
     else by perceptual hash), the target's copy first; the other copies stay in split.csv as "duplicate" with
     `duplicate_of` naming the kept image;
  2. groups: a patient or lesion and every copy of its images form one group across sources;
  3. split: validation and test are drawn from the target's groups only (lesion-grouped, class-stratified);
     every other image trains, except other sources' images in a target's val/test group ("unused").

split.csv records each image's source; the log prints the duplicates found and the images per split and source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from skinlight.data.duplicates import duplicate_clusters, merge_groups
from skinlight.data.protocol import UNUSED
from skinlight.data.sources import SPLIT_EXTRA, SourceDataModule, layout, read_source, split_by_group
from skinlight.errors import ConfigError

log = logging.getLogger(__name__)
DUPLICATE = "duplicate"  # the split of a copy that data=combined keeps once
SOURCE_KEYS = {"source", "root", "labels", "sites"}


def _check_sources(sources, target: str) -> list[dict]:
    sources = [dict(s) for s in sources or ()]
    if len(sources) < 1:
        raise ConfigError("data.sources is empty: list the datasets, e.g. [{source: ham10000, root: /data/HAM10000}]")
    for i, entry in enumerate(sources):
        unknown = sorted(set(entry) - SOURCE_KEYS)
        if unknown or "source" not in entry or not entry.get("root") or entry["root"] == "???":
            raise ConfigError(
                f"data.sources[{i}]={entry}: each entry needs source and root (and may give labels, sites)"
                + (f"; unknown key(s) {unknown}" if unknown else "")
            )
        layout(entry["source"])
    names = [s["source"] for s in sources]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"data.sources lists {repeated} twice: give each dataset once")
    if target not in names:
        raise ConfigError(f"data.target={target!r} is not among data.sources {names}: choose one of them")
    return sources


class CombinedDataModule(SourceDataModule):
    """Several sources, one target (see the module docstring). `max_distance`: the Hamming distance of two
    perceptual hashes (of 64 bits) at or below which two images are one."""

    def __init__(self, sources, target: str, max_distance: int = 2, root: str | None = None, source=None, **kwargs):
        self.sources = _check_sources(sources, target)
        entry = next(s for s in self.sources if s["source"] == target)
        super().__init__(root or entry["root"], source=target, **kwargs)  # `source` is the target
        self.target, self.max_distance = target, max_distance

    def table_source(self) -> str:
        return "the tables of data.sources (" + ", ".join(f"{s['source']}: {s['root']}" for s in self.sources) + ")"

    def read_table(self) -> pd.DataFrame:
        tables = [
            read_source(
                s["source"],
                s["root"],
                s.get("labels"),
                s.get("sites"),
                self.age_band,
                (f"data.sources[{i}].labels", f"data.sources[{i}].sites"),
            )
            for i, s in enumerate(self.sources)
        ]
        table = pd.concat(tables, ignore_index=True)
        isic = [s["source"] for s in self.sources if layout(s["source"]).ISIC_IDS]
        preference = [self.target, *(s["source"] for s in self.sources if s["source"] != self.target)]
        cache = Path(self.cache_dir) if self.cache_dir else None
        kept_of, how = duplicate_clusters(table, isic, preference, self.max_distance, cache)
        table["group_id"] = merge_groups(table["group_id"], kept_of)
        copies = kept_of != kept_of.index
        table["duplicate_of"] = ""
        table.loc[copies, "duplicate_of"] = [
            f"{table.at[k, 'source']}:{table.at[k, 'image_id']}" for k in kept_of[copies]
        ]
        table["found_by"] = how.where(copies, "")
        found = table[copies].groupby(["source", "found_by"]).size()
        log.info(
            "duplicates: %d image(s) are copies and kept once (%s)",
            copies.sum(),
            ", ".join(f"{n} of {s} by {h}" for (s, h), n in found.items()) or "none",
        )
        return table

    def split_table(self, table: pd.DataFrame) -> pd.DataFrame:
        copies = table["duplicate_of"] != ""
        kept = self.leave_out_seen(self.select(split_by_group(table[~copies], self.target, self.split_args)))
        rest = table[copies].assign(split=DUPLICATE, fold=pd.array([pd.NA] * copies.sum(), dtype="Int64"), label=-1)
        out = pd.concat([kept, rest]).sort_index()
        if out.loc[~copies, "image_id"].duplicated().any():
            repeated = out.loc[~copies, "image_id"][out.loc[~copies, "image_id"].duplicated()]
            raise ConfigError(f"two different images share the id(s) {list(repeated[:5])} across data.sources")
        return out

    def describe(self) -> str:
        counts = self.table.groupby(["split", "source"]).size()
        return "; ".join(
            f"{s}: " + ", ".join(f"{n} {src}" for src, n in counts[s].items())
            for s in ("train", "val", "test", UNUSED, DUPLICATE)
            if s in counts.index.get_level_values(0)
        )

    def split_frame(self) -> pd.DataFrame:
        frame = super().split_frame()
        frame["duplicate_of"] = self.table["duplicate_of"]
        return frame[["image_id", "lesion_id", "label", "split", "fold", *SPLIT_EXTRA, "duplicate_of"]]

"""One label set and one metadata vocabulary for every dataset skinlight reads.

Each reader (skinlight.data.layouts.<source>) keeps a dataset's own words: its diagnosis strings, its site
names, its sex spelling. This module maps them onto

    COMMON_CLASSES   akiec, bcc, bkl, df, mel, nv, vasc (HAM10000's seven, in its order), scc, unknown
    COMMON_SITES     head/neck, upper extremity, lower extremity, torso, palms/soles, oral/genital, unknown
                     (the ISIC archive's anatom_site_general, its anterior/posterior/lateral torso as one)
    sex              male, female, unknown
    age              years rounded to the nearest `age_band` (5: the ISIC archive's age_approx), blank kept

through each reader's DIAGNOSES and SITES tables, which `data.labels` / `data.sites` (per source) extend or
correct. A diagnosis or site the tables do not know stops with its rows and the key that maps it; nothing is
guessed. A recipe's classes are `data.classes` (any of COMMON_CLASSES); a class outside them is merged into
one of them (`data.merge`, e.g. {scc: akiec}) or dropped (`data.drop`), both explicit: otherwise the run
stops with the number of images of each such class and both options.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import show
from skinlight.errors import ConfigError, DataError

log = logging.getLogger(__name__)
COMMON_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc", "scc", "unknown")
COMMON_SITES = (
    "head/neck",
    "upper extremity",
    "lower extremity",
    "torso",
    "palms/soles",
    "oral/genital",
    "unknown",
)
BLANK = "blank"  # a data.labels key: the class of images whose diagnosis cell is empty
SEXES = {"male": "male", "m": "male", "female": "female", "f": "female", "unknown": "unknown"}


def _extended(table: Mapping[str, str], extra: Mapping | None, vocabulary, key: str) -> dict[str, str]:
    """A reader's native -> common table with the user's entries (`key`, for messages) on top, checked."""
    merged = {str(k).strip().lower(): v for k, v in {**table, **(extra or {})}.items()}
    wrong = sorted({v for v in merged.values() if v not in vocabulary})
    if wrong:
        raise ConfigError(f"{key} maps onto {wrong}, not among {list(vocabulary)}")
    return merged


def map_values(values: pd.Series, table: Mapping[str, str], what: str, source: str, key: str, ids) -> pd.Series:
    """Native values (case and spaces ignored; blank: "unknown" unless `what` is a diagnosis) as common ones."""
    original = values.astype("string").str.strip()
    text = original.str.lower()
    blank = text.isna() | (text == "")
    if what == "diagnosis" and blank.any():
        if BLANK not in table:
            raise DataError(
                f"{source}: blank diagnosis for {blank.sum()} image(s): {show(ids[blank])}; give them a class with "
                f"{key}={{{BLANK}: unknown}} (data.drop=[unknown] then leaves them out)"
            )
        text = text.where(~blank, BLANK)
        blank = pd.Series(False, index=text.index)
    mapped = text.map(table)
    unmapped = mapped.isna() & ~blank
    if unmapped.any():
        found = original[unmapped].value_counts()  # as the file spells them
        listed = show(f"{value!r} ({n} image(s), e.g. {ids[original == value].iloc[0]})" for value, n in found.items())
        raise DataError(
            f"{source}: {what} value(s) skinlight cannot map: {listed}; map each onto one of "
            f"{sorted(set(table.values()))} with {key}" + "={'<value>': <common name>}"
        )
    return mapped.where(~blank, "unknown").astype(object)


def harmonise(
    table: pd.DataFrame,
    source: str,
    diagnoses: Mapping[str, str],
    sites: Mapping[str, str],
    where: str,
    labels: Mapping | None = None,
    site_names: Mapping | None = None,
    age_band: int = 5,
    keys: tuple[str, str] = ("data.labels", "data.sites"),
    meta_where: str | None = None,
) -> pd.DataFrame:
    """A reader's table (diagnosis, age, sex, site in its own words) with `dx`, `age`, `sex` and `localization`
    in the common vocabulary and a `source` column. `where` / `meta_where` name the files the diagnoses / the
    metadata come from, `keys` the config keys of `labels` and `site_names`, for messages."""
    ids = table["image_id"].reset_index(drop=True)
    rows = table.reset_index(drop=True)
    meta_where = meta_where or where
    diagnosis = _extended(diagnoses, labels, COMMON_CLASSES, keys[0])
    site = _extended(sites, site_names, COMMON_SITES, keys[1])
    out = rows.assign(source=source)
    out["dx"] = map_values(rows["diagnosis"], diagnosis, "diagnosis", where, keys[0], ids)
    out["localization"] = map_values(rows["site"], site, "site", meta_where, keys[1], ids)
    out["sex"] = map_values(rows["sex"], SEXES, "sex", meta_where, "the sex column (male, female or blank)", ids)
    age = pd.to_numeric(rows["age"], errors="coerce")
    bad = age.isna() & rows["age"].notna() & (rows["age"].astype("string").str.strip() != "")
    if bad.any():
        listed = show(f"{i}: {a!r}" for i, a in zip(ids[bad], rows["age"][bad]))
        raise DataError(f"{meta_where}: age is not a number for {listed}")
    if age_band < 1:
        raise ConfigError(f"data.age_band must be a whole number of years >= 1, got {age_band}")
    out["age"] = (np.round(age / age_band) * age_band).astype(object).where(age.notna(), np.nan)
    return out


def select_classes(
    dx: pd.Series, classes, merge: Mapping | None, drop, sources: pd.Series, keep_outside: bool = False
) -> tuple[pd.Series, pd.Series]:
    """The label index of each image in `classes` after `merge` (-1: none), and which images `drop` leaves out.

    A class of the data outside `classes` that is neither merged nor dropped stops here (ConfigError naming
    the class, its images per source and both options), unless `keep_outside` (evaluating a model of other
    classes: those images are reported apart); so does a merge or drop of a class the recipe uses.
    """
    classes, merge, drop = tuple(classes), dict(merge or {}), set(drop or ())
    for key, names in (("data.classes", classes), ("data.merge", merge), ("data.drop", drop)):
        unknown = sorted(set(names) - set(COMMON_CLASSES))
        if unknown:
            raise ConfigError(f"{key} has {unknown}, not among the common classes {list(COMMON_CLASSES)}")
    wrong = {k: v for k, v in merge.items() if v not in classes or k in classes}
    if wrong:
        raise ConfigError(f"data.merge={wrong}: merge a class outside data.classes into one of {list(classes)}")
    if drop & set(classes) or drop & set(merge):
        raise ConfigError(f"data.drop={sorted(drop)} names a class data.classes or data.merge uses")
    merged = dx.map(lambda c: merge.get(c, c))
    outside = ~merged.isin(classes) & ~merged.isin(drop)
    if outside.any() and not keep_outside:
        counts = pd.crosstab(merged[outside], sources[outside])
        listed = "; ".join(
            f"{c}: " + ", ".join(f"{n} in {s}" for s, n in counts.loc[c].items() if n) for c in counts.index
        )
        raise ConfigError(
            f"the data has classes outside data.classes={list(classes)} ({listed}): merge each into one of "
            f"data.classes (data.merge={{<class>: <into>}}), drop it (data.drop=[<class>]) or add it to data.classes"
        )
    dropped = merged.isin(drop)
    if dropped.any():
        log.info("data.drop: %s left out", ", ".join(f"{n} {c}" for c, n in merged[dropped].value_counts().items()))
    label = merged.map({c: i for i, c in enumerate(classes)}).fillna(-1).astype(int)
    return label, dropped

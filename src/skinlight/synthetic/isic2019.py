"""A synthetic ISIC 2019 training set in the download's layout (data=isic2019), drawn by skinlight.synthetic.draw,
that may hold a copy of a HAM10000-layout folder as the real one holds HAM10000.

    root/ISIC_2019_Training_Input/ISIC_xxxxxxx.jpg        (+ ATTRIBUTION.txt, LICENSE.txt)
    root/ISIC_2019_Training_GroundTruth.csv               image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK
    root/ISIC_2019_Training_Metadata.csv                  image,age_approx,anatom_site_general,lesion_id,sex
    root/synthetic.json                                   parameters, counts and the HAM10000 copies

Its own lesions: HAM10000's seven classes and SCC (drawn as akiec), BCN-like (ISIC_0053000 on, BCN_ lesion
ids), every fifth lesion MSK-like (ISIC_00xxxxx_downsampled, no lesion id). With `ham10000_root`, `shared` of
that folder's images are in it under their own image and lesion ids, the first half byte-identical, the
other re-encoded (JPEG quality 75: other bytes, the same picture); `renamed` more HAM10000 images are in it
under a new ISIC id and no lesion id (a duplicate only their pixels reveal). synthetic.json lists each copy
({"image", "of", "how"}). The same arguments give the same files.

CLI: ``skinlight-synthetic --layout isic2019 --out DIR [--num-lesions N] [--ham10000-root DIR] [...]``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.layouts.ham10000 import read_ham10000
from skinlight.data.layouts.isic2019 import GROUND_TRUTH, IMAGE_DIR, META_COLUMNS, METADATA, ONE_HOT
from skinlight.synthetic.isic_archive import archive_sex, archive_site, plan, refuse_used, render, write_info

FIRST_BCN, REENCODE_QUALITY = 53000, 75
NATIVE = {"akiec": "AK", **{c.lower(): c for c in ONE_HOT if c not in ("AK", "UNK")}}  # common class -> column


def _own_rows(num_lesions: int, seed: int) -> pd.DataFrame:
    rows = plan(num_lesions, seed, {"scc": ("akiec", 0.04)})
    msk = (rows["lesion_index"] % 5 == 4).to_numpy()
    number = rows["image_number"].to_numpy()
    image = np.where(msk, [f"ISIC_{n:07d}_downsampled" for n in number], [f"ISIC_{FIRST_BCN + n:07d}" for n in number])
    lesion = [np.nan if m else f"BCN_{i:07d}" for m, i in zip(msk, rows["lesion_index"])]
    return rows.assign(
        image=image,
        diagnosis=rows["dx"].map(NATIVE),
        age_approx=rows["age"],
        anatom_site_general=archive_site(rows["localization"]),
        lesion_id=lesion,
        sex=archive_sex(rows["sex"]),
        copy_of=np.nan,
        how=np.nan,
    )


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    return rows[name] if name in rows else pd.Series("unknown", index=rows.index)


def _ham_rows(ham: pd.DataFrame, shared: np.ndarray, renamed: np.ndarray, first_new: int) -> pd.DataFrame:
    """The rows of HAM10000's images at positions `shared` (own ids; the first half byte-identical, the other
    re-encoded) and `renamed` (new ids from `first_new`, no lesion id; re-encoded and identical in turn)."""
    rows = ham.iloc[np.concatenate([shared, renamed])].reset_index(drop=True)
    new_id = np.arange(len(rows)) >= len(shared)
    half = len(shared) // 2
    how = ["identical" if i < half else "re-encoded" for i in range(len(shared))]
    how += ["re-encoded" if j % 2 == 0 else "identical" for j in range(len(renamed))]
    new_ids = [f"ISIC_{first_new + j:07d}" for j in range(len(renamed))]
    return pd.DataFrame(
        {
            "image": [*rows["image_id"][~new_id], *new_ids],
            "diagnosis": rows["dx"].map(NATIVE),
            "age_approx": pd.to_numeric(_column(rows, "age"), errors="coerce"),
            "anatom_site_general": archive_site(_column(rows, "localization")),
            "lesion_id": rows["lesion_id"].where(~new_id),
            "sex": archive_sex(_column(rows, "sex")),
            "copy_of": rows["image_id"],
            "how": how,
            "source": rows["path"],
        }
    )


def _copy(source: Path, target: Path, how: str) -> None:
    if how == "identical":
        shutil.copyfile(source, target)
    else:
        with Image.open(source) as image:
            image.convert("RGB").save(target, quality=REENCODE_QUALITY)


def generate_isic2019(
    root: str | os.PathLike,
    num_lesions: int = 200,
    seed: int = 0,
    image_size: tuple[int, int] = (600, 450),
    ham10000_root: str | os.PathLike | None = None,
    shared: float = 0.5,
    renamed: int = 3,
) -> pd.DataFrame:
    """Write a synthetic ISIC 2019 (see the module docstring) into `root`; return its rows (image, diagnosis,
    the metadata columns, copy_of: the HAM10000 image it copies, how: identical or re-encoded)."""
    root = Path(root)
    refuse_used(root, GROUND_TRUTH, "an ISIC 2019 training set")
    ham = read_ham10000(ham10000_root) if ham10000_root is not None else None  # read before anything is written
    own = _own_rows(num_lesions, seed)
    images = root / IMAGE_DIR
    images.mkdir(parents=True, exist_ok=True)
    for name in ("ATTRIBUTION.txt", "LICENSE.txt"):  # as in the real download
        (images / name).write_text("synthetic ISIC 2019 training set (skinlight)\n")
    render(own, seed, image_size, [images / f"{i}.jpg" for i in own["image"]])
    tables = [own]
    if ham is not None:
        order = np.random.default_rng([seed, 4]).permutation(len(ham))
        count = round(shared * len(ham))
        others = order[count:] if len(order) - count >= renamed else order  # HAM images not shared, if enough
        copies = _ham_rows(ham, order[:count], others[:renamed], FIRST_BCN + len(own))
        for r in copies.itertuples():
            _copy(Path(r.source), images / f"{r.image}.jpg", r.how)
        tables.append(copies.drop(columns="source"))
    rows = pd.concat(tables, ignore_index=True).sort_values("image", ignore_index=True)
    copied = rows[rows["copy_of"].notna()]
    write_info(
        root,
        "skinlight.synthetic.isic2019",
        num_lesions=num_lesions,
        seed=seed,
        image_size=list(image_size),
        num_images=len(rows),
        images_per_diagnosis={c: int((rows["diagnosis"] == c).sum()) for c in ONE_HOT},
        ham10000={"root": str(ham10000_root) if ham10000_root is not None else None, "shared": shared},
        copies=[{"image": r.image, "of": r.copy_of, "how": r.how} for r in copied.itertuples()],
    )
    rows[list(META_COLUMNS)].to_csv(root / METADATA, index=False)
    one_hot = pd.DataFrame({"image": rows["image"], **{c: (rows["diagnosis"] == c).astype(float) for c in ONE_HOT}})
    one_hot.to_csv(root / GROUND_TRUTH, index=False)  # written last: marks a complete dataset
    return rows[["image", "diagnosis", *META_COLUMNS[1:], "copy_of", "how"]]

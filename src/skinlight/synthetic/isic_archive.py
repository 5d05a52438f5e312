"""What the synthetic ISIC-archive layouts share (isic2019, isic2020, bcn20000): a plan of HAM10000's classes with
classes HAM10000 lacks added, drawing it, the archive's site words and the refusal of a folder in use.

Image ids keep the synthetic datasets apart (data=combined finds duplicates by ISIC id): HAM10000 ISIC_0024306
on, ISIC 2019's own ISIC_00xxxxx_downsampled (below 24306) and ISIC_0053000 on (below 100000 for fewer
than 47,000 images), BCN20000 ISIC_0100000 on, ISIC 2020 random ids of ISIC_1000000 ... ISIC_9999999.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.errors import DataError
from skinlight.synthetic.draw import JPEG_QUALITY, draw_lesion_image, plan_dataset, sample_lesion, sample_view

GENERATOR_VERSION = "1.0"
# random stream ids of the lesions and the images: not synthetic.ham10000's (1, 2), whose drawings for the same seed
# would otherwise be these datasets' own images too (copies under other labels)
_LESION, _IMAGE = 11, 12
# HAM10000's localization -> the archive's anatom_site_general ("unknown": blank)
ARCHIVE_SITES = {
    **dict.fromkeys(("abdomen", "chest"), "anterior torso"),
    "back": "posterior torso",
    "trunk": "lateral torso",
    **dict.fromkeys(("face", "scalp", "ear", "neck"), "head/neck"),
    **dict.fromkeys(("upper extremity", "hand"), "upper extremity"),
    **dict.fromkeys(("lower extremity", "foot"), "lower extremity"),
    "acral": "palms/soles",
    "genital": "oral/genital",
}


def refuse_used(root: Path, name: str, dataset: str) -> None:
    if (root / name).exists():
        raise DataError(f"{root} already holds {dataset} ({name}); choose an empty directory or delete it first")


def plan(num_lesions: int, seed: int, extra: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """plan_dataset's HAM10000-like plan plus, for each `extra` class (name: (drawn as, share)), that share of
    num_lesions more lesions (at least 3: enough for a stratified split), one image each, drawn and described
    (age, sex, site) as lesions of the HAM10000 class they are drawn as. `lesion_index` numbers the lesions,
    `image_number` (a permutation) the images; each writer makes its ids from them."""
    rows = plan_dataset(num_lesions, seed).drop(columns=["image_id", "lesion_id"])
    rng = np.random.default_rng([seed, 3])
    for dx, (like, share) in extra.items():
        template = rows[rows["dx"] == like].drop_duplicates("lesion_index")
        count = max(3, round(share * num_lesions))
        new = template.iloc[rng.choice(len(template), count)].assign(dx=dx, style=like)
        rows = pd.concat([rows, new.assign(lesion_index=rows["lesion_index"].max() + 1 + np.arange(count))])
    return rows.reset_index(drop=True).assign(image_number=rng.permutation(len(rows)))


def in_turn(rows: pd.DataFrame, words: dict[str, tuple]) -> list:
    """A dataset's word for each planned image: its class's words (dx -> tuple) in turn by lesion."""
    return [words[r.dx][r.lesion_index % len(words[r.dx])] for r in rows.itertuples()]


def archive_site(localization: pd.Series, torso: str | None = None) -> pd.Series:
    """HAM10000 sites in the archive's words (`torso`: one word for the three torso sites); unknown is blank."""
    site = localization.map(ARCHIVE_SITES)
    return site.where(~site.str.endswith("torso", na=False), torso) if torso else site


def archive_sex(sex: pd.Series) -> pd.Series:
    return sex.where(sex != "unknown")


def render(rows: pd.DataFrame, seed: int, size: tuple[int, int], paths) -> None:
    """Draw each planned image (dx, style, lesion_index) and save it as a JPEG at its path of `paths`."""
    for i, (r, path) in enumerate(zip(rows.itertuples(), paths, strict=True)):
        lesion = sample_lesion(r.dx, np.random.default_rng([seed, _LESION, r.lesion_index]), r.style)
        rng = np.random.default_rng([seed, _IMAGE, i])
        rgb, _ = draw_lesion_image(lesion, sample_view(rng), size, rng)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(path, quality=JPEG_QUALITY)


def write_info(root: Path, generator: str, **info) -> None:
    """root/synthetic.json: the generator and what it wrote."""
    text = json.dumps({"generator": generator, "generator_version": GENERATOR_VERSION, **info}, indent=2)
    (root / "synthetic.json").write_text(text + "\n")

"""Deterministic synthetic dermoscopy lesions: classes, counts, metadata and drawing.

``plan_dataset(num_lesions, seed)`` plans a HAM10000-like dataset (one row per image) and
``draw_lesion_image(sample_lesion(dx, rng), sample_view(rng), size, rng)`` draws one (image, mask)
pair as arrays; the writers of each layout (``skinlight.synthetic.ham10000``, ``isic_binary``,
``isic2018_task3``, ``segmentation``) build on them. Every random draw comes from a ``numpy``
generator seeded by the caller, so the same seeds give identical plans and pixels.

Classes and counts. Lesions per class follow HAM10000's shares (nv 67 %, mel 11 %, bkl 11 %,
bcc 5 %, akiec 3 %, vasc 1.4 %, df 1.1 %), except that every class is floored at 4 % of the
lesions and at 2 lesions, so that each class has enough lesions for a lesion-grouped,
stratified train/val/test split even for tiny datasets (at least 14 lesions are needed).
Counts are computed (largest remainder), never sampled. Images per lesion follow HAM10000
(74 % one image, 19 % two, 7 % three, a few four to six; 1.35 on average), also by quota.

Images. Each lesion has fixed parameters (shape, colours, structures, the patient's skin);
each of its images is a new view: zoom, rotation, mirror, position, lighting, white
balance, dermoscope vignette, hairs, blur and noise. Global factors (skin tone, brightness,
white balance, lesion size, zoom, vignette) vary strongly and independently of the class, so
the mean colour of an image says little about its class. Class cues are the structures a
dermatologist looks for, drawn coarse enough to survive a 64 x 64 thumbnail:

    nv     symmetric round brown lesion, soft edge, regular honeycomb pigment network
    mel    irregular asymmetric border, blotchy multicolour pigment, eccentric black blotch,
           blue-white veil, irregular peripheral dots
    bkl    sharp "stuck-on" tan border, cerebriform fissures, milia-like cysts (white-yellow
           spots) and comedo-like openings (dark spots)
    bcc    pale pink translucent lesion, red arborizing vessels, blue-grey ovoid nests,
           sometimes a dark red ulcer
    akiec  fuzzy red patch, white follicle openings (strawberry pattern), white scale
    df     brown peripheral network ring around a central white scar-like patch
    vasc   red-to-purple lacunae separated by pale septa, sharp border

Pigment and blood act multiplicatively on the skin (absorption), so the cues are colours
relative to the skin, not absolute colours. Some lesions mimic another class: 15 % of mel
are drawn as nv and 15 % of akiec as bkl; their metadata keep their true class, so a
metadata-aware model has something to gain over an image-only one.

Metadata are correlated with the class roughly as in HAM10000: nv patients are young
(35 +- 15), bcc/akiec/mel old (65 +- 12); akiec and bkl sit on sun-exposed sites (face,
scalp), df on the legs, nv/mel on the trunk and back; mel, bcc and akiec patients are
more often male; dx_type is histo for malignant classes, mostly follow_up for nv.
Age is missing for about 1 % of lesions; sex and localization are "unknown" for a few.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import pandas as pd

from skinlight.errors import DataError

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
FIRST_IMAGE_NUMBER = 24306  # HAM10000's first image is ISIC_0024306
JPEG_QUALITY = 90

LESION_SHARE = {"akiec": 0.03, "bcc": 0.05, "bkl": 0.11, "df": 0.011, "mel": 0.11, "nv": 0.67, "vasc": 0.014}
CLASS_FLOOR = 0.04
MIN_LESIONS_PER_CLASS = 2
IMAGES_PER_LESION = {1: 0.738, 2: 0.19, 3: 0.066, 4: 0.0045, 5: 0.0008, 6: 0.0007}
MIMICS = {"mel": ("nv", 0.15), "akiec": ("bkl", 0.15)}  # class: (drawn as, fraction)

AGE = {
    "akiec": (67, 11),
    "bcc": (65, 12),
    "bkl": (57, 13),
    "df": (48, 13),
    "mel": (63, 12),
    "nv": (35, 15),
    "vasc": (50, 18),
}
MALE = {"akiec": 0.66, "bcc": 0.62, "bkl": 0.55, "df": 0.45, "mel": 0.62, "nv": 0.48, "vasc": 0.5}
SITES = {
    "akiec": {
        "face": 40,
        "scalp": 12,
        "ear": 5,
        "hand": 8,
        "upper extremity": 18,
        "lower extremity": 8,
        "neck": 4,
        "chest": 3,
        "back": 2,
    },
    "bcc": {
        "back": 30,
        "face": 22,
        "chest": 10,
        "lower extremity": 10,
        "upper extremity": 9,
        "scalp": 6,
        "neck": 5,
        "abdomen": 4,
        "trunk": 3,
        "ear": 1,
    },
    "bkl": {
        "face": 22,
        "back": 20,
        "lower extremity": 14,
        "trunk": 12,
        "chest": 10,
        "upper extremity": 9,
        "abdomen": 5,
        "scalp": 4,
        "neck": 3,
        "ear": 1,
    },
    "df": {"lower extremity": 70, "upper extremity": 20, "abdomen": 4, "foot": 3, "back": 2, "genital": 1},
    "mel": {
        "back": 32,
        "trunk": 12,
        "upper extremity": 17,
        "lower extremity": 16,
        "chest": 7,
        "face": 6,
        "abdomen": 4,
        "neck": 2,
        "foot": 2,
        "ear": 1,
        "acral": 1,
    },
    "nv": {
        "trunk": 28,
        "back": 24,
        "abdomen": 16,
        "lower extremity": 14,
        "upper extremity": 8,
        "chest": 3,
        "foot": 3,
        "face": 1,
        "genital": 1,
        "acral": 1,
        "hand": 1,
    },
    "vasc": {
        "trunk": 24,
        "lower extremity": 22,
        "abdomen": 18,
        "back": 14,
        "upper extremity": 8,
        "face": 6,
        "hand": 4,
        "chest": 4,
    },
}
DX_TYPE = {
    "akiec": {"histo": 1},
    "bcc": {"histo": 1},
    "mel": {"histo": 1},
    "bkl": {"histo": 70, "consensus": 24, "confocal": 6},
    "df": {"histo": 50, "consensus": 50},
    "vasc": {"histo": 50, "consensus": 50},
    "nv": {"follow_up": 55, "histo": 37, "consensus": 8},
}
P_AGE_MISSING, P_SEX_UNKNOWN, P_SITE_UNKNOWN = 0.01, 0.01, 0.02

_PLAN = 0  # plan_dataset's random stream; the writers draw lesions and images on other stream ids

# Absorption spectra (R, G, B): exp(-density * spectrum) multiplies the skin.
MELANIN = np.array([0.45, 0.72, 1.0], np.float32)
BLOOD = np.array([0.12, 1.0, 0.75], np.float32)
DEOXY = np.array([0.55, 1.0, 0.35], np.float32)
WHITE = np.array([0.96, 0.94, 0.92], np.float32)
BLUE_GREY = np.array([0.45, 0.52, 0.66], np.float32)
SKIN_TONES = np.array(
    [
        [0.97, 0.84, 0.82],
        [0.93, 0.75, 0.70],
        [0.87, 0.68, 0.60],
        [0.80, 0.60, 0.48],
        [0.70, 0.52, 0.40],
        [0.58, 0.42, 0.32],
    ],
    np.float32,
)
INTERNAL_HEIGHT = 240  # images are drawn at most this tall, then resized to the output size


# ----------------------------------------------------------------------------- counts / plan


def _quota(total: int, weights) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, float)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def min_lesions() -> int:
    """Smallest ``num_lesions`` that gives every class its minimum of lesions."""
    return MIN_LESIONS_PER_CLASS * len(CLASSES)


def class_counts(num_lesions: int) -> dict[str, int]:
    """Lesions per class: HAM10000 shares, each class floored at 4 % and 2 lesions."""
    if num_lesions < min_lesions():
        raise DataError(
            f"num_lesions={num_lesions} is too small: at least {min_lesions()} "
            f"are needed ({MIN_LESIONS_PER_CLASS} lesions per class)"
        )
    floor = max(MIN_LESIONS_PER_CLASS, math.ceil(CLASS_FLOOR * num_lesions))
    floored: dict[str, int] = {}
    while True:
        free = [c for c in CLASSES if c not in floored]
        counts = _quota(num_lesions - sum(floored.values()), [LESION_SHARE[c] for c in free])
        low = [c for c, n in zip(free, counts) if n < floor]
        if not low:
            counts = floored | {c: int(n) for c, n in zip(free, counts)}
            return {c: counts[c] for c in CLASSES}
        floored.update({c: floor for c in low})


def _choice(rng: np.random.Generator, table: dict[str, float]) -> str:
    keys = list(table)
    p = np.array([table[k] for k in keys], float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _sample_metadata(dx: str, rng: np.random.Generator) -> dict:
    mean, sd = AGE[dx]
    age = float(np.clip(5 * round(rng.normal(mean, sd) / 5), 0, 85))
    sex = "male" if rng.random() < MALE[dx] else "female"
    return {
        "dx_type": _choice(rng, DX_TYPE[dx]),
        "age": np.nan if rng.random() < P_AGE_MISSING else age,
        "sex": "unknown" if rng.random() < P_SEX_UNKNOWN else sex,
        "localization": "unknown" if rng.random() < P_SITE_UNKNOWN else _choice(rng, SITES[dx]),
    }


def plan_dataset(num_lesions: int, seed: int) -> pd.DataFrame:
    """One row per image: metadata columns plus ``lesion_index`` and ``style`` (how it is drawn)."""
    counts = class_counts(num_lesions)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _PLAN]))
    dx = np.repeat(CLASSES, [counts[c] for c in CLASSES])
    style = dx.copy()
    for cls, (mimic, frac) in MIMICS.items():
        idx = np.flatnonzero(dx == cls)
        style[rng.choice(idx, size=round(frac * len(idx)), replace=False)] = mimic
    order = rng.permutation(num_lesions)
    dx, style = dx[order], style[order]
    n_views = np.repeat(list(IMAGES_PER_LESION), _quota(num_lesions, list(IMAGES_PER_LESION.values())))
    n_views = rng.permutation(n_views)
    lesion_ids = [f"HAM_{i:07d}" for i in rng.permutation(num_lesions)]
    image_numbers = FIRST_IMAGE_NUMBER + rng.permutation(int(n_views.sum()))
    rows = []
    for i in range(num_lesions):
        meta = _sample_metadata(dx[i], rng)
        for _ in range(n_views[i]):
            rows.append(
                {"lesion_id": lesion_ids[i], "image_id": "", "dx": dx[i], **meta, "lesion_index": i, "style": style[i]}
            )
    plan = pd.DataFrame(rows)
    plan["image_id"] = [f"ISIC_{n:07d}" for n in image_numbers]
    return plan


# ----------------------------------------------------------------------------- lesions / views


def _waves(rng: np.random.Generator, n: int, freq: tuple[float, float]) -> dict:
    """Parameters of a smooth random field: a sum of ``n`` plane waves (cycles per radius)."""
    angle = rng.uniform(0, 2 * np.pi, n)
    f = rng.uniform(*freq, n)
    return {"k": np.stack([f * np.cos(angle), f * np.sin(angle)], 1) * 2 * np.pi, "phase": rng.uniform(0, 2 * np.pi, n)}


def _spots(rng: np.random.Generator, n: int, ring: tuple[float, float], radius: tuple[float, float]) -> np.ndarray:
    """``n`` discs (u, v, r) in lesion units, centres at radial distance within ``ring``."""
    rho = np.sqrt(rng.uniform(ring[0] ** 2, ring[1] ** 2, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), rng.uniform(*radius, n)], 1)


def _vessel_tree(rng: np.random.Generator) -> list[np.ndarray]:
    """A branching vessel (list of polylines in lesion units) entering from the border."""
    phi = rng.uniform(0, 2 * np.pi)
    start = 0.85 * np.array([np.cos(phi), np.sin(phi)])
    heading = phi + np.pi + rng.normal(0, 0.4)
    branches, stack = [], [(start, heading, 0.9, 0)]
    while stack:
        p, h, length, depth = stack.pop()
        steps = 6
        pts = [p]
        for _ in range(steps):
            h += rng.normal(0, 0.35)
            pts.append(pts[-1] + length / steps * np.array([np.cos(h), np.sin(h)]))
        branches.append(np.array(pts))
        if depth < 2:
            for side in (-1, 1):
                k = rng.integers(2, steps)
                stack.append((pts[k], h + side * rng.uniform(0.5, 1.0), length * 0.55, depth + 1))
    return branches


def sample_lesion(dx: str, rng: np.random.Generator, style: str | None = None) -> dict:
    """Fixed parameters of one lesion of class ``dx``, drawn in the manner of ``style`` (default dx)."""
    style = style or dx
    if style not in CLASSES:
        raise ValueError(f"unknown class {style!r}; expected one of {CLASSES}")
    irregular = {"mel": 0.1, "vasc": 0.06, "bkl": 0.05, "akiec": 0.06, "bcc": 0.045, "df": 0.02, "nv": 0.015}[style]
    harmonics = np.arange(2, 11)
    amp = rng.uniform(0.3, 1.0, len(harmonics)) * irregular * 2.0 / harmonics**0.8
    amp[0] = rng.uniform(0.0, 0.14)  # ellipticity
    soft = {
        "mel": (0.05, 0.12),
        "vasc": (0.03, 0.06),
        "bkl": (0.02, 0.05),
        "akiec": (0.15, 0.25),
        "bcc": (0.08, 0.14),
        "df": (0.18, 0.28),
        "nv": (0.10, 0.18),
    }[style]
    lesion = {
        "dx": dx,
        "style": style,
        "radius": rng.uniform(0.2, 0.4),  # fraction of image height
        "harmonics": harmonics,
        "amp": amp,
        "phase": rng.uniform(0, 2 * np.pi, len(harmonics)),
        "soft": rng.uniform(*soft),
        "skin": _skin_tone(rng),
        "mottle": rng.uniform(0.02, 0.08),
        "blotch": _waves(rng, 6, (0.3, 0.9)),
    }
    lesion.update(_STRUCTURES[style](rng))
    return lesion


def _skin_tone(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = min(int(t), len(SKIN_TONES) - 2)
    return (SKIN_TONES[i] * (i + 1 - t) + SKIN_TONES[i + 1] * (t - i)).astype(np.float32)


def _nv_structures(rng):
    return {
        "pigment": rng.uniform(0.9, 1.7),
        "net_period": rng.uniform(0.22, 0.32),
        "net_angle": rng.uniform(0, np.pi / 3),
        "net_contrast": rng.uniform(0.35, 0.6),
    }


def _mel_structures(rng):
    return {
        "pigment": rng.uniform(1.0, 1.6),
        "patchy": _waves(rng, 6, (0.5, 1.2)),
        "dark": np.append(_spots(rng, 1, (0.2, 0.5), (0.3, 0.45))[0], rng.uniform(1.5, 2.5)),
        "veil": np.append(_spots(rng, 1, (0.2, 0.55), (0.3, 0.5))[0], rng.uniform(0.6, 0.85)),
        "dots": _spots(rng, rng.integers(6, 14), (0.55, 1.0), (0.04, 0.08)),
        "net_period": rng.uniform(0.25, 0.4),
        "net_angle": rng.uniform(0, np.pi / 3),
        "warp": _waves(rng, 4, (0.8, 1.6)),
    }


def _bkl_structures(rng):
    return {
        "pigment": rng.uniform(0.55, 1.2),
        "fissure_period": rng.uniform(0.2, 0.28),
        "warp": _waves(rng, 6, (0.8, 1.6)),
        "milia": _spots(rng, rng.integers(4, 9), (0.0, 0.8), (0.06, 0.11)),
        "comedo": _spots(rng, rng.integers(3, 8), (0.0, 0.8), (0.05, 0.09)),
    }


def _bcc_structures(rng):
    return {
        "pale": rng.uniform(0.45, 0.7),
        "vessels": [b for _ in range(rng.integers(2, 5)) for b in _vessel_tree(rng)],
        "vessel_width": rng.uniform(0.03, 0.045),
        "nests": _spots(rng, rng.integers(2, 5), (0.2, 0.75), (0.1, 0.2)),
        "ulcer": _spots(rng, int(rng.random() < 0.5), (0.0, 0.4), (0.15, 0.25)),
    }


def _akiec_structures(rng):
    return {
        "redness": rng.uniform(0.5, 0.9),
        "follicle_period": rng.uniform(0.26, 0.34),
        "follicle_angle": rng.uniform(0, np.pi / 2),
        "jitter": _waves(rng, 4, (1.0, 2.0)),
        "scale": _waves(rng, 8, (1.0, 2.5)),
        "scale_cover": rng.uniform(0.25, 0.45),
    }


def _df_structures(rng):
    return {
        "pigment": rng.uniform(0.5, 1.0),
        "scar": _waves(rng, 4, (0.8, 1.5)),
        "scar_radius": rng.uniform(0.32, 0.48),
        "net_period": rng.uniform(0.16, 0.22),
        "net_angle": rng.uniform(0, np.pi / 3),
    }


def _vasc_structures(rng):
    n = rng.integers(5, 11)
    return {
        "lacunae": _spots(rng, n, (0.0, 0.8), (0.16, 0.3)),
        "lacuna_blood": rng.uniform(1.2, 3.0, n),
        "lacuna_deoxy": rng.uniform(0.0, 1.2, n),
    }


_STRUCTURES = {
    "nv": _nv_structures,
    "mel": _mel_structures,
    "bkl": _bkl_structures,
    "bcc": _bcc_structures,
    "akiec": _akiec_structures,
    "df": _df_structures,
    "vasc": _vasc_structures,
}


def sample_view(rng: np.random.Generator) -> dict:
    """Parameters of one photograph of a lesion: framing, lighting, dermoscope, hairs."""
    return {
        "zoom": rng.uniform(0.85, 1.2),
        "rotation": rng.uniform(0, 2 * np.pi),
        "mirror": bool(rng.random() < 0.5),
        "offset": np.clip(rng.normal(0, 0.05, 2), -0.1, 0.1),
        "gain": rng.uniform(0.72, 1.18),
        "gradient": rng.uniform(0, 0.15) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)]),
        "white_balance": rng.uniform([0.92, 0.90, 0.90], [1.06, 1.04, 1.15]),
        "skin_shift": rng.normal(0, 0.02, 3),
        "field_radius": rng.uniform(0.78, 1.0) if rng.random() < 0.55 else 1.5,
        "falloff": rng.uniform(0.1, 0.35),
        "hairs": int(1 + rng.poisson(5)) if rng.random() < 0.4 else 0,
        "blur": rng.uniform(0.0, 0.8),
        "noise": rng.uniform(0.005, 0.02),
    }


# ----------------------------------------------------------------------------- drawing


class _Frame:
    """The canvas window around a lesion, in the lesion's own coordinates (unit radius).

    Painters work on this window only; ``to_px`` maps lesion coordinates to window pixels.
    """

    def __init__(self, lesion: dict, view: dict, h: int, w: int):
        self.R = lesion["radius"] * view["zoom"] * h
        centre = np.array([w / 2, h / 2]) + view["offset"] * h
        reach = self.R * _border_table(lesion).max() * (1 + lesion["soft"]) + 2
        x0, y0 = np.clip(np.floor(centre - reach), 0, [w, h]).astype(int)
        x1, y1 = np.clip(np.ceil(centre + reach), 0, [w, h]).astype(int)
        self.window = (slice(y0, y1), slice(x0, x1))
        self.h, self.w = y1 - y0, x1 - x0
        self.c = centre - [x0, y0]
        a = view["rotation"]
        self.rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        if view["mirror"]:
            self.rot = self.rot @ np.diag([-1.0, 1.0])
        x, y = _pixel_grid(self.h, self.w)
        dx, dy = (x - self.c[0]) / self.R, (y - self.c[1]) / self.R
        inv = self.rot.T  # lesion -> pixel is rot, so pixel -> lesion is rot.T
        self.u = (inv[0, 0] * dx + inv[0, 1] * dy).astype(np.float32)
        self.v = (inv[1, 0] * dx + inv[1, 1] * dy).astype(np.float32)
        self.rho = np.hypot(self.u, self.v)
        self.d = self.rho / _border(lesion, np.arctan2(self.v, self.u))  # < 1 inside
        s = lesion["soft"]
        t = np.clip((1 + s - self.d) / (2 * s), 0, 1)
        self.alpha = t * t * (3 - 2 * t)
        step = int(np.clip(self.R // 16, 1, 4))  # smooth fields are computed on a coarser grid
        self.uc, self.vc = self.u[::step, ::step], self.v[::step, ::step]

    def to_px(self, uv: np.ndarray) -> np.ndarray:
        """Lesion coordinates (n, 2) -> window pixel coordinates (n, 2)."""
        return self.c + self.R * uv @ self.rot.T

    def field(self, waves: dict) -> np.ndarray:
        """Smooth random field, roughly in [-1, 1], attached to the lesion."""
        k, ph = waves["k"], waves["phase"]
        f = sum(np.cos(k[i, 0] * self.uc + k[i, 1] * self.vc + ph[i]) for i in range(len(ph)))
        return self._upsample(f / (2.5 * math.sqrt(len(ph) / 2)))

    def blob(self, u: float, v: float, r: float) -> np.ndarray:
        """Gaussian blob of radius ``r`` centred on (u, v)."""
        return self._upsample(np.exp(-((self.uc - u) ** 2 + (self.vc - v) ** 2) / (r * r)))

    def _upsample(self, coarse: np.ndarray) -> np.ndarray:
        if coarse.shape == (self.h, self.w):
            return coarse
        return cv2.resize(coarse, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    def hex_net(self, period: float, angle: float, warp: np.ndarray | float = 0.0) -> np.ndarray:
        """Honeycomb pigment network: 1 on the lines, 0 in the holes."""
        k = 2 * np.pi / period
        c = sum(
            np.cos(k * (np.cos(angle + i * np.pi / 3) * self.u + np.sin(angle + i * np.pi / 3) * self.v) + warp)
            for i in range(3)
        )
        return np.clip((0.2 - c) / 1.2, 0, 1)

    def discs(self, spots: np.ndarray, values=None) -> np.ndarray:
        """Soft filled discs (u, v, r); ``values`` (n, C) gives each disc its own value."""
        values = np.ones((len(spots), 1), np.float32) if values is None else values
        layer = np.zeros((self.h, self.w, values.shape[1]), np.float32)
        for (x, y), r, val in zip(self.to_px(spots[:, :2]), spots[:, 2], values):
            cv2.circle(
                layer,
                (round(x * 16), round(y * 16)),
                max(16, round(r * self.R * 16)),
                [float(c) for c in val],
                -1,
                cv2.LINE_8,
                4,
            )
        return self.soften(layer)

    def lines(self, polylines: list[np.ndarray], width: float) -> np.ndarray:
        """Soft polylines ``width`` lesion units wide."""
        layer = np.zeros((self.h, self.w), np.float32)
        pts = [np.round(self.to_px(p) * 16).astype(np.int32) for p in polylines]
        cv2.polylines(layer, pts, False, 1.0, max(1, round(width * self.R)), cv2.LINE_8, 4)
        return self.soften(layer)

    def soften(self, layer: np.ndarray) -> np.ndarray:
        out = cv2.GaussianBlur(layer, (0, 0), max(0.6, 0.02 * self.R))
        return out.reshape(layer.shape)


@functools.lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an h x w canvas (cached, read-only)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    x.flags.writeable = y.flags.writeable = False
    return x, y


def _border_table(lesion: dict) -> np.ndarray:
    """Border radius (harmonic series) at 1025 angles from -pi to pi."""
    t = np.linspace(-np.pi, np.pi, 1025)
    return (
        1 + sum(a * np.cos(k * t + p) for k, a, p in zip(lesion["harmonics"], lesion["amp"], lesion["phase"]))
    ).astype(np.float32)


def _border(lesion: dict, theta: np.ndarray) -> np.ndarray:
    """Border radius at angle ``theta``."""
    return _border_table(lesion)[np.rint((theta + np.pi) * (1024 / (2 * np.pi))).astype(np.intp)]


def _absorb(img: np.ndarray, density: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    return img * np.exp(-density[..., None] * spectrum)


def _blend(img: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    a = alpha[..., None]
    return img * (1 - a) + a * np.asarray(colour, np.float32)


def _paint_nv(img, f, L):
    density = L["pigment"] * (1 - 0.45 * f.d**2) * (1 + 0.1 * f.field(L["blotch"]))
    net = f.hex_net(L["net_period"], L["net_angle"]) * np.clip(1.3 - f.d, 0, 1)
    density = density * (1 + L["net_contrast"] * (net - 0.5))
    return _absorb(img, density * f.alpha, MELANIN)


def _paint_mel(img, f, L):
    patchy = np.clip(0.5 + f.field(L["patchy"]), 0, 1)
    density = L["pigment"] * (0.45 + 1.1 * patchy)
    warp = f.field(L["warp"])
    net = f.hex_net(L["net_period"], L["net_angle"], 2.5 * warp) * (warp > 0)
    density = density * (1 + 0.6 * net)
    du, dv, dr, dd = L["dark"]
    density = density + dd * f.blob(du, dv, dr)
    img = _absorb(img, density * f.alpha, MELANIN)
    img = _absorb(img, 2.5 * f.discs(L["dots"])[..., 0] * np.clip(f.alpha * 2, 0, 1), MELANIN)
    vu, vv, vr, va = L["veil"]
    return _blend(img, va * f.blob(vu, vv, vr) * f.alpha, BLUE_GREY)


def _paint_bkl(img, f, L):
    density = L["pigment"] * (0.85 + 0.25 * f.field(L["blotch"]))
    warped = f.u + 0.6 * f.field(L["warp"])
    fissure = np.clip(1 - np.abs(np.sin(np.pi * warped / L["fissure_period"])) / 0.6, 0, 1)
    density = density + 0.7 * fissure + 2.5 * f.discs(L["comedo"])[..., 0]
    img = _absorb(img, density * f.alpha, MELANIN)
    img = _blend(img, 0.25 * f.alpha, [0.85, 0.75, 0.45])  # waxy yellow tint
    return _blend(img, 0.9 * f.discs(L["milia"])[..., 0] * f.alpha, [0.97, 0.95, 0.82])


def _paint_bcc(img, f, L):
    img = _blend(img, L["pale"] * f.alpha * (0.85 + 0.15 * f.field(L["blotch"])), [0.98, 0.84, 0.84])
    img = _blend(img, 0.8 * f.discs(L["nests"])[..., 0] * f.alpha, BLUE_GREY * 0.7)
    img = _absorb(img, 2.2 * f.lines(L["vessels"], L["vessel_width"]) * f.alpha, BLOOD)
    return _blend(img, 0.9 * f.discs(L["ulcer"])[..., 0] * f.alpha, [0.42, 0.12, 0.1])


def _paint_akiec(img, f, L):
    img = _absorb(img, L["redness"] * f.alpha * (1 + 0.3 * f.field(L["blotch"])), BLOOD)
    k = 2 * np.pi / L["follicle_period"]
    a = L["follicle_angle"]
    jitter = 0.12 * f.field(L["jitter"])
    cu = np.cos(a) * f.u + np.sin(a) * f.v + jitter
    cv = -np.sin(a) * f.u + np.cos(a) * f.v - jitter
    follicle = np.clip((np.cos(k * cu) * np.cos(k * cv) - 0.55) / 0.3, 0, 1)
    img = _blend(img, 0.7 * follicle * f.alpha, [0.97, 0.93, 0.88])
    scale = np.clip((f.field(L["scale"]) - (0.5 - L["scale_cover"]) * 1.5) * 4, 0, 1)
    return _blend(img, 0.85 * scale * f.alpha, [0.96, 0.93, 0.84])


def _paint_df(img, f, L):
    ring = np.exp(-(((f.d - 0.72) / 0.28) ** 2))
    net = f.hex_net(L["net_period"], L["net_angle"])
    img = _absorb(img, L["pigment"] * ring * (0.7 + 0.5 * net) * f.alpha, MELANIN)
    img = _absorb(img, 0.25 * f.alpha, BLOOD)
    scar_r = L["scar_radius"] * (1 + 0.25 * f.field(L["scar"]))
    t = np.clip((scar_r - f.rho) / 0.08 + 0.5, 0, 1)
    return _blend(img, 0.85 * t * f.alpha, WHITE)


def _paint_vasc(img, f, L):
    img = _blend(img, 0.6 * f.alpha, [0.92, 0.78, 0.80])  # pale septa
    absorption = L["lacuna_blood"][:, None] * BLOOD + L["lacuna_deoxy"][:, None] * DEOXY
    layer = f.discs(L["lacunae"] * [1, 1, 0.9], absorption.astype(np.float32))
    img = img * np.exp(-layer * f.alpha[..., None])
    return _absorb(img, 0.8 * f.alpha, BLOOD)


_PAINTERS = {
    "nv": _paint_nv,
    "mel": _paint_mel,
    "bkl": _paint_bkl,
    "bcc": _paint_bcc,
    "akiec": _paint_akiec,
    "df": _paint_df,
    "vasc": _paint_vasc,
}


def _skin(lesion, view, h, w, rng) -> np.ndarray:
    """Skin with low-frequency mottling and fine grain."""
    colour = lesion["skin"] * (1 + view["skin_shift"])
    mottle = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 1.0)
    shade = 1 + lesion["mottle"] * mottle + 0.02 * grain
    return (colour * shade[..., None]).astype(np.float32)


def _hairs(img, n, rng) -> np.ndarray:
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    for _ in range(n):
        p0 = rng.uniform([0, 0], [w, h])
        heading = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.0) * h
        p2 = p0 + length * np.array([np.cos(heading), np.sin(heading)])
        p1 = (p0 + p2) / 2 + rng.normal(0, 0.15 * length, 2)
        t = np.linspace(0, 1, 24)[:, None]
        curve = (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2
        thickness = 1 + int(rng.random() < 0.3) + int(h > 400)
        cv2.polylines(layer, [np.round(curve * 16).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA, 4)
    return _blend(img, 0.85 * cv2.GaussianBlur(layer, (0, 0), 0.5), [0.12, 0.08, 0.06])


@functools.lru_cache(maxsize=8)
def _optical_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y in half-heights from the centre and r, the distance (1 at the corners)."""
    x, y = _pixel_grid(h, w)
    x, y = (x - w / 2) / (h / 2), (y - h / 2) / (h / 2)
    r = np.hypot(x, y) / math.hypot(w / h, 1)
    for a in (x, y, r):
        a.flags.writeable = False
    return x, y, r


def _dermoscope(img, view, rng):
    """Lighting, white balance, vignette, blur, noise; returns the image and the visible field."""
    x, y, r = _optical_grid(*img.shape[:2])
    gx, gy = view["gradient"]
    light = view["gain"] * (1 + gx * x + gy * y - view["falloff"] * r * r)
    field = np.clip((view["field_radius"] - r) * 25 + 0.5, 0, 1)
    img = img * (light * field)[..., None]
    img *= view["white_balance"].astype(np.float32)
    if view["blur"] > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), view["blur"])
    img += view["noise"] * rng.standard_normal(img.shape[:2], np.float32)[..., None]
    return img, field


def draw_lesion_image(
    lesion: dict, view: dict, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one dermoscopy image of ``lesion`` seen as ``view``.

    ``size`` is (width, height). Returns (RGB uint8 HxWx3, lesion mask uint8 HxW in {0, 255}).
    Drawing happens at most ``INTERNAL_HEIGHT`` pixels tall and is resized to ``size``.
    """
    width, height = size
    scale = min(1.0, INTERNAL_HEIGHT / height)
    h, w = max(8, round(height * scale)), max(8, round(width * scale))
    frame = _Frame(lesion, view, h, w)
    img = _skin(lesion, view, h, w, rng)
    img[frame.window] = _PAINTERS[lesion["style"]](img[frame.window], frame, lesion)
    if view["hairs"]:
        img = _hairs(img, view["hairs"], rng)
    img, field = _dermoscope(img, view, rng)
    visible = np.zeros((h, w), np.float32)
    visible[frame.window] = frame.alpha * field[frame.window]
    rgb = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if (h, w) != (height, width):
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
        visible = cv2.resize(visible, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = np.where(visible > 0.5, 255, 0).astype(np.uint8)
    return rgb, mask

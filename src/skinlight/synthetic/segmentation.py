"""Synthetic copies of the ISIC 2018 Task 1 and PH2 layouts, drawn by ``skinlight.synthetic.draw``.

``generate_isic2018(root)`` writes::

    root/ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_xxxxxxx.jpg        RGB JPEG q90
    root/ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_xxxxxxx_segmentation.png   0/255

with HAM10000's class mix of lesions, one image per lesion. ``generate_ph2(root)`` writes::

    root/PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp    24-bit, 768x560
    root/PH2 Dataset images/IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp        1-bit (the first case 24-bit 0/255,
                                                                          as one is in the real download)
    root/PH2_dataset.txt (or PH2_dataset.xlsx)                           the diagnoses, PH2's 2:2:1 shares of
                                                                          common nevus, atypical nevus, melanoma

Atypical nevi and melanomas are drawn with melanoma-like structures, common nevi as nevi. Both
writers are deterministic in ``seed`` whatever the number of worker processes.

CLI: ``skinlight-synthetic --layout isic2018|ph2 --out DIR [...]``.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from skinlight.data.layouts.files import MASK_SUFFIX
from skinlight.data.layouts.isic2018 import ISIC2018_INPUT, ISIC2018_SPLITS, ISIC2018_TRUTH
from skinlight.data.layouts.ph2 import PH2_CLASSES, PH2_IMAGES
from skinlight.errors import DataError
from skinlight.synthetic.draw import CLASSES, JPEG_QUALITY, LESION_SHARE, draw_lesion_image, sample_lesion, sample_view

PH2_SIZE = (768, 560)
PH2_STYLE = ("nv", "mel", "mel")  # common nevus, atypical nevus, melanoma (PH2_CLASSES order)
PH2_SHARE = (0.4, 0.4, 0.2)
_ISIC_STREAM, _PH2_STREAM = 10, 11


def _draw(task: tuple) -> None:
    """Draw one lesion image and write it and its mask (runs in a worker process)."""
    style, seed, size, image_path, mask_path, mask_mode = task
    rng = np.random.default_rng(seed)
    rgb, mask = draw_lesion_image(sample_lesion(style, rng), sample_view(rng), size, rng)
    Image.fromarray(rgb).save(image_path, **({"quality": JPEG_QUALITY} if image_path.suffix == ".jpg" else {}))
    Image.fromarray(mask).convert(mask_mode, dither=Image.Dither.NONE).save(mask_path)


def _draw_all(tasks: list[tuple], workers: int) -> None:
    if workers > 1:
        with mp.get_context("spawn").Pool(workers, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            for _ in pool.imap_unordered(_draw, tasks, chunksize=8):
                pass
    else:
        for task in tasks:
            _draw(task)


def _check_empty(root: Path) -> None:
    if root.exists() and any(root.iterdir()):
        raise DataError(f"{root} is not empty; choose an empty or new directory")


def generate_isic2018(
    root,
    num_images: tuple[int, int, int] = (400, 50, 100),
    seed: int = 0,
    image_size: tuple[int, int] = (600, 450),
    workers: int = 2,
) -> dict[str, int]:
    """Write an ISIC 2018 Task 1 layout with (train, val, test) images; return the counts per split."""

    root = Path(root)
    _check_empty(root)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _ISIC_STREAM]))
    share = np.array([LESION_SHARE[c] for c in CLASSES])
    tasks, number = [], 0
    for split, n in zip(ISIC2018_SPLITS.values(), num_images):
        images, truth = root / ISIC2018_INPUT.format(split), root / ISIC2018_TRUTH.format(split)
        images.mkdir(parents=True)
        truth.mkdir(parents=True)
        for dx in rng.choice(CLASSES, size=n, p=share / share.sum()):
            image_id = f"ISIC_{number:07d}"
            tasks.append(
                (
                    dx,
                    [seed, _ISIC_STREAM, number],
                    tuple(image_size),
                    images / f"{image_id}.jpg",
                    truth / f"{image_id}{MASK_SUFFIX}",
                    "L",
                )
            )
            number += 1
    _draw_all(tasks, workers)
    return dict(zip(ISIC2018_SPLITS, num_images))


def _write_ph2_txt(path: Path, cases: list[str], diagnoses: list[int]) -> None:
    rows = [f"|| {c} || {'Melanoma' if d == 2 else ''} || {d} ||" for c, d in zip(cases, diagnoses)]
    legend = ["", "Clinical Diagnosis:", "\t0 - Common Nevus", "\t1 - Atypical Nevus", "\t2 - Melanoma"]
    path.write_text("\n".join(["|| Name || Histological Diagnosis || Clinical Diagnosis ||", *rows, *legend]) + "\n")


def _write_ph2_xlsx(path: Path, cases: list[str], diagnoses: list[int]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for _ in range(12):  # the real file has its legend above the table, which starts at row 13
        sheet.append([None])
    sheet.append(["Image Name", "Histological Diagnosis", "Common Nevus", "Atypical Nevus", "Melanoma"])
    for case, d in zip(cases, diagnoses):
        sheet.append([case, "Melanoma" if d == 2 else None, *("X" if k == d else None for k in range(3))])
    book.save(path)


def generate_ph2(root, num_cases: int = 200, seed: int = 0, table: str = "txt", workers: int = 2) -> list[int]:
    """Write a PH2 layout with `num_cases` cases (at least 15); return their diagnoses (PH2_CLASSES index)."""

    root = Path(root)
    if num_cases < 15:
        raise DataError(f"num_cases={num_cases}: at least 15 are needed (3 melanomas: one per split)")
    if table not in ("txt", "xlsx"):
        raise DataError(f"table={table!r}: use txt or xlsx")
    _check_empty(root)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _PH2_STREAM]))
    counts = np.round(num_cases * np.array(PH2_SHARE)).astype(int)
    counts[0] += num_cases - counts.sum()
    diagnoses = rng.permutation(np.repeat(np.arange(len(PH2_CLASSES)), counts)).tolist()
    cases = [f"IMD{i:03d}" for i in range(1, num_cases + 1)]
    tasks = []
    for i, (case, d) in enumerate(zip(cases, diagnoses)):
        folder = root / PH2_IMAGES / case
        for sub in ("_Dermoscopic_Image", "_lesion"):
            (folder / f"{case}{sub}").mkdir(parents=True)
        tasks.append(
            (
                PH2_STYLE[d],
                [seed, _PH2_STREAM, i],
                PH2_SIZE,
                folder / f"{case}_Dermoscopic_Image" / f"{case}.bmp",
                folder / f"{case}_lesion" / f"{case}_lesion.bmp",
                "RGB" if i == 0 else "1",
            )
        )
    _draw_all(tasks, workers)
    (_write_ph2_txt if table == "txt" else _write_ph2_xlsx)(root / f"PH2_dataset.{table}", cases, diagnoses)
    return diagnoses

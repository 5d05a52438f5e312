"""Reader of the PH2 download layout (200 dermoscopic images with lesion masks):

    root/PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp
    root/PH2 Dataset images/IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp        (1-bit or 24-bit BMP)
    root/PH2_dataset.txt or root/PH2_dataset.xlsx                          (the diagnoses)

One row per case found on disk: image_id = lesion_id = IMDxxx, label (common nevus, atypical nevus,
melanoma), path, mask_path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from skinlight.data.layouts.files import existing_root, folder, show
from skinlight.data.layouts.images import check_images
from skinlight.errors import DataError

log = logging.getLogger(__name__)
PH2_IMAGES = "PH2 Dataset images"
PH2_CLASSES = ("common_nevus", "atypical_nevus", "melanoma")
PH2_XLSX_COLUMNS = ("Common Nevus", "Atypical Nevus", "Melanoma")  # marked "X", in PH2_CLASSES order


def _read_ph2_txt(path: Path) -> dict[str, int]:
    """PH2_dataset.txt: `|| IMDxxx || histology || clinical diagnosis (0/1/2) || ...` rows."""
    diagnoses = {}
    for line_no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = [f.strip() for f in line.split("||")]
        if len(fields) < 4 or not fields[1].startswith("IMD"):
            continue
        if fields[3] not in ("0", "1", "2"):
            raise DataError(f"{path} line {line_no}: clinical diagnosis {fields[3]!r} of {fields[1]} is not 0, 1 or 2")
        diagnoses[fields[1]] = int(fields[3])
    return diagnoses


def _read_ph2_xlsx(path: Path) -> dict[str, int]:
    """PH2_dataset.xlsx: a header row with "Image Name" (row 13), one "X" among the three diagnoses."""
    from openpyxl import load_workbook

    rows = load_workbook(path, read_only=True, data_only=True).active.iter_rows(values_only=True)
    for header in rows:
        if header and header[0] == "Image Name":
            break
    else:
        raise DataError(f"{path}: no header row starting with 'Image Name'")
    missing = [c for c in PH2_XLSX_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {show(missing)} in the 'Image Name' row")
    columns = [header.index(c) for c in PH2_XLSX_COLUMNS]
    diagnoses = {}
    for row in rows:
        if row and isinstance(row[0], str) and row[0].startswith("IMD"):
            marked = [k for k, c in enumerate(columns) if str(row[c] or "").strip().upper() == "X"]
            if len(marked) != 1:
                raise DataError(f"{path}: {row[0]} must have one 'X' among {PH2_XLSX_COLUMNS}, found {len(marked)}")
            diagnoses[row[0]] = marked[0]
    return diagnoses


def read_ph2(root: str | os.PathLike) -> pd.DataFrame:
    """PH2 cases found on disk, labelled from PH2_dataset.txt (or .xlsx); each case is its own lesion."""
    root = existing_root(root)
    table_file = next(
        (root / f"PH2_dataset.{ext}" for ext in ("txt", "xlsx") if (root / f"PH2_dataset.{ext}").is_file()), None
    )
    if table_file is None:
        raise DataError(f"neither {root / 'PH2_dataset.txt'} nor {root / 'PH2_dataset.xlsx'} found (the diagnoses)")
    diagnoses = _read_ph2_txt(table_file) if table_file.suffix == ".txt" else _read_ph2_xlsx(table_file)
    cases = sorted(p.name for p in folder(root, PH2_IMAGES).iterdir() if p.is_dir())
    if not cases:
        raise DataError(f"no case folders (IMDxxx) in {root / PH2_IMAGES}")
    undiagnosed = [c for c in cases if c not in diagnoses]
    if undiagnosed:
        raise DataError(f"{table_file} has no diagnosis for case folder(s) {show(undiagnosed)}")
    if len(cases) < len(diagnoses):
        log.info("PH2: %d of the %d cases in %s are on disk", len(cases), len(diagnoses), table_file.name)
    images = root / PH2_IMAGES
    table = pd.DataFrame(
        {
            "image_id": cases,
            "lesion_id": cases,
            "label": [diagnoses[c] for c in cases],
            "path": [images / c / f"{c}_Dermoscopic_Image" / f"{c}.bmp" for c in cases],
            "mask_path": [images / c / f"{c}_lesion" / f"{c}_lesion.bmp" for c in cases],
        }
    )
    absent = [str(p) for p in table["path"] if not p.is_file()]
    if absent:
        raise DataError(f"{len(absent)} dermoscopic image(s) missing: {show(absent)}")
    check_images(table["path"])
    return table

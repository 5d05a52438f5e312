"""The bad-input matrix: the real CLIs (train.py, eval.py, predict.py, predict_masks.py) on synthetic copies of every
layout the project reads, one fault injected per row of FAULTS.

A row either runs to the end (its text says by which rule the input is fine, and nothing is dropped: every image
is in the run's split.csv or output) or stops with exit code 2 and one `error:` line matching its pattern (the
file, row or key), never a traceback. Adding a fault is one row: (target, name, fault, expected[, overrides]).
A fault edits the copy in place and may return another data root (e.g. a file, or a path with spaces).
"""

from __future__ import annotations

import collections
import importlib.util
import io
import logging
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import lightning.pytorch  # noqa: F401  imported here, its log handler writes to the session's stderr, not a test's
import numpy as np
import pandas as pd
import pytest
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from skinlight.synthetic.bcn20000 import generate_bcn20000
from skinlight.synthetic.derm7pt import generate_derm7pt
from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3
from skinlight.synthetic.isic2019 import generate_isic2019
from skinlight.synthetic.isic2020 import generate_isic2020
from skinlight.synthetic.isic_binary import generate_isic_binary
from skinlight.synthetic.pad_ufes20 import generate_pad_ufes20
from skinlight.synthetic.segmentation import generate_isic2018, generate_ph2

ROOT = Path(__file__).resolve().parents[1]
RUNS = "runs: "  # an expectation that starts so is a rule under which the input is fine
CLASSIFIER = [
    "backbone=timm_test",
    "data.image_size=32",
    "data.batch_size=16",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
]
SEGMENTER = [
    "model=unet",
    "model.net.encoder_name=resnet18",
    "model.net.pretrained=false",
    "data.image_size=32",
    "data.batch_size=8",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.max_epochs=1",  # one whole epoch: every mask is decoded (values are checked when read)
    "callbacks.progress_bar=null",
]
TASK3_META = "data.metadata_csv=ISIC2018_Task3_Test_Metadata.csv"


# ----------------------------------------------------------------------------- running a CLI in this process


def run_cli(script: str, args: list[str], capsys) -> tuple[int, str]:
    """`python <script> <args>` as the shell runs it (module loaded as __main__): its exit code and stderr."""
    spec = importlib.util.spec_from_file_location("__main__", ROOT / script)
    GlobalHydra.instance().clear()
    argv, sys.argv = sys.argv, [script, *args]
    capsys.readouterr()
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))  # runs main() as `python <script>` does
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
        for handler in logging.root.handlers[:]:  # Hydra's console and file handlers of this run
            logging.root.removeHandler(handler)
            handler.close()
    return code, capsys.readouterr().err


def quoted(key: str, value) -> str:
    return f"{key}='{value}'"  # paths with spaces and non-ASCII characters need Hydra's quotes, as on a shell


# ----------------------------------------------------------------------------- the targets: a layout and its CLI


@dataclass
class Target:
    """A layout, how it is made, and the CLI that reads it (args from the data root, the checkpoints, the run dir)."""

    script: str
    make: object  # root -> None
    args: object  # (root, ckpt, run_dir) -> list[str]
    produced: object  # (root, run_dir) -> (items the input holds, items the run wrote)
    needs: str = ""  # the checkpoint it uses: classifier or segmenter


def _trained_count(root: Path, run: Path, count) -> tuple[int, int]:
    return count(root), len(pd.read_csv(run / "split.csv"))


def _ham_rows(root: Path) -> int:
    return len(pd.read_csv(root / "HAM10000_metadata.csv", dtype=str, encoding="utf-8-sig"))


def _files(pattern: str):
    return lambda root: len([p for p in root.glob(pattern) if not p.name.startswith(".")])


def _csv_rows(pattern: str):
    return lambda root: len(pd.read_csv(sorted(root.glob(pattern))[0], dtype=str, encoding="utf-8-sig"))


def _source(name: str, csv: str, make, *overrides: str) -> Target:
    """train.py data=<name> (skinlight.data.sources) with the class overrides its data needs; `csv` lists the images."""
    return Target(
        "train.py",
        make,
        lambda root, ckpt, run: [
            f"data={name}",
            quoted("data.root", root),
            *CLASSIFIER,
            "trainer.fast_dev_run=true",
            *overrides,
        ],
        lambda root, run: _trained_count(root, run, _csv_rows(csv)),
    )


def _predict_input(root: Path) -> None:
    """A folder of images and input.csv (image, age, sex, localization) for a metadata model."""
    generate_ham10000(root / "src", num_lesions=14, seed=5, image_size=(48, 36), workers=1)
    images = sorted((root / "src").glob("*/*.jpg"))[:6]
    (root / "images").mkdir()
    for p in images:
        shutil.move(p, root / "images" / p.name)
    shutil.rmtree(root / "src")
    pd.DataFrame(
        {
            "image": [f"images/{p.name}" for p in images],
            "age": [35, 60, 45, 70, 50, 25],
            "sex": ["male", "female"] * 3,
            "localization": ["back", "face", "trunk", "scalp", "lower extremity", "abdomen"],
        }
    ).to_csv(root / "input.csv", index=False)


TARGETS = {
    "ham10000": Target(
        "train.py",
        lambda root: generate_ham10000(root, num_lesions=80, seed=0, image_size=(60, 45), workers=1),
        lambda root, ckpt, run: ["data=ham10000", quoted("data.root", root), *CLASSIFIER, "trainer.fast_dev_run=true"],
        lambda root, run: _trained_count(root, run, _ham_rows),
    ),
    "isic_binary": Target(
        "train.py",
        lambda root: generate_isic_binary(root, num_train=12, num_test=4, seed=0, image_size=(32, 32)),
        lambda root, ckpt, run: [
            "data=isic_binary",
            quoted("data.root", root),
            *CLASSIFIER,
            "trainer.fast_dev_run=true",
        ],
        lambda root, run: _trained_count(root, run, _files("*/*/*")),
    ),
    "isic2018": Target(
        "train.py",
        lambda root: generate_isic2018(root, (6, 2, 2), seed=0, image_size=(40, 30), workers=1),
        lambda root, ckpt, run: ["data=isic2018", quoted("data.root", root), *SEGMENTER],
        lambda root, run: _trained_count(root, run, _files("*_Input/*")),
    ),
    "ph2": Target(
        "train.py",
        lambda root: generate_ph2(root, num_cases=15, seed=0, workers=1),
        lambda root, ckpt, run: ["data=ph2", quoted("data.root", root), *SEGMENTER],
        lambda root, run: _trained_count(root, run, _files("PH2 Dataset images/*")),
    ),
    "isic2018_task3": Target(
        "eval.py",
        lambda root: generate_isic2018_task3(root, (14, 14), seed=0, image_size=(40, 30)),
        lambda root, ckpt, run: [
            quoted("ckpt_path", ckpt),
            "data=isic2018_task3",
            quoted("data.root", root),
            TASK3_META,
            "data.num_workers=0",
            "device=cpu",
        ],
        lambda root, run: (_files("ISIC2018_Task3_Test_Input/*.jpg")(root), len(pd.read_csv(run / "predictions.csv"))),
        needs="classifier",
    ),
    "isic2019": _source(
        "isic2019",
        "ISIC_2019_Training_GroundTruth.csv",
        lambda root: generate_isic2019(root, num_lesions=75, seed=0, image_size=(48, 36)),
        "data.drop=[scc]",
    ),
    "isic2020": _source(
        "isic2020",
        "train.csv",
        lambda root: generate_isic2020(root, num_lesions=75, seed=0, image_size=(48, 36)),
        "data.classes=[bkl,mel,nv]",
        "data.drop=[unknown]",
    ),
    "bcn20000": _source(
        "bcn20000",
        "*metadata*.csv",
        lambda root: generate_bcn20000(root, num_lesions=75, seed=0, image_size=(48, 36)),
        "data.drop=[scc]",
    ),
    "derm7pt": _source(
        "derm7pt",
        "meta/meta.csv",
        lambda root: generate_derm7pt(root, num_lesions=40, seed=0, image_size=(48, 36)),
        "data.drop=[unknown]",
    ),
    "pad_ufes20": _source(
        "pad_ufes20",
        "metadata.csv",
        lambda root: generate_pad_ufes20(root, num_lesions=60, seed=0, image_size=(48, 36)),
        "data.merge={scc: akiec}",
    ),
    "predict": Target(
        "predict.py",
        _predict_input,
        lambda root, ckpt, run: [
            quoted("ckpt_path", ckpt),
            quoted("input", root / "input.csv"),
            quoted("output", run / "predictions.csv"),
            "device=cpu",
        ],
        lambda root, run: (_files("images/*")(root), len(pd.read_csv(run / "predictions.csv"))),
        needs="classifier",
    ),
    "predict_masks": Target(
        "predict_masks.py",
        lambda root: generate_isic2018(root, (3, 1, 1), seed=1, image_size=(40, 30), workers=1),
        lambda root, ckpt, run: [
            quoted("ckpt_path", ckpt),
            quoted("input", root / "ISIC2018_Task1-2_Training_Input"),
            quoted("output", run / "masks"),
            "device=cpu",
        ],
        lambda root, run: (_files("ISIC2018_Task1-2_Training_Input/*")(root), len(list((run / "masks").iterdir()))),
        needs="segmenter",
    ),
}


# ----------------------------------------------------------------------------- faults


def first(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


def remove(pattern: str):
    def fault(root):
        path = first(root, pattern)
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return fault


def write(pattern: str, content):
    """Replace the first file matching `pattern` by content(path) (bytes)."""

    def fault(root):
        path = first(root, pattern)
        path.write_bytes(content(path))

    return fault


def add(relative: str, content: bytes = b"x"):
    def fault(root):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)

    return fault


def encoded(path: Path, fmt: str, convert=lambda image: image) -> bytes:
    with Image.open(path) as image:
        out = io.BytesIO()
        convert(image.convert("RGB") if fmt != "BMP" or image.mode != "1" else image).save(out, format=fmt)
    return out.getvalue()


def truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


def as_png(path: Path) -> bytes:
    return encoded(path, "PNG")


def float_tiff(path: Path) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ones((30, 40), np.float32)).save(out, format="TIFF")
    return out.getvalue()


def mask_as(fmt: str, change):
    """A mask re-encoded in `fmt` after change(array of 0/255)."""

    def content(path: Path) -> bytes:
        with Image.open(path) as image:
            array = (np.asarray(image.convert("L")) > 0).astype(np.uint8) * 255
        out = io.BytesIO()
        Image.fromarray(change(array)).save(out, format=fmt)
        return out.getvalue()

    return content


def wider(array):
    return np.pad(array, ((0, 0), (0, 3)))


def grey_values(array):
    return (array // 255 * 128).astype(np.uint8)


def coloured(array):
    rgb = np.repeat(array[..., None], 3, axis=2)
    rgb[..., 1] = 0
    return rgb


def csv_edit(name: str, edit):
    """Rewrite the CSV `name` (a glob) after edit(table of text cells)."""

    def fault(root):
        path = first(root, name)
        edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)

    return fault


def cell(column: str, value, row: int = 0):
    def edit(df):
        df.loc[row, column] = value
        return df

    return edit


def csv_bytes(name: str, edit):
    def fault(root):
        path = first(root, name)
        path.write_bytes(edit(path.read_bytes()))

    return fault


def moved_to(name: str):
    """The whole dataset moved into a folder `name` (spaces, non-ASCII), which is then the data root."""

    def fault(root):
        target = root.parent / name
        shutil.move(root, target)
        return target

    return fault


def remove_all(pattern: str):
    def fault(root):
        for path in root.glob(pattern):
            path.unlink()

    return fault


def root_is_a_file(root):
    shutil.rmtree(root)
    root.write_text("not a folder\n")


def emptied(root):
    shutil.rmtree(root)
    root.mkdir()


def too_few(column: str, label: str, keep: int):
    """Keep `keep` lesions of class `label` (HAM10000 CSV)."""

    def edit(df):
        lesions = df.loc[df[column] == label, "lesion_id"].unique()
        return df[~df["lesion_id"].isin(lesions[keep:])]

    return edit


def two_diagnoses(df):
    lesion = df["lesion_id"].value_counts().index[0]  # a lesion with several images
    rows = df.index[df["lesion_id"] == lesion]
    df.loc[rows[1], "dx"] = "mel" if df.loc[rows[0], "dx"] != "mel" else "nv"
    return df


def keep_one_malignant(root):
    for p in sorted((root / "train" / "malignant").iterdir())[1:]:
        p.unlink()


def one_hot_twice(df):
    df.loc[0, ["MEL", "NV"]] = "1.0"
    return df


HAM_CSV = "HAM10000_metadata.csv"
HAM_IMAGE = "HAM10000_images_part_1/*.jpg"
GESSERT = ["meta=gessert", "data.use_metadata=true"]
T1_IMAGE, T1_MASK = "ISIC2018_Task1-2_Training_Input/*.jpg", "ISIC2018_Task1_Training_GroundTruth/*.png"
PH2_IMAGE, PH2_MASK = "PH2 Dataset images/*/*_Dermoscopic_Image/*.bmp", "PH2 Dataset images/*/*_lesion/*.bmp"
T3_GT, T3_META = "ISIC2018_Task3_Validation_GroundTruth/*.csv", "ISIC2018_Task3_Test_Metadata.csv"
T3_IMAGE = "ISIC2018_Task3_Test_Input/*.jpg"
BIN_IMAGE = "train/benign/*.jpg"
SEG_IMAGE = "ISIC2018_Task1-2_Training_Input/*.jpg"
TRUTH = ["truth=input/ISIC2018_Task1_Training_GroundTruth"]  # relative to the test's folder, the working directory


I19_GT, I19_META = "ISIC_2019_Training_GroundTruth.csv", "ISIC_2019_Training_Metadata.csv"
I19_IMAGE = "ISIC_2019_Training_Input/*.jpg"
I20_CSV, I20_IMAGE = "train.csv", "jpeg/train/*.jpg"
BCN_CSV, BCN_IMAGE = "metadata.csv", "ISIC-images/*.jpg"
NOT_UTF8 = lambda b: b.replace(b"male", b"m\xe4le", 1)  # noqa: E731
DERM_CSV, DERM_IMAGE, DERM_TEST = "meta/meta.csv", "images/*/*.jpg", "meta/test_indexes.csv"  # *.jpg: derm, not clinic
PAD_CSV, PAD_IMAGE = "metadata.csv", "images/imgs_part_1/*.png"


def derm7pt_case_twice(root):
    """The first case of train_indexes.csv also in test_indexes.csv (in place of the first test case)."""
    train = pd.read_csv(root / "meta" / "train_indexes.csv", dtype=str)
    csv_edit(DERM_TEST, cell("indexes", train.at[0, "indexes"]))(root)


def pad_nested_parts(root):
    """imgs_part_1/ unpacked into imgs_part_1/imgs_part_1/, as its zip does."""
    part = root / "images" / "imgs_part_1"
    part.rename(root / "images" / "unpacked")
    part.mkdir()
    (root / "images" / "unpacked").rename(part / "imgs_part_1")


def pad_lesion_of_two_patients(df):
    lesion = df["lesion_id"].value_counts().index[0]  # a lesion with several images
    df.loc[df.index[df["lesion_id"] == lesion][1], "patient_id"] = "PAT_0"
    return df


def pad_diagnostic(value: str):
    """Every image of the first row's lesion diagnosed `value`."""
    return lambda df: df.assign(diagnostic=df["diagnostic"].where(df["lesion_id"] != df.at[0, "lesion_id"], value))


def flip_benign_malignant(df):
    df.loc[0, "benign_malignant"] = "malignant" if df.loc[0, "benign_malignant"] == "benign" else "benign"
    return df


def isic_site_folders(root):
    """ISIC 2020's images where the ISIC site's zip puts them."""
    (root / "ISIC_2020_Training_JPEG").mkdir()
    shutil.move(root / "jpeg" / "train", root / "ISIC_2020_Training_JPEG" / "train")


def two_bcn_csvs(root):
    (root / BCN_CSV).rename(root / "bcn20000_metadata_2023-08-28.csv")
    shutil.copy(root / "bcn20000_metadata_2023-08-28.csv", root / "bcn20000_metadata_2024-01-01.csv")


def no_diagnosis_at_all(df):
    df.loc[0, ["diagnosis_1", "diagnosis_2", "diagnosis_3"]] = ""
    return df


def crlf_bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")


@dataclass
class Fault:
    target: str
    name: str
    fault: object  # root -> None or another data root
    expected: str  # RUNS + the rule, or a regex of the error line
    overrides: list = field(default_factory=list)


# fmt: off
FAULTS = [
    # --- HAM10000 (train.py data=ham10000)
    Fault("ham10000", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("ham10000", "image missing", remove(HAM_IMAGE), r"1 image\(s\) listed in .*HAM10000_metadata.csv not found .*line \d+ \(ISIC_0024306\)"),
    Fault("ham10000", "image empty", write(HAM_IMAGE, lambda p: b""), r"ISIC_0024306.jpg \(empty file\)"),
    Fault("ham10000", "image truncated", write(HAM_IMAGE, truncated), r"ISIC_0024306.jpg \(truncated JPEG"),
    Fault("ham10000", "PNG bytes under .jpg", write(HAM_IMAGE, as_png), RUNS + "the format is read from the bytes, not the name"),
    Fault("ham10000", "greyscale JPEG", write(HAM_IMAGE, lambda p: encoded(p, "JPEG", lambda i: i.convert("L"))), RUNS + "grey is replicated to RGB"),
    Fault("ham10000", "float TIFF under .jpg", write(HAM_IMAGE, float_tiff), r"ISIC_0024306.jpg \(unsupported mode 'F'"),
    Fault("ham10000", "text under .jpg", write(HAM_IMAGE, lambda p: b"hello\n"), r"ISIC_0024306.jpg \(not an image"),
    Fault("ham10000", "dx column missing", csv_edit(HAM_CSV, lambda df: df.drop(columns="dx")), r"HAM10000_metadata.csv: missing column\(s\) dx"),
    Fault("ham10000", "image_id renamed", csv_edit(HAM_CSV, lambda df: df.rename(columns={"image_id": "image"})), r"missing column\(s\) image_id; found lesion_id, image, dx"),
    Fault("ham10000", "extra column", csv_edit(HAM_CSV, lambda df: df.assign(notes="x")), RUNS + "columns the readers do not use are ignored"),
    Fault("ham10000", "age column missing (gessert)", csv_edit(HAM_CSV, lambda df: df.drop(columns="age")), r"HAM10000_metadata.csv has no age column.*data.use_metadata=false meta=none", GESSERT),
    Fault("ham10000", "age not a number (gessert)", csv_edit(HAM_CSV, cell("age", "forty")), r"HAM10000_metadata.csv: age must be a number .*ISIC_\d+: 'forty'", GESSERT),
    Fault("ham10000", "age not a number (image only)", csv_edit(HAM_CSV, cell("age", "forty")), r"age must be a number .*'forty'"),
    Fault("ham10000", "age negative", csv_edit(HAM_CSV, cell("age", "-5")), r"age must be a number of years in 0..120 .*'-5'", GESSERT),
    Fault("ham10000", "age out of range", csv_edit(HAM_CSV, cell("age", "250")), r"age must be a number of years in 0..120 .*'250'", GESSERT),
    Fault("ham10000", "age, sex and site blank", csv_edit(HAM_CSV, lambda df: cell("localization", "")(cell("sex", "")(cell("age", "")(df)))), RUNS + "a blank age is the train mean, flagged; a blank sex or site is 'unknown'", GESSERT),
    Fault("ham10000", "sex outside the vocabulary", csv_edit(HAM_CSV, cell("sex", "x")), r"sex value\(s\) \['x'\] are outside data.meta_sexes"),
    Fault("ham10000", "dx blank", csv_edit(HAM_CSV, cell("dx", "", 3)), r"HAM10000_metadata.csv: blank dx on line 5"),
    Fault("ham10000", "lesion_id blank", csv_edit(HAM_CSV, cell("lesion_id", "", 2)), r"blank lesion_id on line 4"),
    Fault("ham10000", "dx unknown", csv_edit(HAM_CSV, cell("dx", "melanoma")), r"unknown dx label\(s\).*line 2 \(ISIC_\d+: 'melanoma'\)"),
    Fault("ham10000", "image_id twice", csv_edit(HAM_CSV, lambda df: pd.concat([df, df.iloc[:1]])), r"image_id listed more than once: ISIC_"),
    Fault("ham10000", "header only", csv_bytes(HAM_CSV, lambda b: b.splitlines(keepends=True)[0]), r"HAM10000_metadata.csv has a header but no rows"),
    Fault("ham10000", "empty CSV", csv_bytes(HAM_CSV, lambda b: b""), r"HAM10000_metadata.csv is empty"),
    Fault("ham10000", "Windows line endings and a BOM", csv_bytes(HAM_CSV, crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("ham10000", "not UTF-8", csv_bytes(HAM_CSV, lambda b: b.replace(b"back", b"b\xe4ck", 1)), r"HAM10000_metadata.csv is not UTF-8 text"),
    Fault("ham10000", "class too small for the split", csv_edit(HAM_CSV, too_few("dx", "df", 1)), r"class 'df' has 1 lesion\(s\): too few for a test split"),
    Fault("ham10000", "lesion with two diagnoses", csv_edit(HAM_CSV, two_diagnoses), r"HAM10000_metadata.csv: a lesion has one diagnosis.*HAM_\d+: .* on lines \d+, \d+"),
    Fault("ham10000", "path with spaces and non-ASCII", moved_to("my data ünïcode"), RUNS + "paths are used as given"),
    Fault("ham10000", "data.root is a file", root_is_a_file, r"data.root does not exist or is not a folder"),
    Fault("ham10000", "data.root empty", emptied, r"metadata CSV not found: .*HAM10000_metadata.csv \(the folder holds: nothing\)"),
    # --- the benign/malignant folders (train.py data=isic_binary)
    Fault("isic_binary", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("isic_binary", "test folder missing", remove("test"), r"folder missing: .*/test \(expected .*/\{train,test\}/\{benign,malignant\}/\*.jpg\)"),
    Fault("isic_binary", "class folder missing", remove("train/malignant"), r"folder missing: .*train/malignant"),
    Fault("isic_binary", "class folder empty", remove_all("test/benign/*"), r"empty class folder: .*test/benign"),
    Fault("isic_binary", "stray folder", add("train/other/1.jpg"), r"unexpected entry in .*train: .*other; only the class folders"),
    Fault("isic_binary", "not an image file", add("train/benign/notes.txt"), r"not an image file .*notes.txt"),
    Fault("isic_binary", "hidden file", add("train/benign/.DS_Store"), RUNS + "hidden files are skipped"),
    Fault("isic_binary", "image truncated", write(BIN_IMAGE, truncated), r"train/benign/\d+.jpg \(truncated JPEG"),
    Fault("isic_binary", "PNG bytes under .jpg", write(BIN_IMAGE, as_png), RUNS + "the format is read from the bytes, not the name"),
    Fault("isic_binary", "class too small for the split", keep_one_malignant, r"class 'malignant' has 1 lesion\(s\): too few for a validation split"),
    Fault("isic_binary", "path with spaces and non-ASCII", moved_to("bin ärchive"), RUNS + "paths are used as given"),
    Fault("isic_binary", "data.root empty", emptied, r"folder missing: .*/train \(expected"),
    # --- ISIC 2018 Task 1 (train.py data=isic2018 model=unet)
    Fault("isic2018", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("isic2018", "mask missing", remove(T1_MASK), r"1 mask\(s\) missing: .*_segmentation.png \(for .*\.jpg\)"),
    Fault("isic2018", "mask of another size", write(T1_MASK, mask_as("PNG", wider)), r"_segmentation.png is 43x30 but its image .* is 40x30"),
    Fault("isic2018", "mask with other values", write(T1_MASK, mask_as("PNG", grey_values)), r"_segmentation.png has values 0, 128; a mask holds only 0 and 255"),
    Fault("isic2018", "mask in colour", write(T1_MASK, mask_as("PNG", coloured)), r"_segmentation.png is a colour image"),
    Fault("isic2018", "mask truncated", write(T1_MASK, truncated), r"1 mask file\(s\) cannot be used: .*_segmentation.png \(truncated PNG"),
    Fault("isic2018", "image truncated", write(T1_IMAGE, truncated), r"1 image file\(s\) cannot be used: .*\.jpg \(truncated JPEG"),
    Fault("isic2018", "PNG bytes under .jpg", write(T1_IMAGE, as_png), RUNS + "the format is read from the bytes, not the name"),
    Fault("isic2018", "ground-truth folder missing", remove("ISIC2018_Task1_Validation_GroundTruth"), r"folder not found: .*ISIC2018_Task1_Validation_GroundTruth"),
    Fault("isic2018", "data.root empty", emptied, r"folder not found: .*ISIC2018_Task1-2_Training_Input \(.* holds: nothing\)"),
    # --- PH2 (train.py data=ph2 model=unet)
    Fault("ph2", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("ph2", "diagnosis table missing", remove("PH2_dataset.txt"), r"neither .*PH2_dataset.txt nor .*PH2_dataset.xlsx found"),
    Fault("ph2", "diagnosis not 0, 1 or 2", csv_bytes("PH2_dataset.txt", lambda b: b.replace(b"|| 0 ||", b"|| 7 ||", 1)), r"PH2_dataset.txt line \d+: clinical diagnosis '7' of IMD\d+ is not 0, 1 or 2"),
    Fault("ph2", "case without diagnosis", add("PH2 Dataset images/IMD999/IMD999_Dermoscopic_Image/IMD999.bmp"), r"PH2_dataset.txt has no diagnosis for case folder\(s\) IMD999"),
    Fault("ph2", "dermoscopic image missing", remove(PH2_IMAGE), r"1 dermoscopic image\(s\) missing: .*IMD001.bmp"),
    Fault("ph2", "image truncated", write(PH2_IMAGE, truncated), r"IMD001.bmp \(truncated BMP"),
    Fault("ph2", "mask missing", remove(PH2_MASK), r"1 mask\(s\) missing: .*IMD001_lesion.bmp"),
    Fault("ph2", "mask of another size", write(PH2_MASK, mask_as("BMP", wider)), r"IMD001_lesion.bmp is 771x560 but its image"),
    Fault("ph2", "mask with other values", write(PH2_MASK, mask_as("BMP", grey_values)), r"IMD001_lesion.bmp has values 0, 128"),
    Fault("ph2", "path with spaces and non-ASCII", moved_to("PH2 ünïcode"), RUNS + "paths are used as given"),
    # --- ISIC 2018 Task 3 (eval.py data=isic2018_task3 with a metadata classifier)
    Fault("isic2018_task3", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("isic2018_task3", "ground truth missing", remove_all("*GroundTruth/*.csv"), r"no ISIC 2018 Task 3 ground truth under"),
    Fault("isic2018_task3", "one-hot column missing", csv_edit(T3_GT, lambda df: df.drop(columns="MEL")), r"GroundTruth.csv: expected the columns image,MEL,NV"),
    Fault("isic2018_task3", "two diagnoses in a row", csv_edit(T3_GT, one_hot_twice), r"each row needs exactly one 1 .*line 2 \(ISIC_"),
    Fault("isic2018_task3", "one-hot not a number", csv_edit(T3_GT, cell("MEL", "yes")), r"each row needs exactly one 1 .*line 2 \(ISIC_"),
    Fault("isic2018_task3", "header only", csv_bytes(T3_GT, lambda b: b.splitlines(keepends=True)[0]), r"GroundTruth.csv has a header but no rows"),
    Fault("isic2018_task3", "image twice", csv_edit(T3_GT, lambda df: pd.concat([df, df.iloc[:1]])), r"GroundTruth.csv: image listed more than once"),
    Fault("isic2018_task3", "image missing", remove(T3_IMAGE), r"1 image\(s\) in the ground truth not found .*data.allow_missing=true"),
    Fault("isic2018_task3", "image missing, allowed", remove(T3_IMAGE), RUNS + "data.allow_missing=true leaves it out with a warning", ["data.allow_missing=true"]),
    Fault("isic2018_task3", "image truncated", write(T3_IMAGE, truncated), r"\.jpg \(truncated JPEG"),
    Fault("isic2018_task3", "metadata column missing", csv_edit(T3_META, lambda df: df.drop(columns="sex")), r"ISIC2018_Task3_Test_Metadata.csv \(data.metadata_csv\): missing column\(s\) \['sex'\]"),
    Fault("isic2018_task3", "metadata age not a number", csv_edit(T3_META, cell("age", "forty")), r"age must be a number .*'forty'"),
    Fault("isic2018_task3", "metadata age blank", csv_edit(T3_META, cell("age", "")), RUNS + "a blank age is the training mean, flagged"),
    Fault("isic2018_task3", "Windows line endings and a BOM", csv_bytes(T3_GT, crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("isic2018_task3", "data.root is a file", root_is_a_file, r"data.root does not exist or is not a folder"),
    # --- ISIC 2019 (train.py data=isic2019 data.drop=[scc])
    Fault("isic2019", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("isic2019", "scc kept", lambda root: None, r"classes outside data.classes=.*\(scc: \d+ in isic2019\): merge each .*data.drop", ["data.drop=[]"]),
    Fault("isic2019", "scc merged", lambda root: None, RUNS + "data.merge={scc: akiec} trains SCC as akiec", ["data.drop=[]", "data.merge={scc: akiec}"]),
    Fault("isic2019", "image missing", remove(I19_IMAGE), r"1 image\(s\) listed in .*ISIC_2019_Training_GroundTruth.csv not found .*line \d+ \(ISIC_\d+(_downsampled)?\)"),
    Fault("isic2019", "image truncated", write(I19_IMAGE, truncated), r"ISIC_\d+(_downsampled)?.jpg \(truncated JPEG"),
    Fault("isic2019", "text under .jpg", write(I19_IMAGE, lambda p: b"hello\n"), r"ISIC_\d+(_downsampled)?.jpg \(not an image"),
    Fault("isic2019", "one-hot column missing", csv_edit(I19_GT, lambda df: df.drop(columns="SCC")), r"ISIC_2019_Training_GroundTruth.csv: missing column\(s\) SCC"),
    Fault("isic2019", "two diagnoses in a row", csv_edit(I19_GT, one_hot_twice), r"GroundTruth.csv: each row needs exactly one 1 among \['MEL', .*'UNK'\], the rest 0: line 2 \(ISIC_"),
    Fault("isic2019", "site unknown", csv_edit(I19_META, cell("anatom_site_general", "knee")), r"site value\(s\) skinlight cannot map: 'knee' \(1 image\(s\), e.g. ISIC_\d+.*with data.sites="),
    Fault("isic2019", "image without metadata", csv_edit(I19_META, lambda df: df.iloc[1:]), r"GroundTruth.csv: 1 image\(s\) have no row in ISIC_2019_Training_Metadata.csv: line 2 \(ISIC_"),
    Fault("isic2019", "metadata of no image", csv_edit(I19_META, lambda df: pd.concat([df, df.iloc[:1].assign(image="ISIC_9999999")])), r"Metadata.csv: 1 image\(s\) have no row in ISIC_2019_Training_GroundTruth.csv: line \d+ \(ISIC_9999999\)"),
    Fault("isic2019", "image twice", csv_edit(I19_GT, lambda df: pd.concat([df, df.iloc[:1]])), r"GroundTruth.csv: image listed more than once: ISIC_"),
    Fault("isic2019", "header only", csv_bytes(I19_GT, lambda b: b.splitlines(keepends=True)[0]), r"ISIC_2019_Training_GroundTruth.csv has a header but no rows"),
    Fault("isic2019", "empty CSV", csv_bytes(I19_META, lambda b: b""), r"ISIC_2019_Training_Metadata.csv is empty"),
    Fault("isic2019", "not UTF-8", csv_bytes(I19_META, NOT_UTF8), r"ISIC_2019_Training_Metadata.csv is not UTF-8 text"),
    Fault("isic2019", "data.root empty", emptied, r"ground-truth CSV not found: .*ISIC_2019_Training_GroundTruth.csv \(the folder holds: nothing\)"),
    # --- SIIM-ISIC 2020 (train.py data=isic2020 data.classes=[bkl,mel,nv] data.drop=[unknown])
    Fault("isic2020", "untouched", lambda root: None, RUNS + "the synthetic copy as written"),
    Fault("isic2020", "the ISIC site's folders", isic_site_folders, RUNS + "images are found in any folder below data.root"),
    Fault("isic2020", "unknown kept", lambda root: None, r"classes outside data.classes=\['bkl', 'mel', 'nv'\] \(unknown: \d+ in isic2020\)", ["data.drop=[]"]),
    Fault("isic2020", "image missing", remove(I20_IMAGE), r"1 image\(s\) listed in .*train.csv not found .*line \d+ \(ISIC_\d+\)"),
    Fault("isic2020", "image truncated", write(I20_IMAGE, truncated), r"ISIC_\d+.jpg \(truncated JPEG"),
    Fault("isic2020", "text under .jpg", write(I20_IMAGE, lambda p: b"hello\n"), r"ISIC_\d+.jpg \(not an image"),
    Fault("isic2020", "diagnosis column missing", csv_edit(I20_CSV, lambda df: df.drop(columns="diagnosis")), r"train.csv: missing column\(s\) diagnosis"),
    Fault("isic2020", "diagnosis unknown", csv_edit(I20_CSV, cell("diagnosis", "lentigo simplex")), r"train.csv: diagnosis value\(s\) skinlight cannot map: 'lentigo simplex' \(1 image\(s\), e.g. ISIC_\d+\).*with data.labels="),
    Fault("isic2020", "target not 0 or 1", csv_edit(I20_CSV, cell("target", "2")), r"train.csv: target must be 0 or 1 and agree with benign_malignant .*line 2 \(ISIC_\d+: target '2'"),
    Fault("isic2020", "target disagrees", csv_edit(I20_CSV, flip_benign_malignant), r"train.csv: target must be 0 or 1 and agree .*line 2 \(ISIC_\d+: target '[01]', benign_malignant '(benign|malignant)'\)"),
    Fault("isic2020", "image_name twice", csv_edit(I20_CSV, lambda df: pd.concat([df, df.iloc[:1]])), r"train.csv: image_name listed more than once: ISIC_"),
    Fault("isic2020", "header only", csv_bytes(I20_CSV, lambda b: b.splitlines(keepends=True)[0]), r"train.csv has a header but no rows"),
    Fault("isic2020", "empty CSV", csv_bytes(I20_CSV, lambda b: b""), r"train.csv is empty"),
    Fault("isic2020", "not UTF-8", csv_bytes(I20_CSV, NOT_UTF8), r"train.csv is not UTF-8 text"),
    Fault("isic2020", "Windows line endings and a BOM", csv_bytes(I20_CSV, crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("isic2020", "data.root empty", emptied, r"metadata CSV not found: .*train.csv \(the folder holds: nothing\)"),
    # --- BCN20000, the ISIC Archive's collection download (train.py data=bcn20000 data.drop=[scc])
    Fault("bcn20000", "untouched", lambda root: None, RUNS + "the synthetic copy as written (vascular lesions: diagnosis_2)"),
    Fault("bcn20000", "scc merged", lambda root: None, RUNS + "data.merge={scc: akiec} trains SCC as akiec", ["data.drop=[]", "data.merge={scc: akiec}"]),
    Fault("bcn20000", "image missing", remove(BCN_IMAGE), r"1 image\(s\) listed in .*metadata.csv not found .*line \d+ \(ISIC_\d+\)"),
    Fault("bcn20000", "image truncated", write(BCN_IMAGE, truncated), r"ISIC_\d+.jpg \(truncated JPEG"),
    Fault("bcn20000", "text under .jpg", write(BCN_IMAGE, lambda p: b"hello\n"), r"ISIC_\d+.jpg \(not an image"),
    Fault("bcn20000", "diagnosis column missing", csv_edit(BCN_CSV, lambda df: df.drop(columns="diagnosis_3")), r"metadata.csv: no diagnosis column: expected diagnosis_3 .* or diagnosis .*; found isic_id"),
    Fault("bcn20000", "lesion_id column missing", csv_edit(BCN_CSV, lambda df: df.drop(columns="lesion_id")), r"metadata.csv: missing column\(s\) lesion_id"),
    Fault("bcn20000", "diagnosis unknown", csv_edit(BCN_CSV, cell("diagnosis_3", "Lentigo simplex")), r"metadata.csv: diagnosis value\(s\) skinlight cannot map: 'Lentigo simplex' \(1 image\(s\), e.g. ISIC_\d+\).*with data.labels="),
    Fault("bcn20000", "no diagnosis at any level", csv_edit(BCN_CSV, no_diagnosis_at_all), r"metadata.csv: blank diagnosis for 1 image\(s\): ISIC_\d+; give them a class with data.labels=\{blank: unknown\}"),
    Fault("bcn20000", "no diagnosis, given a class and dropped", csv_edit(BCN_CSV, no_diagnosis_at_all), RUNS + "data.labels={blank: unknown} data.drop=[scc,unknown]: the undiagnosed image is in split.csv as unused", ["data.labels={blank: unknown}", "data.drop=[scc,unknown]"]),
    Fault("bcn20000", "isic_id twice", csv_edit(BCN_CSV, lambda df: pd.concat([df, df.iloc[:1]])), r"metadata.csv: isic_id listed more than once: ISIC_"),
    Fault("bcn20000", "header only", csv_bytes(BCN_CSV, lambda b: b.splitlines(keepends=True)[0]), r"metadata.csv has a header but no rows"),
    Fault("bcn20000", "empty CSV", csv_bytes(BCN_CSV, lambda b: b""), r"metadata.csv is empty"),
    Fault("bcn20000", "not UTF-8", csv_bytes(BCN_CSV, NOT_UTF8), r"metadata.csv is not UTF-8 text"),
    Fault("bcn20000", "two dated metadata CSVs", two_bcn_csvs, r"2 BCN20000 metadata CSVs in .* \(bcn20000_metadata_2023-08-28.csv, bcn20000_metadata_2024-01-01.csv\): keep one"),
    Fault("bcn20000", "data.root empty", emptied, r"metadata CSV not found: .*metadata.csv \(the folder holds: nothing\)"),
    # --- Derm7pt release_v0 (train.py data=derm7pt data.drop=[unknown])
    Fault("derm7pt", "untouched", lambda root: None, RUNS + "the synthetic copy as written, the index files' split kept"),
    Fault("derm7pt", "unknown kept", lambda root: None, r"classes outside data.classes=.*\(unknown: \d+ in derm7pt\): merge each .*data.drop", ["data.drop=[]"]),
    Fault("derm7pt", "image missing", remove(DERM_IMAGE), r"1 dermoscopic image\(s\) listed in .*meta/meta.csv not found: line 2 \(derm7pt_1: .*images/F01/f0002.jpg\)"),
    Fault("derm7pt", "image truncated", write(DERM_IMAGE, truncated), r"f0002.jpg \(truncated JPEG"),
    Fault("derm7pt", "text under .jpg", write(DERM_IMAGE, lambda p: b"hello\n"), r"f0002.jpg \(not an image"),
    Fault("derm7pt", "clinical images missing", remove_all("images/*/*.JPG"), RUNS + "the clinical images are not read"),
    Fault("derm7pt", "diagnosis column missing", csv_edit(DERM_CSV, lambda df: df.drop(columns="diagnosis")), r"meta/meta.csv: missing column\(s\) diagnosis"),
    Fault("derm7pt", "diagnosis unknown", csv_edit(DERM_CSV, cell("diagnosis", "freckle")), r"meta.csv: diagnosis value\(s\) skinlight cannot map: 'freckle' \(1 image\(s\), e.g. derm7pt_1\).*with data.labels="),
    Fault("derm7pt", "location unknown", csv_edit(DERM_CSV, cell("location", "knee")), r"meta.csv: site value\(s\) skinlight cannot map: 'knee' \(1 image\(s\), e.g. derm7pt_1\).*with data.sites="),
    Fault("derm7pt", "diagnosis blank", csv_edit(DERM_CSV, cell("diagnosis", "")), r"meta/meta.csv: blank diagnosis for 1 image\(s\): derm7pt_1; give them a class with data.labels=\{blank: unknown\}"),
    Fault("derm7pt", "diagnosis blank, mapped", csv_edit(DERM_CSV, cell("diagnosis", "")), RUNS + "data.labels={blank: unknown} with data.drop=[unknown] leaves it out", ["data.labels={blank: unknown}"]),
    Fault("derm7pt", "derm cell blank", csv_edit(DERM_CSV, cell("derm", "")), r"meta/meta.csv: blank derm on line 2"),
    Fault("derm7pt", "case_num twice", csv_edit(DERM_CSV, lambda df: pd.concat([df, df.iloc[:1]])), r"meta/meta.csv: case_num listed more than once: 1"),
    Fault("derm7pt", "header only", csv_bytes(DERM_CSV, lambda b: b.splitlines(keepends=True)[0]), r"meta/meta.csv has a header but no rows"),
    Fault("derm7pt", "empty CSV", csv_bytes(DERM_CSV, lambda b: b""), r"meta/meta.csv is empty"),
    Fault("derm7pt", "not UTF-8", csv_bytes(DERM_CSV, NOT_UTF8), r"meta/meta.csv is not UTF-8 text"),
    Fault("derm7pt", "Windows line endings and a BOM", csv_bytes(DERM_CSV, crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("derm7pt", "index out of range", csv_edit(DERM_TEST, cell("indexes", "9999")), r"test_indexes.csv: index out of range \(meta/meta.csv has \d+ rows, 0..\d+\): line 2 \(9999\)"),
    Fault("derm7pt", "index not a number", csv_edit("meta/valid_indexes.csv", cell("indexes", "two")), r"valid_indexes.csv: indexes must be whole numbers \(0-based rows of meta/meta.csv\): line 2 \('two'\)"),
    Fault("derm7pt", "case in two index files", derm7pt_case_twice, r"a case is in one index file only, but: derm7pt_\d+ \(line \d+\) in train_indexes.csv line 2 and test_indexes.csv line 2"),
    Fault("derm7pt", "case in no index file", csv_edit(DERM_TEST, lambda df: df.iloc[1:]), r"meta/meta.csv: 1 case\(s\) in none of the index files \(train_indexes.csv, valid_indexes.csv, test_indexes.csv\): line \d+ \(derm7pt_\d+\)"),
    Fault("derm7pt", "index file missing", remove("meta/valid_indexes.csv"), r"Derm7pt index CSV not found: .*meta/valid_indexes.csv"),
    Fault("derm7pt", "data.root empty", emptied, r"folder not found: .*/meta \(.* holds: nothing\)"),
    # --- PAD-UFES-20 (train.py data=pad_ufes20 data.merge={scc: akiec})
    Fault("pad_ufes20", "untouched", lambda root: None, RUNS + "the synthetic copy as written, split by patient"),
    Fault("pad_ufes20", "scc kept", lambda root: None, r"classes outside data.classes=.*\(scc: \d+ in pad_ufes20\): merge each .*data.drop", ["~data.merge"]),
    Fault("pad_ufes20", "its six classes", lambda root: None, RUNS + "data.classes names the six classes of the data", ["~data.merge", "data.classes=[akiec,bcc,bkl,mel,nv,scc]"]),
    Fault("pad_ufes20", "image missing", remove(PAD_IMAGE), r"1 image\(s\) listed in .*metadata.csv not found .*line \d+ \(PAT_\d+_\d+_\d+\)"),
    Fault("pad_ufes20", "image truncated", write(PAD_IMAGE, truncated), r"PAT_\d+_\d+_\d+.png \(truncated PNG"),
    Fault("pad_ufes20", "text under .png", write(PAD_IMAGE, lambda p: b"hello\n"), r"PAT_\d+_\d+_\d+.png \(not an image"),
    Fault("pad_ufes20", "JPEG bytes under .png", write(PAD_IMAGE, lambda p: encoded(p, "JPEG")), RUNS + "the format is read from the bytes, not the name"),
    Fault("pad_ufes20", "images in nested folders", pad_nested_parts, RUNS + "images are found in any folder below data.root"),
    Fault("pad_ufes20", "diagnostic column missing", csv_edit(PAD_CSV, lambda df: df.drop(columns="diagnostic")), r"metadata.csv: missing column\(s\) diagnostic"),
    Fault("pad_ufes20", "diagnostic unknown", csv_edit(PAD_CSV, pad_diagnostic("LEN")), r"metadata.csv: diagnosis value\(s\) skinlight cannot map: 'LEN' \(\d+ image\(s\), e.g. PAT_\d+_\d+_\d+\).*with data.labels="),
    Fault("pad_ufes20", "lesion with two diagnoses", csv_edit(PAD_CSV, lambda df: two_diagnoses(df.rename(columns={"diagnostic": "dx"})).rename(columns={"dx": "diagnostic"})), r"metadata.csv: a lesion has one diagnosis.*\d+: .* on lines \d+, \d+"),
    Fault("pad_ufes20", "lesion of two patients", csv_edit(PAD_CSV, pad_lesion_of_two_patients), r"metadata.csv: a lesion is one patient's, but lesion_id\(s\) have images of two: \d+: PAT_0, PAT_\d+"),
    Fault("pad_ufes20", "img_id twice", csv_edit(PAD_CSV, lambda df: pd.concat([df, df.iloc[:1]])), r"metadata.csv: img_id listed more than once: PAT_\d+_\d+_\d+.png"),
    Fault("pad_ufes20", "gender and region blank", csv_edit(PAD_CSV, lambda df: cell("region", "")(cell("gender", "")(df))), RUNS + "a blank sex or site is 'unknown'"),
    Fault("pad_ufes20", "header only", csv_bytes(PAD_CSV, lambda b: b.splitlines(keepends=True)[0]), r"metadata.csv has a header but no rows"),
    Fault("pad_ufes20", "empty CSV", csv_bytes(PAD_CSV, lambda b: b""), r"metadata.csv is empty"),
    Fault("pad_ufes20", "not UTF-8", csv_bytes(PAD_CSV, lambda b: b.replace(b"True", b"Tr\xfce", 1)), r"metadata.csv is not UTF-8 text"),
    Fault("pad_ufes20", "Windows line endings and a BOM", csv_bytes(PAD_CSV, crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("pad_ufes20", "data.root empty", emptied, r"metadata CSV not found: .*metadata.csv \(the folder holds: nothing\)"),
    # --- predict.py on a CSV of images with metadata (a metadata classifier)
    Fault("predict", "untouched", lambda root: None, RUNS + "the input as written"),
    Fault("predict", "image column missing", csv_edit("input.csv", lambda df: df.rename(columns={"image": "file"})), r"input.csv: no image or path column"),
    Fault("predict", "age column missing", csv_edit("input.csv", lambda df: df.drop(columns="age")), r"fuses patient metadata .*gives a CSV without age"),
    Fault("predict", "age not a number", csv_edit("input.csv", cell("age", "forty")), r"input.csv: age must be a number .*'forty'"),
    Fault("predict", "age negative", csv_edit("input.csv", cell("age", "-1")), r"input.csv: age must be .*'-1'"),
    Fault("predict", "age and sex blank", csv_edit("input.csv", lambda df: cell("sex", "")(cell("age", "")(df))), RUNS + "blank cells are encoded as in training"),
    Fault("predict", "image cell blank", csv_edit("input.csv", cell("image", "", 1)), r"input.csv: blank image on line 3"),
    Fault("predict", "header only", csv_bytes("input.csv", lambda b: b.splitlines(keepends=True)[0]), r"input.csv has a header but no rows"),
    Fault("predict", "empty CSV", csv_bytes("input.csv", lambda b: b""), r"input.csv is empty"),
    Fault("predict", "image missing", remove("images/*.jpg"), r"input.csv: image file\(s\) not found: line 2"),
    Fault("predict", "image truncated", write("images/*.jpg", truncated), r"\.jpg \(truncated JPEG"),
    Fault("predict", "PNG bytes under .jpg", write("images/*.jpg", as_png), RUNS + "the format is read from the bytes, not the name"),
    Fault("predict", "Windows line endings and a BOM", csv_bytes("input.csv", crlf_bom), RUNS + "CSVs are read as UTF-8 with an optional BOM, any line ending"),
    Fault("predict", "path with spaces and non-ASCII", moved_to("new ïmages"), RUNS + "paths are used as given"),
    # --- predict_masks.py on a folder of images (a segmenter)
    Fault("predict_masks", "untouched", lambda root: None, RUNS + "the input as written"),
    Fault("predict_masks", "image truncated", write(SEG_IMAGE, truncated), r"\.jpg \(truncated JPEG"),
    Fault("predict_masks", "text under .png", add("ISIC2018_Task1-2_Training_Input/notes.png", b"hello"), r"notes.png \(not an image"),
    Fault("predict_masks", "float TIFF under .jpg", write(SEG_IMAGE, float_tiff), r"\.jpg \(unsupported mode 'F'"),
    Fault("predict_masks", "PNG bytes under .jpg", write(SEG_IMAGE, as_png), RUNS + "the format is read from the bytes, not the name"),
    Fault("predict_masks", "no images", remove_all(SEG_IMAGE), r"no images \(.*\) in .*Training_Input"),
    Fault("predict_masks", "input missing", remove("ISIC2018_Task1-2_Training_Input"), r"input does not exist: .*Training_Input"),
    Fault("predict_masks", "path with spaces and non-ASCII", moved_to("scans ünïcode"), RUNS + "paths are used as given"),
    Fault("predict_masks", "truth given", lambda root: None, RUNS + "truth= scores each mask against its ground truth", TRUTH),
    Fault("predict_masks", "truth mask missing", remove(T1_MASK), r"truth=.*: 1 ground-truth mask\(s\) not found: .*_segmentation.png", TRUTH),
    Fault("predict_masks", "truth mask without an image", add("ISIC2018_Task1_Training_GroundTruth/ISIC_9999999_segmentation.png"), r"1 ground-truth mask\(s\) without an input image: .*ISIC_9999999_segmentation.png", TRUTH),
    Fault("predict_masks", "truth mask of another size", write(T1_MASK, mask_as("PNG", wider)), r"ground-truth mask .*_segmentation.png is 43x30 but its image is 40x30", TRUTH),
    Fault("predict_masks", "truth mask truncated", write(T1_MASK, truncated), r"1 ground-truth mask file\(s\) cannot be used: .*_segmentation.png \(truncated PNG", TRUTH),
    Fault("predict_masks", "truth folder missing", remove("ISIC2018_Task1_Training_GroundTruth"), r"truth=.*ISIC2018_Task1_Training_GroundTruth is not a folder of ground-truth masks", TRUTH),
]
# fmt: on


# ----------------------------------------------------------------------------- fixtures and the test


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Each target's synthetic data, made on first use, and the two checkpoints the CLIs need (trained by train.py)."""
    made = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = tmp_path_factory.mktemp(name) / "data"
            TARGETS[name].make(made[name])
        return made[name]

    return get


@pytest.fixture(scope="module")
def checkpoints(pristine, tmp_path_factory):
    """best.ckpt of a metadata classifier (HAM10000) and of a U-Net (ISIC 2018), trained one epoch by train.py."""
    made = {}
    recipes = {
        "classifier": ("ham10000", [*GESSERT, "trainer.max_epochs=1", "+trainer.limit_train_batches=2"]),
        "segmenter": ("isic2018", []),
    }

    def get(kind: str, capsys) -> Path:
        if kind not in made:
            layout, extra = recipes[kind]
            run = tmp_path_factory.mktemp(kind)
            args = [a for a in TARGETS[layout].args(pristine(layout), None, run) if a != "trainer.fast_dev_run=true"]
            code, err = run_cli("train.py", [*args, *extra, quoted("hydra.run.dir", run)], capsys)
            assert code == 0, err
            made[kind] = run / "checkpoints" / "best.ckpt"
        return made[kind]

    return get


@pytest.mark.parametrize("row", FAULTS, ids=lambda row: f"{row.target}: {row.name}")
def test_bad_input(row, pristine, checkpoints, tmp_path, monkeypatch, capsys):
    target = TARGETS[row.target]
    monkeypatch.chdir(tmp_path)  # data/cache and outputs of the run stay here
    ckpt = checkpoints(target.needs, capsys) if target.needs else None
    root = tmp_path / "input"
    shutil.copytree(pristine(row.target), root)
    root = row.fault(root) or root
    run = tmp_path / "run"
    code, err = run_cli(
        target.script, [*target.args(root, ckpt, run), *row.overrides, quoted("hydra.run.dir", run)], capsys
    )
    assert "Traceback" not in err, err
    if row.expected.startswith(RUNS):
        assert code == 0, err
        listed, written = target.produced(root, run)
        assert written == listed, f"the input holds {listed} items, the run wrote {written}"
    else:
        lines = err.strip().splitlines()
        assert code == 2 and lines and lines[-1].startswith("error: "), err
        assert len([line for line in lines if line.startswith("error: ")]) == 1, err
        assert re.search(row.expected, lines[-1]), f"{lines[-1]!r} does not match {row.expected!r}"


def test_every_target_has_faults_and_is_told(capsys):
    per_target = collections.Counter(row.target for row in FAULTS)
    with capsys.disabled():
        print("\nbad-input matrix, faults per layout:", ", ".join(f"{t} {n}" for t, n in per_target.items()))
    assert set(per_target) == set(TARGETS) and min(per_target.values()) >= 8
    assert len({(row.target, row.name) for row in FAULTS}) == len(FAULTS), "two rows share a name"

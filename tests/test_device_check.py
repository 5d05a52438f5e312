"""scripts/device_check.sh --device cpu: the prepared GPU check runs end to end (step timing, loader feed, a short
skinlight_gpu training) and --stage writes a carryable HAM10000 subset that the reader accepts."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from skinlight.data.layouts.ham10000 import read_ham10000

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # `python`: this one


def device_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/device_check.sh", *args], cwd=ROOT, env=ENV, capture_output=True, text=True)


def test_stage_copies_part_1_with_its_metadata_rows_only(synthetic_root, tmp_path):
    staged = tmp_path / "staged"
    done = device_check("--data", str(synthetic_root), "--stage", str(staged))
    assert done.returncode == 0, done.stderr
    images = sorted(p.stem for p in (staged / "HAM10000_images_part_1").glob("*.jpg"))
    table = pd.read_csv(staged / "HAM10000_metadata.csv")
    assert images and sorted(table["image_id"]) == images
    assert len(table) < len(pd.read_csv(synthetic_root / "HAM10000_metadata.csv"))  # part_2 left behind
    assert len(read_ham10000(staged)) == len(images)  # a valid HAM10000 folder


def test_a_folder_without_the_metadata_is_refused_by_name(tmp_path):
    done = device_check("--device", "cpu", "--data", str(tmp_path))
    assert done.returncode == 2 and f"--data {tmp_path}: no HAM10000_metadata.csv there" in done.stderr


@pytest.mark.slow
def test_device_check_runs_on_cpu_within_six_minutes(synthetic_root, tmp_path):
    start = time.perf_counter()
    done = device_check("--device", "cpu", "--data", str(synthetic_root), "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.perf_counter() - start < 360
    out = done.stdout
    assert "ratio" in out.lower() and "ms" in out  # Trainer vs loop
    assert "delivered / consumed =" in out and "GPU utilisation n/a (no GPU)" in out
    assert "test/balanced_acc=" in out and (tmp_path / "train" / "metrics.json").is_file()

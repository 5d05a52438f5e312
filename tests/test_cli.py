"""Every console script of pyproject.toml: --help works, a user's mistake is one `error:` line and exit code 2
without a traceback; and skinlight-synthetic writes every layout that its reader reads."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skinlight.data.layouts.ham10000 import read_ham10000
from skinlight.data.layouts.isic2018 import read_isic2018
from skinlight.data.layouts.isic2018_task3 import read_isic2018_task3
from skinlight.data.layouts.isic_binary import read_isic_binary
from skinlight.data.layouts.ph2 import read_ph2
from skinlight.synthetic.cli import main as synthetic_main

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

SCRIPTS = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
BIN = Path(sys.executable).parent  # where pip install -e . puts the console scripts of this environment


def _ham10000_marker(folder: Path) -> list[str]:
    (folder / "HAM10000_metadata.csv").write_text("lesion_id,image_id,dx\n")
    return ["--out", str(folder), "--num-lesions", "14"]


MISTAKES = {  # script -> a user's mistake: its arguments, made in a fresh folder
    "skinlight-synthetic": _ham10000_marker,
    "skinlight-summary": lambda folder: [str(folder / "missing")],
    "skinlight-baselines": lambda folder: [str(folder)],  # no split.csv: not a run directory
    "skinlight-export": lambda folder: [str(folder / "missing.ckpt")],
    "skinlight-benchmark": lambda folder: ["nosuchnet", "--device", "cpu"],
}


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=300)


def _installed(name: str) -> None:
    if not (BIN / name).is_file():
        pytest.skip(f"console script {name} is not in {BIN}: run pip install -e . there")


def _assert_user_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every installed script's --help and mistake, run in parallel: each start-up imports torch and the like."""
    calls = {}
    for name in SCRIPTS:
        calls[name, "help"] = ["--help"]
        if name in MISTAKES:
            calls[name, "mistake"] = MISTAKES[name](tmp_path_factory.mktemp(name))
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        yield {key: pool.submit(_run, key[0], *args) for key, args in calls.items() if (BIN / key[0]).is_file()}


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(runs, name):
    _installed(name)
    result = runs[name, "help"].result()
    assert result.returncode == 0 and result.stdout.startswith(f"usage: {name}"), result.stdout + result.stderr


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_user_mistake_is_one_error_line_and_exit_code_2(runs, name):
    _installed(name)
    assert name in MISTAKES, f"add a user mistake of {name} to MISTAKES"
    _assert_user_error(runs[name, "mistake"].result())


@pytest.mark.parametrize(
    "layout, args, reader, summary, expected",
    [
        (
            "ham10000",
            ["--num-lesions", "14", "--width", "40", "--height", "30", "--workers", "1"],
            read_ham10000,
            lambda t: t.lesion_id.nunique(),
            14,
        ),
        (
            "isic_binary",
            ["--num-train", "4", "--num-test", "2", "--size", "32"],
            read_isic_binary,
            lambda t: t.split.value_counts().to_dict(),
            {"train": 4, "test": 2},
        ),
        (
            "isic2018",
            ["--num-images", "2", "1", "1", "--width", "40", "--height", "30", "--workers", "1"],
            read_isic2018,
            lambda t: t.split.value_counts().to_dict(),
            {"train": 2, "val": 1, "test": 1},
        ),
        (
            "isic2018_task3",
            ["--num-lesions", "14", "14", "--width", "40", "--height", "30"],
            read_isic2018_task3,
            lambda t: sorted(set(t.split)),
            ["test", "val"],
        ),
        ("ph2", ["--num-cases", "15", "--table", "xlsx", "--workers", "1"], read_ph2, len, 15),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_synthetic_writes_a_layout_its_reader_reads(tmp_path, layout, args, reader, summary, expected):
    _installed("skinlight-synthetic")
    command = ["--layout", layout, "--out", str(tmp_path / "data"), *args]
    result = _run("skinlight-synthetic", *command)
    assert result.returncode == 0 and result.stdout.startswith("wrote "), result.stderr
    assert summary(reader(tmp_path / "data")) == expected
    _assert_user_error(_run("skinlight-synthetic", *command))  # the folder now holds a dataset


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--num-cases", "20"], "not an option of --layout ham10000: --num-cases"),
        (["--layout", "ph2", "--num-lesions", "14", "--size", "32"], "of --layout ph2: --num-lesions, --size"),
        (["--layout", "isic_binary", "--workers", "2"], "not an option of --layout isic_binary: --workers"),
        (["--layout", "isic2018_task3", "--num-lesions", "40"], "--num-lesions takes 2 value"),
        (["--num-lesions", "40", "160"], "--num-lesions takes 1 value"),
        (["--num-lesions", "0"], "not a positive integer: '0'"),
    ],
)
def test_synthetic_refuses_an_option_of_another_layout(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        synthetic_main(["--out", str(tmp_path / "data"), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()

"""Shared fixtures: a tiny synthetic HAM10000 (generated once per session) and composed configs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from lightning.fabric.utilities.data import AttributeDict
from omegaconf import DictConfig, open_dict
from torch import nn

from skinlight.synthetic.ham10000 import generate_ham10000

# Under pytest-xdist each worker (and the train.py processes it starts) gets its share of the cores: torch's
# default of one thread per core in every worker would oversubscribe them.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 0)):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ["OMP_NUM_THREADS"] = str(max(1, cores // workers))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Small and fast: tiny timm network, 32 px images, a few batches.
FAST = [
    "data=ham10000",
    "data.num_workers=0",
    "backbone=timm_test",
    "data.image_size=32",
    "data.batch_size=16",
    "trainer.accelerator=cpu",
    "logger=csv",
    "callbacks.progress_bar=null",
]

# A paper recipe as it is (its backbone, sizes, options): one fast_dev_run batch of 2 on the CPU.
RECIPE_RUN = [
    "data.num_workers=0",
    "data.batch_size=2",
    "trainer.accelerator=cpu",
    "trainer.fast_dev_run=true",
    "logger=csv",
    "callbacks.progress_bar=null",
]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "ham"
    generate_ham10000(root, num_lesions=80, seed=0, image_size=(120, 90), workers=1)
    return root


@pytest.fixture
def compose_cfg(tmp_path):
    """compose(train.yaml + overrides) with data.root set and the run directory at `run_dir` (default
    tmp_path/run), as train.py would."""

    def _compose(overrides: list[str], data_root: Path, run_dir: Path | None = None) -> DictConfig:
        run_dir = run_dir or tmp_path / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
            cfg.hydra.runtime.cwd = str(tmp_path)
            cfg.hydra.job.num = 0
            cfg.data.root = str(data_root)
        HydraConfig.instance().set_config(cfg)
        return cfg

    return _compose


@pytest.fixture
def make_cfg(compose_cfg, synthetic_root):
    """A classification config: FAST + overrides on the session's synthetic HAM10000 (or data_root)."""

    def _make(*overrides: str, data_root: Path | None = None) -> DictConfig:
        return compose_cfg([*FAST, *overrides], data_root or synthetic_root)

    return _make


def user_error(capsys, main, argv) -> str:
    """Run a console-script `main(argv)` that must refuse its input: exit code 2, one `error:` line on stderr
    (returned), no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "Traceback" not in err, err
    return err.splitlines()[-1]


def disc_image(height, width, radius, centre=None):
    """uint8 RGB: a white disc of `radius` px on black."""
    cy, cx = centre or (height / 2, width / 2)
    y, x = np.mgrid[:height, :width]
    inside = np.hypot(y + 0.5 - cy, x + 0.5 - cx) < radius
    return np.repeat(inside[..., None] * 255, 3, axis=-1).astype(np.uint8)


class BrightIsLesion(nn.Module):
    """A stand-in segmenter: logit +/-20 where the input is brighter/darker than mid-grey, plus `tilt` times a
    ramp from -1 (left column) to 1 (right): a tilted model is not equivariant under flips."""

    def __init__(self, resize, tilt: float = 0.0):
        super().__init__()
        self.hparams = AttributeDict(image_size=64, resize=resize, preprocess=None, threshold=0.5)
        self.tilt = tilt
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self):
        return self.anchor.device

    def forward(self, x):
        return (x.mean(1, keepdim=True) - 0.5) * 40 + self.tilt * torch.linspace(-1, 1, x.shape[-1])


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"  # the browser tests' screenshots


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Selenium (Debian's chromium and chromium-driver); skips, naming the
    install, where either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (the dev extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("no Chromium browser and chromedriver on PATH: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield chrome
    chrome.quit()

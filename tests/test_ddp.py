"""trainer=ddp: 2 processes on CPU (gloo), started as a user starts them (`python train.py trainer=ddp`),
end with the test metrics of 1 process.

The two runs are made equivalent: the whole epoch is one batch (1 process: 2N images; DDP: N per rank,
the gradients averaged), the network normalises per sample (GroupNorm, no dropout) and there is no
augmentation, so DDP changes only the float summation order. Every test metric must agree within
TOLERANCE; the train split goes through the `duplicate` sampler (each image twice), i.e. through
Lightning's DistributedSamplerWrapper.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from skinlight.data.classification import HAM10000DataModule
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # absolute, on every test/<metric>
FACTORS = "{akiec:2,bcc:2,bkl:2,df:2,mel:2,nv:2,vasc:2}"


def common(train_images: int, root: Path) -> list[str]:
    return [
        "data=ham10000",
        f"data.root={root}",
        "data.num_workers=0",
        "data.image_size=32",
        "backbone=timm_test",
        "backbone.name=test_efficientnet_gn",
        "augmentation=none",
        "loss=ce",
        "sampler=duplicate",
        f"sampler.factors={FACTORS}",
        "optimizer.lr=0.003",
        "trainer.max_epochs=3",
        "trainer.accelerator=cpu",
        "trainer.deterministic=true",
        "callbacks.early_stopping=null",
        "callbacks.progress_bar=null",
        "logger=csv",
    ]


def test_two_processes_give_the_metrics_of_one(make_cfg, synthetic_root, tmp_path):
    dm = HAM10000DataModule(str(synthetic_root), image_size=32, num_workers=0, split_seed=42)  # seed: 42
    dm.setup("fit")
    train, test = (int((dm.table["split"] == s).sum()) for s in ("train", "test"))
    overrides = common(train, synthetic_root)

    ddp_dir = tmp_path / "ddp"
    ddp = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *overrides,
            "trainer=ddp",
            "trainer.devices=2",
            "trainer.sync_batchnorm=false",
            f"data.batch_size={train}",
            f"hydra.run.dir={ddp_dir}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    one_dir = tmp_path / "one"
    cfg = make_cfg(*overrides, f"data.batch_size={2 * train}")
    with open_dict(cfg):
        cfg.paths.output_dir = str(one_dir)
    run(cfg, one_dir)

    one, two = (json.loads((d / "metrics.json").read_text()) for d in (one_dir, ddp_dir))
    assert one.keys() == two.keys()
    off = {k: (one[k], two[k]) for k in one if abs(one[k] - two[k]) > TOLERANCE}
    assert not off, f"DDP differs from one process beyond {TOLERANCE}: {off}"
    assert one["test/balanced_acc"] > 1 / 7  # it learned something, so the comparison means something

    assert (ddp_dir / "train_ddp_process_1.log").exists()  # rank 1 ran (Lightning's launcher, Hydra run dir)
    assert (ddp_dir / "split.csv").read_bytes() == (one_dir / "split.csv").read_bytes()
    assert sorted(p.name for p in (ddp_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    per_class = pd.read_csv(ddp_dir / "report" / "per_class.csv")
    assert per_class["support"].sum() == test  # the report sees every test image once (gathered from 2 ranks)


def test_sync_batchnorm_on_cpu_says_what_to_change(make_cfg):
    from skinlight.errors import ConfigError
    from skinlight.train import build_trainer

    cfg = make_cfg("trainer=ddp", "trainer.accelerator=cpu")
    with pytest.raises(
        ConfigError, match="trainer.sync_batchnorm=true works on GPUs only: add trainer.sync_batchnorm=false"
    ):
        build_trainer(cfg)


@pytest.mark.slow  # 2 jobs x 2 processes
def test_sweep_of_ddp_jobs_runs_each_job_once_in_its_folder(synthetic_root, tmp_path):
    """`python train.py -m trainer=ddp ...` with the basic launcher: each job starts its own rank 1 with the
    job's overrides in the job's folder (not the whole sweep again), and the next job starts afresh."""
    sweep = tmp_path / "sweep"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            "trainer=ddp",
            "trainer.devices=2",
            "trainer.accelerator=cpu",
            "trainer.sync_batchnorm=false",
            "optimizer.lr=1e-3,1e-2",
            "data=ham10000",
            f"data.root={synthetic_root}",
            "backbone=timm_test",
            "data.image_size=32",
            "data.num_workers=0",
            "trainer.max_epochs=1",
            "callbacks.progress_bar=null",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job, lr in (("0", 0.001), ("1", 0.01)):
        assert (sweep / job / "metrics.json").exists() and (sweep / job / "train_ddp_process_1.log").exists()
        assert f"optimizer.lr={lr}" in json.loads((sweep / job / "run_info.json").read_text())["overrides"]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]  # rank 1 started no sweep
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()
    assert pd.read_csv(sweep / "summary.csv")["status"].tolist() == ["ok", "ok"]

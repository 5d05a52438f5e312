"""Reproducibility and resume: same seed -> same files; an interrupted run resumed with ckpt_path=last
ends exactly where the uninterrupted run ends (CPU, deterministic; data in the main process or in workers)."""

import json
from importlib.metadata import version
from pathlib import Path

import lightning.pytorch as L
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from skinlight.errors import ConfigError
from skinlight.train import run

DETERMINISTIC = ["trainer.deterministic=true", "trainer.max_epochs=2", "callbacks.early_stopping=null"]


class Interrupt(L.Callback):
    """Stands in for a killed job: fails as the second epoch starts (after epoch 1's checkpoints)."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def run_in(make_cfg, run_dir: Path, *overrides: str) -> dict:
    cfg = make_cfg(*DETERMINISTIC, *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    run(cfg, run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def test_same_seed_same_split_and_metrics_and_run_info(make_cfg, tmp_path):
    first = run_in(make_cfg, tmp_path / "a")
    second = run_in(make_cfg, tmp_path / "b")
    assert first == second
    assert (tmp_path / "a" / "split.csv").read_bytes() == (tmp_path / "b" / "split.csv").read_bytes()
    info = json.loads((tmp_path / "a" / "run_info.json").read_text())
    assert info["seed"] == 42 and info["resumed_from"] is None
    assert info["packages"]["torch"] == version("torch") and info["packages"]["lightning"] == L.__version__
    assert not any(k.startswith(("seed", "packages")) for k in first)  # metrics.json keeps its flat test keys


# workers=0: the checkpointed augmentation generators continue; workers=2: the training workers restart each
# epoch, seeded from the checkpointed torch generator
@pytest.mark.parametrize("workers", [0, 2])
def test_interrupted_run_resumed_from_last_matches_uninterrupted(make_cfg, tmp_path, workers):
    loader = f"data.num_workers={workers}"
    expected = run_in(make_cfg, tmp_path / "full", loader)

    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_in(make_cfg, crashed, loader, f"+callbacks.interrupt._target_={__name__}.Interrupt")
    assert (crashed / "checkpoints" / "last.ckpt").is_file() and not (crashed / "metrics.json").exists()
    assert torch.load(crashed / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0

    resumed = run_in(make_cfg, crashed, loader, "ckpt_path=last")
    assert resumed == expected
    # the CSV log continues: the resumed run's metrics.csv is the uninterrupted run's, row for row
    logged = [pd.read_csv(d / "logs" / "metrics.csv") for d in (tmp_path / "full", crashed)]
    assert logged[0]["val/balanced_acc"].notna().sum() == 2  # both epochs validated
    pd.testing.assert_frame_equal(logged[1], logged[0])
    info = json.loads((crashed / "run_info.json").read_text())
    assert info["resumed_from"] == str(crashed / "checkpoints" / "last.ckpt")


def test_resume_without_a_checkpoint_says_where_it_looked(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"ckpt_path=last: no checkpoint at .*checkpoints/last\.ckpt"):
        run_in(make_cfg, tmp_path / "empty", "ckpt_path=last")

"""Cluster and search configs: hydra/launcher=submitit_slurm composes with its documented defaults;
hparams_search=optuna runs its trials (tiny model) and writes the best parameters."""

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CONF_DIR, FAST
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]


def test_submitit_slurm_launcher_follows_the_trainer():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "hydra/launcher=submitit_slurm",
                "trainer=ddp",
                "trainer.devices=4",
                "trainer.num_nodes=2",
                "hydra.launcher.partition=gpu",
            ],
            return_hydra_config=True,
        )
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"] == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["nodes"]) == (4, 4, 2)
    assert (launcher["partition"], launcher["timeout_min"], launcher["cpus_per_task"]) == ("gpu", 1440, 8)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.sync_batchnorm


def _search(sweep_dir: Path, synthetic_root: Path, monkeypatch, *overrides: str) -> dict:
    """`python train.py -m hparams_search=optuna` with two trials (tiny model); optimization_results.yaml."""
    monkeypatch.chdir(sweep_dir.parent)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "train.py",
            "-m",
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=2",
            f"hydra.sweep.dir={sweep_dir}",
            *FAST,
            f"data.root={synthetic_root}",
            *overrides,
        ],
    )
    spec = importlib.util.spec_from_file_location("__main__", ROOT / "train.py")  # as `python train.py` loads it
    GlobalHydra.instance().clear()
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # runs main() as `python train.py` does
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def test_optuna_search_tries_out_with_fast_dev_run(synthetic_root, tmp_path, monkeypatch):
    """No checkpoint score under fast_dev_run: each trial returns the last validation value, none fails."""
    no_failures = "hydra.sweeper.max_failure_rate=0.0"  # a trial returning None would stop the search
    results = _search(tmp_path / "sweep", synthetic_root, monkeypatch, "trainer.fast_dev_run=true", no_failures)
    assert 0.0 <= results["best_value"] <= 1.0


@pytest.mark.slow  # ~80 s of CPU: two trainings, reports
def test_optuna_search_runs_two_trials_and_writes_the_best_parameters(synthetic_root, tmp_path, monkeypatch):
    sweep_dir = tmp_path / "sweep"
    results = _search(sweep_dir, synthetic_root, monkeypatch, "trainer.max_epochs=1", "callbacks.early_stopping=null")
    assert set(results["best_params"]) == {"optimizer.lr", "loss", "augmentation"}
    assert 1e-5 <= results["best_params"]["optimizer.lr"] <= 1e-2
    assert 0.0 <= results["best_value"] <= 1.0
    jobs = sorted(p.name for p in sweep_dir.iterdir() if (p / "metrics.json").exists())
    assert jobs == ["0", "1"]
    summary = (sweep_dir / "summary.csv").read_text()
    assert "optimizer.lr" in summary and "loss" in summary

"""Entry point: `python train.py [overrides]`, `python train.py -m ...` for sweeps (see README)."""

import logging
import warnings

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from skinlight.console import print_config_tree
from skinlight.errors import SkinlightError, exit_on_user_error, user_message
from skinlight.train import run

log = logging.getLogger("skinlight")
# conf/hydra/launcher/submitit_slurm.yaml replaces the plugin's config of that name on purpose
warnings.filterwarnings("ignore", message="'hydra/launcher/submitit_slurm' is validated against ConfigStore schema")


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    if cfg.get("print_config"):
        print_config_tree(cfg)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        try:
            metrics = run(cfg, hydra_cfg.runtime.output_dir)
        except SkinlightError as e:  # log it; the sweep goes on with the next job
            log.error("%s", user_message(e))
            raise
    else:
        with exit_on_user_error():
            metrics = run(cfg, hydra_cfg.runtime.output_dir)
    return metrics[cfg.optimized_metric] if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    main()

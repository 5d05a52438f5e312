"""Entry point: `python eval.py ckpt_path=... | ensemble=... [overrides]` (see conf/eval.yaml and README)."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from skinlight.errors import exit_on_user_error
from skinlight.evaluation.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()

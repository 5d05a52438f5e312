"""Entry point: `python explain.py ckpt_path=... [n=16] [data=... data.root=...]` (see conf/explain.yaml)."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from skinlight.errors import exit_on_user_error
from skinlight.evaluation.explain import explain


@hydra.main(version_base="1.3", config_path="conf", config_name="explain")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        explain(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()

"""Entry point: `python explain.py ckpt_path=... [n=16] [data=... data.root=...]` (see conf/explain.yaml)."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from skinlight.errors import SkinlightError
from skinlight.evaluation.explain import explain


@hydra.main(version_base="1.3", config_path="conf", config_name="explain")
def main(cfg: DictConfig) -> None:
    try:
        explain(cfg, HydraConfig.get().runtime.output_dir)
    except SkinlightError as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()

"""Entry point: `python predict.py ckpt_path=... input=<image, folder or CSV> [output=FILE]` (see conf/predict.yaml)."""

import hydra
from omegaconf import DictConfig

from skinlight.errors import exit_on_user_error
from skinlight.inference.classify import predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        predict(
            cfg.ckpt_path,
            cfg.input,
            cfg.output,
            cfg.batch_size,
            cfg.num_workers,
            cfg.tta.views,
            cfg.device,
            crops=cfg.tta.get("crops"),
        )


if __name__ == "__main__":
    main()

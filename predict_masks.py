"""Entry point: `python predict_masks.py ckpt_path=... input=<folder> [output=DIR] [truth=DIR] [tta=d4]
[postprocess=largest_filled]` (conf/predict_masks)."""

import hydra
from omegaconf import DictConfig

from skinlight.errors import exit_on_user_error
from skinlight.inference.segment import run_prediction


@hydra.main(version_base="1.3", config_path="conf", config_name="predict_masks")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        run_prediction(
            cfg.ckpt_path,
            cfg.input,
            cfg.output,
            cfg.batch_size,
            cfg.device,
            cfg.threshold,
            cfg.truth,
            tta=cfg.tta,
            postprocess=cfg.postprocess,
        )


if __name__ == "__main__":
    main()

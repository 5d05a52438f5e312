"""Entry point: `python demo.py ckpt_path=... [seg_ckpt=...] [host=... port=...]` (see conf/demo.yaml)."""

import hydra
from omegaconf import DictConfig

from skinlight.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="conf", config_name="demo")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        from skinlight.demo import serve  # gradio loads only for the demo

        serve(cfg)


if __name__ == "__main__":
    main()

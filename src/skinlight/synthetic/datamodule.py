"""data=synthetic: the embedded synthetic HAM10000 as a datamodule, generated into data.root on first use."""

from __future__ import annotations

import json
import logging

from skinlight.data.classification import HAM10000DataModule
from skinlight.errors import DataError
from skinlight.synthetic.ham10000 import generate_ham10000

log = logging.getLogger(__name__)


class SyntheticHAM10000DataModule(HAM10000DataModule):
    """The embedded synthetic HAM10000: generated into `root` on first use, then reused."""

    def __init__(
        self, root: str, num_lesions: int = 1000, generator_seed: int = 0, width: int = 600, height: int = 450, **kwargs
    ):
        super().__init__(root, **kwargs)
        self.generator_args = dict(num_lesions=num_lesions, seed=generator_seed, image_size=(width, height))

    def prepare_data(self) -> None:
        manifest = self.root / "synthetic.json"
        if not manifest.exists():
            log.info("generating synthetic HAM10000 into %s", self.root)
            generate_ham10000(self.root, **self.generator_args)
            return
        written = json.loads(manifest.read_text())
        wanted = {**self.generator_args, "image_size": list(self.generator_args["image_size"])}
        differing = {k: (written.get(k), v) for k, v in wanted.items() if written.get(k) != v}
        if differing:
            raise DataError(
                f"{self.root} holds synthetic data made with other settings {differing} "
                "(found, wanted); choose another data.root or delete that folder"
            )

"""A paper's own protocol scores higher on its own test set than the honest one: the leak, measured.

Elgohary et al. 2024 duplicate every image before an 80:20 split by image and choose nothing on a
validation split (`data.protocol=published`): copies of most minority-class test images are trained
on. The same recipe, seed and budget with the honest protocol (lesion-grouped split, duplication of
the train split only) is the comparison. Run with `pytest -n 0 -m slow tests/test_published_protocol.py -s`
to see both numbers; docs/recipes/elgohary2024.md gives them on the real HAM10000.
"""

import json

import pytest

from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.train import run

SETTINGS = [
    "experiment=elgohary2024_cls",
    "data=ham10000",
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.max_epochs=15",
    "logger=csv",
    "callbacks.progress_bar=null",
]


@pytest.mark.slow
@pytest.mark.long
def test_published_protocol_scores_higher_than_the_honest_one(compose_cfg, tmp_path):
    root = tmp_path / "ham"
    generate_ham10000(root, num_lesions=300, seed=1, image_size=(120, 90), workers=1)
    scores = {}
    for protocol in ("honest", "published"):
        cfg = compose_cfg([*SETTINGS, f"data.protocol={protocol}"], root, tmp_path / protocol)
        scores[protocol] = run(cfg, tmp_path / protocol)["test/balanced_acc"]
        leaks = json.loads((tmp_path / protocol / "run_info.json").read_text())["protocol"]["leaks"]
        assert len(leaks) == (0 if protocol == "honest" else 3), leaks
    honest, published = scores["honest"], scores["published"]
    print(f"\nelgohary2024_cls test balanced accuracy: honest {honest:.4f}, published {published:.4f}")
    assert published > honest + 0.05, scores

"""RandAugment / TrivialAugment (augmentation=randaugment|trivialaugment): the presets, bad settings, and
randomness drawn from the albumentations generator (seeded, resumable, independent of torch's global one)."""

from pathlib import Path

import albumentations as A
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from skinlight.data.auto_augment import RandAugment, TrivialAugment
from skinlight.data.datasets import LesionImageDataset
from skinlight.data.transforms import build_transform, seed_worker_transform
from skinlight.errors import ConfigError
from skinlight.synthetic.draw import draw_lesion_image, sample_lesion, sample_view
from skinlight.train import build_datamodule

CONF = Path(__file__).resolve().parents[1] / "conf"
POLICIES = {"randaugment": RandAugment, "trivialaugment": TrivialAugment}
FLIPS = [A.HorizontalFlip, A.VerticalFlip, A.RandomRotate90]


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return draw_lesion_image(sample_lesion("bcc", rng), sample_view(rng), (48, 36), rng)[0]


def _preset(name: str, *overrides: str) -> list:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"augmentation={name}", *overrides])
    return instantiate(cfg.augmentation.train)


def _draws(transform, image, n=8):
    return [transform(image=image)["image"] for _ in range(n)]


@pytest.mark.parametrize("name", POLICIES)
def test_presets_are_the_flips_then_the_policy(name):
    steps = _preset(name)
    assert [type(s) for s in steps] == [*FLIPS, POLICIES[name]]
    if name == "randaugment":
        assert (steps[-1].num_ops, steps[-1].magnitude) == (2, 9)  # torchvision's defaults
        tuned = _preset(name, "augmentation.train.3.num_ops=3", "augmentation.train.3.magnitude=15")[-1]
        assert (tuned.policy.num_ops, tuned.policy.magnitude) == (3, 15)


@pytest.mark.parametrize("policy", [RandAugment, TrivialAugment])
def test_same_seed_same_images_other_seed_other_images_whatever_torchs_global_seed(policy, image):
    torch.manual_seed(0)
    first = _draws(build_transform(32, [policy()], seed=7), image)
    torch.manual_seed(123)  # torch's global generator plays no part ...
    state = torch.get_rng_state()
    again = _draws(build_transform(32, [policy()], seed=7), image)
    assert torch.equal(torch.get_rng_state(), state)  # ... and is left as it was
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    other = _draws(build_transform(32, [policy()], seed=8), image)
    assert sum(not torch.equal(a, b) for a, b in zip(first, other)) >= 4
    assert sum(not torch.equal(first[0], b) for b in first[1:]) >= 4  # a new draw per call


@pytest.mark.parametrize("policy", [RandAugment, TrivialAugment])
def test_restored_generator_states_repeat_the_draws(policy, image):
    """What callbacks.RandomStateCheckpoint saves (each transform's numpy and python generators) is all a
    resumed run needs to continue the augmentation exactly."""
    transform = build_transform(32, [*(f(p=0.5) for f in FLIPS), policy()], seed=3)
    _draws(transform, image, 3)
    saved = [(t.random_generator.bit_generator.state, t.py_random.getstate()) for t in _generators(transform)]
    uninterrupted = _draws(transform, image, 5)
    resumed = build_transform(32, [*(f(p=0.5) for f in FLIPS), policy()], seed=99)
    for t, (numpy_state, python_state) in zip(_generators(resumed), saved):
        t.random_generator.bit_generator.state = numpy_state
        t.py_random.setstate(python_state)
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted, _draws(resumed, image, 5)))


def _generators(compose):
    """The Compose and its transforms, as callbacks.RandomStateCheckpoint collects them."""
    return [compose, *compose.transforms]


def test_randaugment_runs_torchvisions_policy(image):
    """The wrapper is torchvision's RandAugment, run under the seed it drew from the albumentations generator."""
    step = RandAugment(num_ops=3, magnitude=12)
    step.set_random_seed(5)
    seed = int(np.random.default_rng(5).integers(2**63))
    torch.manual_seed(seed)
    expected = v2.RandAugment(num_ops=3, magnitude=12)(torch.from_numpy(image).permute(2, 0, 1)).permute(1, 2, 0)
    out = step(image=image)["image"]
    assert out.dtype == np.uint8 and out.shape == image.shape and np.array_equal(out, expected.numpy())


def test_workers_do_not_repeat_each_other(image, tmp_path):
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "lesion.png")
    dataset = LesionImageDataset([tmp_path / "lesion.png"] * 4, [0] * 4, build_transform(32, [RandAugment()], seed=7))
    loader = DataLoader(dataset, batch_size=1, num_workers=2, worker_init_fn=seed_worker_transform)
    batches = [b["image"] for b in loader]  # items 0 and 1 are the first items of workers 0 and 1
    assert not torch.equal(batches[0], batches[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_ops": 0}, "RandAugment num_ops=0: use a whole number >= 1"),
        ({"num_ops": 1.5}, "RandAugment num_ops=1.5: use a whole number >= 1"),
        ({"magnitude": 31}, "RandAugment magnitude=31: use a whole number from 0 to 30"),
        ({"magnitude": -1}, "RandAugment magnitude=-1: use a whole number from 0 to 30"),
        ({"magnitude": 4.5}, "RandAugment magnitude=4.5: use a whole number from 0 to 30"),
    ],
)
def test_bad_settings_say_what_to_change(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        RandAugment(**kwargs)


def test_bad_magnitude_in_the_config_stops_at_start_up(make_cfg):
    with pytest.raises(ConfigError, match=r"^RandAugment magnitude=40: "):
        build_datamodule(make_cfg("augmentation=randaugment", "augmentation.train.3.magnitude=40"))


def test_non_rgb_input_is_refused():
    with pytest.raises(ValueError, match="TrivialAugment needs a uint8 RGB image"):
        TrivialAugment()(image=np.zeros((8, 8, 3), np.float32))

"""Train-split samplers: per-class counts per epoch, no val/test lesion in training, epochs, DDP sharding."""

from collections import Counter

import numpy as np
import pytest
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from torch.utils.data import RandomSampler, SequentialSampler, WeightedRandomSampler

from skinlight.data.samplers import ClassResampler, duplicate, oversample, undersample, weighted
from skinlight.errors import ConfigError
from skinlight.train import build_datamodule, run

LABELS = np.repeat([0, 1, 2], [50, 7, 3])
NAMES = ["a", "b", "c"]


def _label_counts(indices, labels=LABELS) -> list[int]:
    return np.bincount(labels[list(indices)], minlength=3).tolist()


def test_duplicate_sampler_yields_the_configured_counts_and_never_leaks_a_lesion(make_cfg):
    cfg = make_cfg("sampler=duplicate")
    dm = build_datamodule(cfg)
    dm.setup("fit")
    factors = cfg.sampler.factors
    train = dm.table[dm.table["split"] == "train"]
    expected = [int((train["label"] == i).sum()) * factors[c] for i, c in enumerate(dm.classes)]

    loader = dm.train_dataloader()
    seen = np.zeros(len(dm.classes), int)
    for batch in loader:
        seen += np.bincount(batch["label"].numpy(), minlength=len(dm.classes))
    print(
        "train images per class:",
        dict(zip(dm.classes, np.bincount(train["label"], minlength=7).tolist())),
        "\nimages per class in one epoch:",
        dict(zip(dm.classes, seen.tolist())),
        "expected:",
        expected,
    )
    assert seen.tolist() == expected and len(loader.sampler) == sum(expected)

    drawn = [dm.datasets["train"].paths[i] for i in loader.sampler]
    lesion_of = dict(zip(dm.table["path"], dm.table["lesion_id"]))
    drawn_lesions = {lesion_of[p] for p in drawn}
    held_out = set(dm.table.loc[dm.table["split"] != "train", "lesion_id"])
    print(
        f"lesions drawn: {len(drawn_lesions)}, val/test lesions: {len(held_out)}, "
        f"shared: {len(drawn_lesions & held_out)}"
    )
    assert drawn_lesions == set(train["lesion_id"]) and not drawn_lesions & held_out
    for split in ("val", "test"):  # untouched: every image once, in order
        loader = getattr(dm, f"{split}_dataloader")()
        assert isinstance(loader.sampler, SequentialSampler) and len(loader.sampler) == len(dm.datasets[split])


def test_oversample_draws_every_class_up_to_the_majority_and_varies_by_epoch():
    sampler = oversample(LABELS, NAMES, seed=0)
    first = list(sampler)
    assert len(sampler) == 150 and _label_counts(first) == [50, 50, 50]
    counts = np.bincount(first, minlength=60)
    assert (counts[50:57] >= 7).all() and (counts[57:] >= 16).all()  # whole copies of every minority image
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_undersample_draws_the_minority_count_with_a_new_subset_each_epoch():
    sampler = undersample(LABELS, NAMES, seed=0)
    epochs = [list(sampler) for _ in range(3)]  # __iter__ advances the epoch when set_epoch is not called
    assert all(_label_counts(e) == [3, 3, 3] and len(set(e)) == 9 for e in epochs)
    assert len({frozenset(e) for e in epochs}) == 3


def test_weighted_sampler_makes_classes_about_equally_frequent():
    labels = np.repeat([0, 1, 2], [2700, 270, 30])
    sampler = weighted(labels, NAMES, seed=0)
    counts = _label_counts(sampler, labels)
    assert len(sampler) == 3000 and all(abs(c - 1000) < 150 for c in counts)


def test_duplicate_factors_must_cover_every_class():
    assert _label_counts(duplicate(LABELS, NAMES, {"a": 1, "b": 3, "c": 10, "other": 5})) == [50, 21, 30]
    with pytest.raises(ConfigError, match=r"sampler.factors has no entry for class\(es\) \['c'\]"):
        duplicate(LABELS, NAMES, {"a": 1, "b": 3})
    with pytest.raises(ConfigError, match=r"whole numbers >= 1, got \{'b': 0\}"):
        duplicate(LABELS, NAMES, {"a": 1, "b": 0, "c": 2})


@pytest.mark.parametrize("make", [oversample, undersample])
def test_ddp_ranks_share_one_epoch(make):
    """What Lightning does under DDP (use_distributed_sampler=True): wrap, shard, forward set_epoch."""
    ranks = [
        DistributedSamplerWrapper(make(LABELS, NAMES, seed=3), num_replicas=2, rank=r, shuffle=False) for r in range(2)
    ]
    epoch = []
    for wrapper in ranks:
        wrapper.set_epoch(5)
        epoch += list(wrapper)
    sampler = make(LABELS, NAMES, seed=3)
    sampler.set_epoch(5)
    reference = list(sampler)
    # the ranks together draw the epoch, padded to a multiple of the world size (9 -> 10 for undersample)
    padding = Counter(epoch) - Counter(reference)
    assert Counter(reference) <= Counter(epoch) and sum(padding.values()) == len(reference) % 2


@pytest.mark.parametrize(
    "option, sampler",
    [
        ("none", RandomSampler),
        ("weighted", WeightedRandomSampler),
        ("oversample", ClassResampler),
        ("undersample", ClassResampler),
        ("duplicate", ClassResampler),
    ],
)
def test_every_sampler_option_reaches_the_train_loader(make_cfg, option, sampler):
    dm = build_datamodule(make_cfg(f"sampler={option}"))
    dm.setup("fit")
    assert type(dm.train_dataloader().sampler) is sampler


def test_a_run_with_a_sampler(make_cfg):
    cfg = make_cfg("sampler=oversample", "trainer.fast_dev_run=true")
    assert 0.0 <= run(cfg, cfg.hydra.runtime.output_dir)["test/balanced_acc"] <= 1.0

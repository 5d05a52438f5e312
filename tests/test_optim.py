"""Learning rates: the per-step warmup-cosine schedule (through real fits, with gradient accumulation and a
resume), backbone/head and layer-wise parameter groups, and gradient clipping in a real fit."""

import math

import lightning.pytorch as L
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from skinlight.errors import ConfigError
from skinlight.models.classifier import Classifier
from skinlight.train import run

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
# 4 train batches an epoch on the session's synthetic data (data.batch_size=16)
SHORT = ["trainer.max_epochs=3", "callbacks.early_stopping=null", "intervals.resamples=0", "optimizer.lr=0.01"]


class LrProbe(L.Callback):
    """The learning rate of every group at each optimizer step (class-level: run() builds the instance)."""

    seen: list = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        LrProbe.seen.append([g["lr"] for g in optimizer.param_groups])


class GradProbe(L.Callback):
    """Gradients before clipping (on_before_optimizer_step) and as the optimizer used them (batch end)."""

    before: list = []
    after: list = []

    @staticmethod
    def grads(pl_module):
        return torch.cat([p.grad.flatten() for p in pl_module.parameters() if p.grad is not None])

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        GradProbe.before.append(self.grads(pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        GradProbe.after.append(self.grads(pl_module))


class Interrupt(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def expected_lr(step: int, lr: float, warmup: int, total: int, min_lr: float) -> float:
    """Step `step` (1-based) of a linear warmup over `warmup` steps, then cosine to min_lr at step `total`."""
    if step <= warmup:
        return lr * step / warmup
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2


def fit(make_cfg, run_dir, *overrides, probe=LrProbe):
    LrProbe.seen, GradProbe.before, GradProbe.after = [], [], []
    cfg = make_cfg(*SHORT, f"+callbacks.probe._target_={__name__}.{probe.__name__}", *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    run(cfg, run_dir)
    return cfg


def test_warmup_cosine_per_step_lrs_follow_the_formula_in_every_group(make_cfg, tmp_path):
    fit(
        make_cfg,
        tmp_path,
        "scheduler=warmup_cosine",
        "scheduler.warmup_epochs=1.5",
        "scheduler.min_lr=1e-4",
        "model.lr_groups.backbone_scale=0.5",
        "trainer.log_every_n_steps=1",
    )
    total, warmup = 3 * 4, 6
    backbone, head = zip(*LrProbe.seen)
    assert len(head) == total
    for lrs, base in ((head, 0.01), (backbone, 0.005)):
        assert list(lrs) == pytest.approx([expected_lr(n, base, warmup, total, 1e-4) for n in range(1, total + 1)])
    assert head[0] == pytest.approx(0.01 / 6) and max(head) == pytest.approx(0.01) == head[warmup - 1]
    assert all(a < b for a, b in zip(head[:warmup], head[1:warmup])) and head[-1] == pytest.approx(1e-4)
    logged = pd.read_csv(tmp_path / "logs" / "metrics.csv").dropna(subset=["lr-Adam/head"])
    assert logged["lr-Adam/head"].tolist() == pytest.approx(list(head))  # the LR monitor logs every step


def test_warmup_cosine_counts_optimizer_steps_with_gradient_accumulation(make_cfg, tmp_path):
    fit(make_cfg, tmp_path, "scheduler=warmup_cosine", "scheduler.min_lr=0", "trainer.accumulate_grad_batches=3")
    total = 3 * math.ceil(4 / 3)  # 4 batches an epoch: optimizer steps after batches 3 and 4
    assert [lr for (lr,) in LrProbe.seen] == pytest.approx([expected_lr(n, 0.01, 2, total, 0) for n in range(1, 7)])


def test_a_resumed_run_continues_the_schedule(make_cfg, tmp_path):
    schedule = ["scheduler=warmup_cosine", "scheduler.warmup_epochs=0.5", "trainer.deterministic=true"]
    fit(make_cfg, tmp_path / "full", *schedule)
    uninterrupted = LrProbe.seen
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(make_cfg, tmp_path / "crashed", *schedule, f"+callbacks.interrupt._target_={__name__}.Interrupt")
    first_epoch = LrProbe.seen
    fit(make_cfg, tmp_path / "crashed", *schedule, "ckpt_path=last")
    assert len(first_epoch) == 4 and first_epoch + LrProbe.seen == uninterrupted
    assert [lr for (lr,) in uninterrupted] == pytest.approx([expected_lr(n, 0.01, 2, 12, 1e-6) for n in range(1, 13)])


def test_a_warmup_as_long_as_the_run_is_refused(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"scheduler.warmup_epochs=3 is 12 optimizer steps"):
        fit(make_cfg, tmp_path, "scheduler=warmup_cosine", "scheduler.warmup_epochs=3")


def build(make_cfg, *overrides) -> Classifier:
    cfg = make_cfg("scheduler=none", "optimizer.lr=0.001", *overrides)
    Classifier.check_config(OmegaConf.to_container(cfg.model, resolve=True))
    kwargs = OmegaConf.to_container(cfg.model, resolve=True)
    kwargs.pop("_target_")
    return Classifier(**kwargs, class_names=CLASSES, class_counts=[10] * 7)


def groups_of(model: Classifier) -> dict[str, tuple[float, set[int]]]:
    optimizer = model.configure_optimizers()
    return {g.get("name", "all"): (g["lr"], {id(p) for p in g["params"]}) for g in optimizer.param_groups}


def test_default_is_one_group_and_plateau_or_cosine_stay_epoch_schedulers(make_cfg):
    model = build(make_cfg)
    assert list(groups_of(model)) == ["all"]
    for scheduler in ("plateau", "cosine"):
        model = build(make_cfg, f"scheduler={scheduler}")
        config = model.configure_optimizers()["lr_scheduler"]
        assert config["monitor"] == "val/balanced_acc" and "interval" not in config  # Lightning's default: epoch


def test_backbone_scale_gives_the_backbone_its_own_lr(make_cfg):
    model = build(make_cfg, "model.lr_groups.backbone_scale=0.1")
    groups = groups_of(model)
    assert groups["backbone"] == (pytest.approx(1e-4), {id(p) for p in model.backbone.parameters()})
    head = {id(p) for m in (model.head, model.classifier) for p in m.parameters()}
    assert groups["head"] == (pytest.approx(1e-3), head)
    assert len(head) + len(groups["backbone"][1]) == len(list(model.parameters()))


def test_layer_decay_scales_each_earlier_layer_group(make_cfg):
    model = build(make_cfg, "model.lr_groups.backbone_scale=0.5", "model.lr_groups.layer_decay=0.5")
    groups = groups_of(model)
    assert list(groups) == ["backbone.0", "backbone.1", "backbone.2", "backbone.3", "backbone.4", "head"]
    for i in range(5):  # test_resnet: stem, layer1..layer4; the deepest at the backbone's lr
        assert groups[f"backbone.{i}"][0] == pytest.approx(1e-3 * 0.5 * 0.5 ** (4 - i))
    assert {id(p) for p in model.backbone.conv1.parameters()} <= groups["backbone.0"][1]
    assert {id(p) for p in model.backbone.layer4.parameters()} == groups["backbone.4"][1]
    assert groups["head"][0] == pytest.approx(1e-3)
    assert sum(len(ids) for _, ids in groups.values()) == len(list(model.parameters()))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.lr_groups.backbone_scale=0", r"model.lr_groups.backbone_scale=0 must be a number > 0"),
        ("model.lr_groups.layer_decay=1.5", r"model.lr_groups.layer_decay=1.5 must be null or a number in \(0, 1\]"),
        ("+model.lr_groups.head_scale=2", r"model.lr_groups.head_scale is not an option"),
    ],
)
def test_bad_lr_groups_are_one_clear_error(make_cfg, override, message):
    with pytest.raises(ConfigError, match=message):
        build(make_cfg, override)


def test_layer_decay_needs_timm_layer_groups(make_cfg):
    model = build(make_cfg, "model.lr_groups.layer_decay=0.5", "model.features_at=layer3")  # a torch.fx graph
    with pytest.raises(ConfigError, match=r"model.lr_groups.layer_decay=0.5: .* has no timm layer groups"):
        model.configure_optimizers()


@pytest.mark.parametrize(("algorithm", "bound"), [("norm", 0.05), ("value", 1e-3)])
def test_gradient_clipping_bounds_the_gradients_of_a_real_fit(make_cfg, tmp_path, algorithm, bound):
    clipping = [f"trainer.gradient_clip_val={bound}", f"trainer.gradient_clip_algorithm={algorithm}"]
    fit(make_cfg, tmp_path, "trainer.max_epochs=1", *clipping, probe=GradProbe)
    size = (lambda g: g.norm()) if algorithm == "norm" else (lambda g: g.abs().max())
    assert len(GradProbe.after) == 4 and max(size(g) for g in GradProbe.before) > 2 * bound  # clipping had work
    assert all(size(g) <= bound * (1 + 1e-5) for g in GradProbe.after)

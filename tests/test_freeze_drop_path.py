"""model.freeze_backbone_epochs (real fits, and across a resume) and model.drop_path_rate (timm DropPath)."""

import json

import lightning.pytorch as L
import pytest
import torch
from omegaconf import OmegaConf, open_dict
from timm.layers import DropPath

from skinlight.errors import ConfigError
from skinlight.models.backbones import create_backbone
from skinlight.models.classifier import Classifier
from skinlight.train import run

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
FREEZE = ["callbacks.early_stopping=null", "intervals.resamples=0", "trainer.deterministic=true"]


def state(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class FreezeProbe(L.Callback):
    """Backbone and classifier state (weights, BatchNorm statistics) at the start and each epoch's end, and
    whether the backbone had gradients / BatchNorm in train mode during each epoch (class-level)."""

    states: dict = {}
    grads: dict = {}
    bn_training: dict = {}

    def on_train_start(self, trainer, pl_module):
        FreezeProbe.states["start"] = (state(pl_module.backbone), state(pl_module.classifier))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        has = any(p.grad is not None for p in pl_module.backbone.parameters())
        FreezeProbe.grads.setdefault(trainer.current_epoch, set()).add(has)
        bns = [m.training for m in pl_module.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        FreezeProbe.bn_training.setdefault(trainer.current_epoch, set()).update(bns)

    def on_train_epoch_end(self, trainer, pl_module):
        FreezeProbe.states[trainer.current_epoch] = (state(pl_module.backbone), state(pl_module.classifier))


class Interrupt(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def run_in(make_cfg, run_dir, *overrides) -> dict:
    FreezeProbe.states, FreezeProbe.grads, FreezeProbe.bn_training = {}, {}, {}
    cfg = make_cfg(*FREEZE, f"+callbacks.probe._target_={__name__}.FreezeProbe", *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    run(cfg, run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_the_backbone_is_frozen_in_the_first_epochs_then_trains(make_cfg, tmp_path):
    run_in(make_cfg, tmp_path, "model.freeze_backbone_epochs=1", "trainer.max_epochs=2")
    (backbone_0, head_0), (backbone_1, _) = FreezeProbe.states[0], FreezeProbe.states[1]
    start_backbone, start_head = FreezeProbe.states["start"]
    assert any("running_mean" in k for k in start_backbone)
    assert same(backbone_0, start_backbone) and not same(head_0, start_head)  # weights and BatchNorm stats kept
    assert FreezeProbe.grads[0] == {False} and FreezeProbe.bn_training[0] == {False}
    assert FreezeProbe.grads[1] == {True} and FreezeProbe.bn_training[1] == {True}
    changed = [k for k in backbone_1 if not torch.equal(backbone_1[k], backbone_0[k])]
    assert any("running_mean" in k for k in changed) and any(k.endswith("conv1.weight") for k in changed)


def test_a_resumed_run_keeps_the_backbone_frozen_by_epoch(make_cfg, tmp_path):
    options = ["model.freeze_backbone_epochs=2", "trainer.max_epochs=3"]
    expected = run_in(make_cfg, tmp_path / "full", *options)
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_in(make_cfg, crashed, *options, f"+callbacks.interrupt._target_={__name__}.Interrupt")
    resumed = run_in(make_cfg, crashed, *options, "ckpt_path=last")
    assert FreezeProbe.grads == {1: {False}, 2: {True}}  # epoch 1 of the resumed run: still frozen
    assert resumed == expected


def classifier(make_cfg, *overrides) -> Classifier:
    kwargs = OmegaConf.to_container(make_cfg(*overrides).model, resolve=True)
    Classifier.check_config(kwargs)
    kwargs.pop("_target_")
    return Classifier(**kwargs, class_names=CLASSES, class_counts=[10] * 7)


def test_drop_path_rate_makes_timm_drop_path_active_and_eval_deterministic(make_cfg):
    assert not any(isinstance(m, DropPath) for m in classifier(make_cfg).modules())  # null: timm's default, none
    model = classifier(make_cfg, "model.drop_path_rate=0.3")
    rates = [m.drop_prob for m in model.modules() if isinstance(m, DropPath)]
    assert rates and max(rates) == pytest.approx(0.3)  # timm's stochastic depth rule: rising to the rate
    for m in model.backbone.modules():  # timm zero-initialises each residual branch's last BatchNorm: undo it
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(m.weight)
    images = torch.rand(4, 3, 32, 32)
    torch.manual_seed(0)
    model.train()
    assert not torch.allclose(model(images), model(images))  # paths dropped at random while training
    model.eval()
    assert torch.equal(model(images), model(images))


def test_drop_path_on_a_backbone_without_it_is_one_clear_error(make_cfg):
    with pytest.raises(ConfigError, match=r"drop_path_rate=0.1: timm model 'albawi_cnn' does not take drop_path_rate"):
        create_backbone("albawi_cnn", drop_path_rate=0.1)
    with pytest.raises(ConfigError, match=r"model.drop_path_rate=1.5 must be null or a number in \[0, 1\)"):
        classifier(make_cfg, "model.drop_path_rate=1.5")
    with pytest.raises(ConfigError, match=r"model.freeze_backbone_epochs=-1 must be an integer >= 0"):
        classifier(make_cfg, "model.freeze_backbone_epochs=-1")

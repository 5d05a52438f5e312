"""Where pretrained weights come from, checked at start-up: a run that cannot get them says so in one
line instead of retrying the hub for minutes."""

from __future__ import annotations

import os
import socket

from skinlight.errors import ConfigError

HUB_HOST = "huggingface.co"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def hub_unreachable() -> str | None:
    """Why the Hugging Face Hub cannot be reached now (HF_HUB_OFFLINE=1, no connection), or None."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return "HF_HUB_OFFLINE=1"
    try:
        socket.create_connection((HUB_HOST, 443), timeout=3).close()
    except OSError as e:
        return f"{HUB_HOST} cannot be reached ({e})"
    return None


def ensure_hub_weights(what: str, cached: bool, how: str) -> None:
    """Stop with one line when the weights of `what` are not `cached` and the hub cannot be reached.

    `how` says what the user can do instead (e.g. pretrained=false, a local weights file).
    """
    if cached:
        return
    if reason := hub_unreachable():
        raise ConfigError(f"pretrained weights for {what} are not cached and {reason}: {how}")

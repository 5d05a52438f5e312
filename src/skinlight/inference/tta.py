"""Test-time augmentation and batched inference: class probabilities of a classifier over a loader.

A view is one of the 8 dihedral transforms of the square input (dermoscopy has no up or left);
conf/tta/ lists them: none = identity, flips = identity + the 3 flips, d4 = all 8. A tta config may add
`crops` (conf/tta/multicrop.yaml): ordered crops of the network input at several scales, each resized
back to the input size and seen through every view. build_views turns a tta config into the views;
mask_views pairs each dihedral view with its inverse, for masks (a crop has no exact inverse and is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from skinlight.errors import ConfigError

VIEWS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda x: x,
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "rot90": lambda x: x.rot90(1, (-2, -1)),
    "rot180": lambda x: x.rot90(2, (-2, -1)),
    "rot270": lambda x: x.rot90(3, (-2, -1)),
    "transpose": lambda x: x.transpose(-2, -1),
    "antitranspose": lambda x: x.rot90(2, (-2, -1)).transpose(-2, -1),
}

# The inverse of each view: the rotations by 90 and 270 degrees undo each other, every other view undoes itself.
INVERSES: dict[str, str] = {name: name for name in VIEWS} | {"rot90": "rot270", "rot270": "rot90"}
MaskViews = dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]]


def check_views(views: Iterable[str]) -> list[str]:
    """The view names, identity first (the plain prediction); unknown names stop here."""
    views = list(views)
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ConfigError(f"tta.views has {unknown or 'nothing'}; choose among {list(VIEWS)}")
    return ["identity", *(v for v in views if v != "identity")]


def _offset(room: int, index: int, grid: int) -> int:
    """The first pixel of crop `index` of `grid` spread evenly over `room` spare pixels (grid 1: centred)."""
    return round(room * index / (grid - 1)) if grid > 1 else room // 2


def crop_view(scale: float, row: int, col: int, grid: int) -> Callable[[Tensor], Tensor]:
    """The crop of `scale` times each side at grid position (row, col) of a (B, C, H, W) batch, resized
    back to H x W (bilinear, antialiased)."""

    def view(x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        h, w = max(1, round(scale * height)), max(1, round(scale * width))
        top, left = _offset(height - h, row, grid), _offset(width - w, col, grid)
        patch = x[..., top : top + h, left : left + w]
        return F.interpolate(patch, size=(height, width), mode="bilinear", align_corners=False, antialias=True)

    return view


def crop_views(crops: Mapping) -> dict[str, Callable[[Tensor], Tensor]]:
    """The crops of a tta config's `crops: {scales, grid}`, scale by scale, positions row by row, named
    e.g. crop0.80_r1c2 (row 1, column 2, counted from 0)."""
    if set(crops) != {"scales", "grid"}:
        raise ConfigError(f"tta.crops has keys {sorted(crops)}; give exactly scales: [fractions] and grid: N")
    scales, grid = crops["scales"], crops["grid"]
    if isinstance(scales, str | int | float) or not scales:
        raise ConfigError(f"tta.crops.scales={scales}: give a list of crop sides as fractions in (0, 1]")
    bad = [s for s in scales if isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s <= 1]
    if bad:
        raise ConfigError(f"tta.crops.scales has {bad}: each scale is a fraction of the input side in (0, 1]")
    if len({f"{s:.2f}" for s in scales}) < len(scales):
        raise ConfigError(f"tta.crops.scales={list(scales)} repeats a scale (to two decimals)")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise ConfigError(f"tta.crops.grid={grid}: give the crop positions per side, an integer >= 1")
    return {f"crop{s:.2f}_r{r}c{c}": crop_view(s, r, c, grid) for s in scales for r in range(grid) for c in range(grid)}


def _then(view: Callable[[Tensor], Tensor], crop: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: view(crop(x))


def build_views(views: Iterable[str], crops: Mapping | None = None) -> dict[str, Callable[[Tensor], Tensor]]:
    """The ordered views of a tta config (`views`, optional `crops`): each view of the whole input, identity
    first, then each view of every crop (e.g. crop0.80_r1c2, crop0.80_r1c2_hflip)."""
    names = check_views(views)
    built = {name: VIEWS[name] for name in names}
    for crop_name, crop in (crop_views(crops) if crops is not None else {}).items():
        built.update({crop_name if n == "identity" else f"{crop_name}_{n}": _then(VIEWS[n], crop) for n in names})
    return built


def mask_views(views: Iterable[str], crops: Mapping | None = None) -> MaskViews:
    """(view, inverse) of each view of a tta config, identity first: a mask predicted on view(x) is mapped back
    onto x's pixels by inverse. A tta config with `crops` stops here (a crop's mask has no exact inverse)."""
    if crops is not None:
        raise ConfigError("tta.crops is for classification; mask TTA takes dihedral views only (tta=flips or d4)")
    return {name: (VIEWS[name], VIEWS[INVERSES[name]]) for name in check_views(views)}


@torch.no_grad()
def predict_probs(
    model, loader, views: Mapping[str, Callable] | Iterable[str] = ("identity",), description: str = "predict"
) -> Tensor:
    """Softmax probabilities (V, N, C) of `model` for every batch of `loader`, one slice per view (build_views'
    mapping, or view names).

    Batches are dicts with "image" and optionally "meta" (the datamodule's items).
    """
    views = views if isinstance(views, Mapping) else build_views(views)
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for batch in tqdm(loader, desc=description, unit="batch", leave=False):
        image = batch["image"].to(device)
        meta = batch["meta"].to(device) if "meta" in batch else None
        chunks.append(torch.stack([model(view(image), meta).softmax(1).float().cpu() for view in views.values()]))
    return torch.cat(chunks, dim=1)

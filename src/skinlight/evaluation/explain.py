"""Grad-CAM grids: `python explain.py ckpt_path=... n=16` (see conf/explain.yaml).

The checkpoint classifies the `split` of `data` (as eval.py does); `n` images are chosen, half of
them misclassified (the most confident mistakes first) and half correct (round-robin over the true
classes, most confident first), fewer of one kind when the split has too few. Each gets a
Grad-CAM overlay (pytorch-grad-cam, `method`: any of its CAM classes) for the predicted class,
computed on the feature map where the head reads the backbone, with truth, prediction and
probability in its title (green: correct, red: wrong). A soft-attention head adds a second panel
per image: the sum of its K attention maps. The run directory gets gradcam.png, cases.csv and index.html.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytorch_grad_cam  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from pytorch_grad_cam.base_cam import BaseCAM  # noqa: E402
from pytorch_grad_cam.utils.image import show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from skinlight.devices import device_of  # noqa: E402
from skinlight.errors import ConfigError  # noqa: E402
from skinlight.evaluation.data import datamodule_for  # noqa: E402
from skinlight.evaluation.evaluate import SPLITS  # noqa: E402
from skinlight.inference.ensemble import load_classifier  # noqa: E402
from skinlight.inference.tta import predict_probs  # noqa: E402
from skinlight.models.heads import SoftAttentionHead  # noqa: E402
from skinlight.reports.html import run_command, write_page  # noqa: E402
from skinlight.rundir import RunDir  # noqa: E402

log = logging.getLogger(__name__)
CAM_METHODS = sorted(
    n
    for n in dir(pytorch_grad_cam)
    if isinstance(getattr(pytorch_grad_cam, n), type) and issubclass(getattr(pytorch_grad_cam, n), BaseCAM)
)


def choose_cases(probs: Tensor, labels: Tensor, n: int) -> list[int]:
    """Indices of up to `n` images: the most confident mistakes, then correct ones round-robin over classes."""
    confidence, predicted = probs.max(1)
    by_confidence = confidence.argsort(descending=True, stable=True).tolist()
    wrong = [i for i in by_confidence if predicted[i] != labels[i]]
    queues = [[i for i in by_confidence if predicted[i] == labels[i] == c] for c in range(probs.shape[1])]
    correct = [q[r] for r in range(max(map(len, queues))) for q in queues if r < len(q)]
    n_correct = min(len(correct), n - min(len(wrong), n // 2))
    return wrong[: n - n_correct] + correct[:n_correct]


class _BoundMeta(nn.Module):
    """image -> logits of a classifier, its metadata (if any) bound: the one-argument model pytorch-grad-cam calls."""

    def __init__(self, classifier, meta: Tensor | None):
        super().__init__()
        self.classifier, self.meta = classifier, meta

    def forward(self, image: Tensor) -> Tensor:
        return self.classifier(image, self.meta)


def grad_cams(model, images: Tensor, meta: Tensor | None, targets: list[int], method: str = "GradCAM") -> np.ndarray:
    """(B, H, W) class activation maps in [0, 1] for the `targets` classes, on the feature map the head reads."""
    if method not in CAM_METHODS:
        raise ConfigError(f"method={method!r}: choose one of pytorch-grad-cam's {CAM_METHODS}")
    head, tap = model.head, nn.Identity()  # the identity's output is the feature map: the CAM's target layer
    model.head = nn.Sequential(tap, head)
    try:
        with getattr(pytorch_grad_cam, method)(_BoundMeta(model, meta), target_layers=[tap]) as cam:
            return cam(images, [ClassifierOutputTarget(t) for t in targets])
    finally:
        model.head = head


def attention_maps(model, images: Tensor, meta: Tensor | None) -> np.ndarray | None:
    """(B, H, W) sum of a soft-attention head's K maps, upsampled and scaled to [0, 1]; None for other heads."""
    if not isinstance(model.head, SoftAttentionHead):
        return None
    with torch.no_grad():
        model(images, meta)
    heat = nn.functional.interpolate(model.head.last_maps.sum(1, keepdim=True), images.shape[-2:], mode="bilinear")
    heat = heat[:, 0]
    return (heat / heat.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).cpu().numpy()


def plot_grid(
    images: np.ndarray,
    cams: np.ndarray,
    attention: np.ndarray | None,
    titles: list[str],
    correct: list[bool],
    path: Path,
    method: str,
) -> None:
    """One panel per image (two with attention maps): the overlays, truth/prediction in the titles."""
    panels = 1 if attention is None else 2
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols * panels, figsize=(2.3 * cols * panels, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (image, title, ok) in enumerate(zip(images, titles, correct)):
        overlays = [(cams[k], f"{title}\n{method}")]
        if attention is not None:
            overlays.append((attention[k], "soft attention"))
        for p, (heat, caption) in enumerate(overlays):
            ax = axes[k // cols, (k % cols) * panels + p]
            ax.imshow(show_cam_on_image(image, heat.astype(np.float32), use_rgb=True))
            ax.set_title(caption, fontsize=8, color="tab:green" if ok else "tab:red")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def explain(cfg: DictConfig, out_dir: str | Path) -> pd.DataFrame:
    """Write gradcam.png, cases.csv and index.html (the two in one page) into `out_dir` for `cfg.n` images of
    `cfg.split`; return the cases."""
    out_dir = Path(out_dir)
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r}: choose one of {list(SPLITS)}")
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise ConfigError(f"n={cfg.n}: give the number of images to show (an integer >= 1)")
    model = load_classifier(cfg.ckpt_path).to(device_of(cfg.device)).eval()
    datamodule = datamodule_for(cfg, model, cfg.ckpt_path, cfg.split)
    rows = datamodule.table[datamodule.table.split == cfg.split].reset_index(drop=True)
    probs = predict_probs(model, getattr(datamodule, f"{cfg.split}_dataloader")(), description="classify")[0]
    labels = torch.tensor(rows.label.to_numpy())
    cases = choose_cases(probs, labels, cfg.n)
    items = [datamodule.datasets[cfg.split][i] for i in cases]
    device = next(model.parameters()).device
    images = torch.stack([item["image"] for item in items]).to(device)
    meta = torch.stack([item["meta"] for item in items]).to(device) if model.fusion is not None else None
    predicted = probs[cases].argmax(1).tolist()
    cams = grad_cams(model, images, meta, predicted, cfg.method)
    attention = attention_maps(model, images, meta)
    shown = images.cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float32)  # inputs are in [0, 1]
    classes = list(datamodule.classes)
    table = rows.loc[cases, ["image_id", "path"]].assign(
        label=[classes[labels[i]] for i in cases],
        prediction=[classes[p] for p in predicted],
        probability=probs[cases].max(1).values.numpy(),
    )
    table["correct"] = table.label == table.prediction
    titles = [f"{r.image_id}\ntrue {r.label} / pred {r.prediction} {r.probability:.2f}" for r in table.itertuples()]
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_grid(shown, cams, attention, titles, table.correct.tolist(), out_dir / "gradcam.png", cfg.method)
    table.to_csv(out_dir / "cases.csv", index=False)
    write_page(out_dir, f"Grad-CAM of {cfg.ckpt_path}", run_command(RunDir(out_dir), "explain.py"))
    print(
        f"{out_dir / 'gradcam.png'}: {int(table.correct.sum())} correct and {int((~table.correct).sum())} wrong "
        f"{cfg.split} images, {cfg.method}" + (" + soft-attention maps" if attention is not None else "")
    )
    return table

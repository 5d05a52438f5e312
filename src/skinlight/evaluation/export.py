"""Export a classification checkpoint for deployment or sharing, with a parity check.

    skinlight-export <checkpoint> [--out DIR] [--image-size N]     (or python -m skinlight.evaluation.export)
    skinlight-export <checkpoint> --format hf [--out DIR] [--push-to-hub USER/REPO]

--format onnx (the default) writes DIR/model.onnx (run with onnxruntime) and DIR/model.ts (torch.jit), both
mapping an RGB image batch (B, 3, N, N) in [0, 1] (N: the checkpoint's input size; the model normalises) to
class probabilities (B, C), and checks each against the PyTorch model on a batch: the max abs difference of
probabilities must be below --atol (1e-4).

--format hf writes a Hugging Face model folder: model.safetensors, config.json (the checkpoint's record and
hyper-parameters: everything to rebuild and preprocess) and README.md, the model card
(skinlight.evaluation.model_card); it loads the folder back with Classifier.from_pretrained and checks the
probabilities (max abs difference below 1e-6). --push-to-hub uploads the folder (huggingface_hub; logged in
with `hf auth login` or HF_TOKEN) and stops with one line when the Hub cannot be reached.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from skinlight.errors import ConfigError, SkinlightError, exit_on_user_error
from skinlight.evaluation.model_card import model_card
from skinlight.inference.ensemble import load_classifier
from skinlight.models.classifier import Classifier
from skinlight.models.weights import hub_unreachable

PARITY_BATCH = 4
FORMATS = ("onnx", "hf")
HF_ATOL = 1e-6


class Probabilities(nn.Module):
    """An image-only classifier with a softmax: the deployed function, image batch -> probabilities."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, image: Tensor) -> Tensor:
        return self.classifier(image).softmax(1)


def export(
    ckpt_path: str | Path, out_dir: str | Path, image_size: int | None = None, atol: float = 1e-4
) -> dict[str, float]:
    """Write model.onnx and model.ts into `out_dir`; return each format's max abs difference of probabilities."""
    import onnxruntime

    classifier = load_classifier(ckpt_path)
    if classifier.fusion is not None:
        raise ConfigError(
            f"{ckpt_path} fuses patient metadata (meta={classifier.fusion.option}); export takes image-only models"
        )
    model = Probabilities(classifier).eval()
    size = image_size or classifier.hparams.image_size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.rand(PARITY_BATCH, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(batch).numpy()
        onnx_path, ts_path = out_dir / "model.onnx", out_dir / "model.ts"
        torch.onnx.export(
            model,
            (batch,),
            onnx_path,
            input_names=["image"],
            output_names=["probabilities"],
            dynamic_shapes={"image": {0: torch.export.Dim("batch")}},
            dynamo=True,
            external_data=False,
        )
        classifier._jit_is_scripting = True  # as LightningModule.to_torchscript: no Trainer lookups while tracing
        try:
            torch.jit.save(torch.jit.trace(model, batch), ts_path)
        finally:
            classifier._jit_is_scripting = False
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        outputs = {
            "onnx": session.run(None, {"image": batch.numpy()})[0],
            "torchscript": torch.jit.load(ts_path)(batch).numpy(),
        }
    diffs = {name: float(np.abs(out - expected).max()) for name, out in outputs.items()}
    (out_dir / "parity.json").write_text(
        json.dumps(
            {
                "batch": PARITY_BATCH,
                "image_size": size,
                "class_names": list(classifier.hparams.class_names),
                "max_abs_diff": diffs,
            },
            indent=2,
        )
        + "\n"
    )
    failed = {k: v for k, v in diffs.items() if not v < atol}
    if failed:
        raise SkinlightError(f"export parity failed: max abs difference of probabilities {failed} >= {atol}")
    return diffs


def parity_inputs(classifier: Classifier, size: int) -> tuple[Tensor, ...]:
    """A seeded batch of images in [0, 1] (and metadata vectors for a model that fuses them)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(PARITY_BATCH, 3, size, size, generator=generator)
    if classifier.fusion is None:
        return (images,)
    return images, torch.rand(PARITY_BATCH, classifier.hparams.metadata["dim"], generator=generator)


def export_hf(ckpt_path: str | Path, out_dir: str | Path, push_to_hub: str | None = None) -> float:
    """Write the model folder into `out_dir`, load it back, check it; push it to `push_to_hub` (a repo id).
    Returns the max abs difference of probabilities between the checkpoint and the folder."""
    classifier = load_classifier(ckpt_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    card, _ = model_card(classifier, ckpt_path)
    (out_dir / "README.md").write_text(card)  # before save_pretrained, which keeps an existing card
    classifier.save_pretrained(out_dir)
    inputs = parity_inputs(classifier, classifier.hparams.image_size)
    with torch.no_grad():
        expected = classifier(*inputs).softmax(1)
        loaded = Classifier.from_pretrained(out_dir)(*inputs).softmax(1)
    diff = float((loaded - expected).abs().max())
    if not diff < HF_ATOL:
        raise SkinlightError(f"export parity failed: {out_dir} gives probabilities {diff:.2e} (>= {HF_ATOL}) away")
    if push_to_hub:
        push(out_dir, push_to_hub)
    return diff


def push(folder: Path, repo_id: str) -> None:
    """Upload `folder` to the Hub model repository `repo_id` (created when missing)."""
    from huggingface_hub import create_repo, upload_folder
    from huggingface_hub.errors import HfHubHTTPError

    if reason := hub_unreachable():
        raise SkinlightError(f"--push-to-hub {repo_id}: {reason}; {folder} is written, push it later")
    try:
        create_repo(repo_id, repo_type="model", exist_ok=True)
        upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", commit_message="skinlight-export")
    except HfHubHTTPError as e:
        raise SkinlightError(f"--push-to-hub {repo_id}: {str(e).splitlines()[0]} (logged in? hf auth login)") from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="skinlight-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ckpt_path", help="a classification checkpoint (.ckpt)")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (+ TorchScript) or hf (model folder)")
    parser.add_argument("--out", help="output folder (default: <checkpoint folder>/export, or export_hf for hf)")
    parser.add_argument("--image-size", type=int, help="onnx: input size (default: the checkpoint's)")
    parser.add_argument("--atol", type=float, default=1e-4, help="onnx: parity tolerance on probabilities")
    parser.add_argument("--push-to-hub", metavar="REPO", help="hf: upload the folder to this Hub repo (user/name)")
    args = parser.parse_args(argv)
    if args.format != "hf" and args.push_to_hub:
        parser.error("--push-to-hub uploads a model folder: add --format hf")
    if args.format == "hf" and args.image_size:
        parser.error("--image-size is for --format onnx: a model folder keeps the checkpoint's input size")
    out = Path(args.out or Path(args.ckpt_path).parent / ("export_hf" if args.format == "hf" else "export"))
    with exit_on_user_error():
        if args.format == "hf":
            diff = export_hf(args.ckpt_path, out, args.push_to_hub)
            print(f"hf: {out} loads back with probabilities {diff:.2e} (< {HF_ATOL:g}) away")
            if args.push_to_hub:
                print(f"pushed to https://huggingface.co/{args.push_to_hub}")
            return
        diffs = export(args.ckpt_path, out, args.image_size, args.atol)
    for name, diff in diffs.items():
        print(f"{name}: max abs difference of probabilities {diff:.2e} (< {args.atol:g}) -> {out}")


if __name__ == "__main__":
    main()

"""Export a checkpoint for deployment (ONNX, TorchScript: classifiers and segmenters) or sharing (a Hugging Face
model folder: classifiers), with a parity check.

    skinlight-export <checkpoint> [--out DIR] [--image-size N]     (or python -m skinlight.evaluation.export)
    skinlight-export <checkpoint> --format hf [--out DIR] [--push-to-hub USER/REPO]

--format onnx (the default) writes DIR/model.onnx (run with onnxruntime) and DIR/model.ts (torch.jit), both
mapping an RGB image batch `image` (B, 3, N, N) in [0, 1] (N: the checkpoint's input size; the model
normalises) to class probabilities `probabilities` (B, C); a classifier that fuses patient metadata takes a
second input `meta` (B, F), the encoded metadata (skinlight.data.metadata.MetadataEncoder of its
hyper-parameters); a segmenter gives lesion probabilities `mask_probabilities` (B, 1, N, N). Each is checked
against the PyTorch model on a batch: the max abs difference of probabilities must be below --atol (1e-4).

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

from skinlight.checkpoints import load_checkpoint, read_checkpoint
from skinlight.errors import SkinlightError, exit_on_user_error
from skinlight.evaluation.model_card import model_card
from skinlight.inference.ensemble import load_classifier
from skinlight.models.classifier import Classifier
from skinlight.models.module import LesionModule
from skinlight.models.segmenter import Segmenter
from skinlight.models.weights import hub_unreachable

PARITY_BATCH = 4
FORMATS = ("onnx", "hf")
HF_ATOL = 1e-6


class Probabilities(nn.Module):
    """The deployed function of an image-only classifier (softmax) or a segmenter (sigmoid): images ->
    class probabilities (B, C) or lesion probabilities (B, 1, N, N)."""

    def __init__(self, module: LesionModule):
        super().__init__()
        self.module = module

    def forward(self, image: Tensor) -> Tensor:
        logits = self.module(image)
        return logits.sigmoid() if self.module.TASK == Segmenter.TASK else logits.softmax(1)


class MetaProbabilities(Probabilities):
    """A classifier that fuses patient metadata: (images, encoded metadata vectors) -> class probabilities."""

    def forward(self, image: Tensor, meta: Tensor) -> Tensor:
        return self.module(image, meta).softmax(1)


def export(
    ckpt_path: str | Path, out_dir: str | Path, image_size: int | None = None, atol: float = 1e-4
) -> dict[str, float]:
    """Write model.onnx and model.ts of a classifier or segmenter checkpoint into `out_dir`; return each format's
    max abs difference of probabilities from PyTorch's."""
    import onnxruntime

    module = load_checkpoint(ckpt_path)
    fuses = getattr(module, "fusion", None) is not None
    model = (MetaProbabilities if fuses else Probabilities)(module).eval()
    size = image_size or module.hparams.image_size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = parity_inputs(module, size)
    names = ["image", "meta"][: len(inputs)]
    output = "mask_probabilities" if module.TASK == Segmenter.TASK else "probabilities"
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        expected = model(*inputs).numpy()
        onnx_path, ts_path = out_dir / "model.onnx", out_dir / "model.ts"
        torch.onnx.export(
            model,
            inputs,
            onnx_path,
            input_names=names,
            output_names=[output],
            dynamic_shapes={name: {0: batch} for name in names},
            dynamo=True,
            external_data=False,
        )
        module._jit_is_scripting = True  # as LightningModule.to_torchscript: no Trainer lookups while tracing
        try:
            torch.jit.save(torch.jit.trace(model, inputs), ts_path)
        finally:
            module._jit_is_scripting = False
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        outputs = {
            "onnx": session.run(None, {name: x.numpy() for name, x in zip(names, inputs)})[0],
            "torchscript": torch.jit.load(ts_path)(*inputs).numpy(),
        }
    diffs = {name: float(np.abs(out - expected).max()) for name, out in outputs.items()}
    classes = {"class_names": list(module.hparams.class_names)} if module.TASK == Classifier.TASK else {}
    parity = {"batch": PARITY_BATCH, "image_size": size, "inputs": names, "output": output, **classes}
    (out_dir / "parity.json").write_text(json.dumps({**parity, "max_abs_diff": diffs}, indent=2) + "\n")
    failed = {k: v for k, v in diffs.items() if not v < atol}
    if failed:
        raise SkinlightError(f"export parity failed: max abs difference of probabilities {failed} >= {atol}")
    return diffs


def parity_inputs(module: LesionModule, size: int) -> tuple[Tensor, ...]:
    """A seeded batch of images in [0, 1] (and metadata vectors for a classifier that fuses them)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(PARITY_BATCH, 3, size, size, generator=generator)
    if getattr(module, "fusion", None) is None:
        return (images,)
    return images, torch.rand(PARITY_BATCH, module.hparams.metadata["dim"], generator=generator)


def export_hf(ckpt_path: str | Path, out_dir: str | Path, push_to_hub: str | None = None) -> float:
    """Write the model folder into `out_dir`, load it back, check it; push it to `push_to_hub` (a repo id).
    Returns the max abs difference of probabilities between the checkpoint and the folder."""
    if read_checkpoint(ckpt_path)[0] != Classifier.TASK:
        raise SkinlightError(
            f"{ckpt_path} is a segmentation checkpoint: --format hf takes a classifier (a segmenter "
            "exports with --format onnx, or Segmenter.save_pretrained in Python)"
        )
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
    parser.add_argument("ckpt_path", help="a checkpoint (.ckpt): classification, or segmentation for onnx")
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

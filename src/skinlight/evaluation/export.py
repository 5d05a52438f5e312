"""Export a classification checkpoint for deployment: ONNX and TorchScript, with a parity check.

    skinlight-export <checkpoint> [--out DIR] [--image-size N]     (or python -m skinlight.evaluation.export)

writes DIR/model.onnx (run with onnxruntime) and DIR/model.ts (torch.jit), both mapping an RGB
image batch (B, 3, N, N) in [0, 1] (N: the checkpoint's input size; the model normalises) to class
probabilities (B, C), and checks each against the
PyTorch model on a batch: the max abs difference of probabilities must be below --atol (1e-4).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from skinlight.errors import ConfigError, SkinlightError, exit_on_user_error
from skinlight.inference.ensemble import load_classifier

PARITY_BATCH = 4


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="skinlight-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ckpt_path", help="a classification checkpoint (.ckpt)")
    parser.add_argument("--out", help="output folder (default: <checkpoint folder>/export)")
    parser.add_argument("--image-size", type=int, help="input size (default: the checkpoint's)")
    parser.add_argument("--atol", type=float, default=1e-4, help="parity tolerance on probabilities")
    args = parser.parse_args(argv)
    out = args.out or Path(args.ckpt_path).parent / "export"
    with exit_on_user_error():
        diffs = export(args.ckpt_path, out, args.image_size, args.atol)
    for name, diff in diffs.items():
        print(f"{name}: max abs difference of probabilities {diff:.2e} (< {args.atol:g}) -> {out}")


if __name__ == "__main__":
    main()

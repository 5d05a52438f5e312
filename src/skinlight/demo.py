"""`python demo.py ckpt_path=... [seg_ckpt=...]`: a local Gradio app (see conf/demo.yaml).

Upload a dermoscopy image (and, for a model that fuses metadata, age, sex and site): the page shows the class
probabilities (predict.py's, from the same preprocessing), a Grad-CAM overlay for the predicted class
(explain.py's), and with a segmentation checkpoint the predicted lesion outline. A file that is not an image,
or larger than `max_upload_mb`, gets a message on the page. The uploaded file is deleted once answered, Gradio's
copies of the output images after OUTPUT_KEEP_S.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from pytorch_grad_cam.utils.image import show_cam_on_image
from torch.utils.data import DataLoader

from skinlight.checkpoints import load_checkpoint
from skinlight.data.layouts.images import load_rgb
from skinlight.data.metadata import META_COLUMNS, SEXES, SITES
from skinlight.devices import device_of
from skinlight.errors import ConfigError
from skinlight.evaluation.explain import grad_cams
from skinlight.inference.classify import encode_metadata, model_inputs
from skinlight.inference.ensemble import load_classifier
from skinlight.inference.segment import predict_masks
from skinlight.inference.tta import predict_probs

log = logging.getLogger(__name__)
OUTPUT_KEEP_S = 600  # Gradio serves the output images from files: they are deleted after this long
NOTE = (
    "**Research tool, not a diagnosis.** This model was trained for experiments on dermoscopy datasets; its "
    "output must not guide the care of a patient. See a dermatologist about any skin lesion that worries you."
)


class Demo:
    """The app's model(s) and its one answer: `answer(upload, age, sex, site)`."""

    def __init__(self, ckpt_path: str, seg_ckpt: str | None = None, max_upload_mb: float = 10, device="auto"):
        self.ckpt_path, self.max_bytes = ckpt_path, int(max_upload_mb * 1e6)
        self.device = device_of(device)
        self.model = load_classifier(ckpt_path).to(self.device).eval()
        self.segmenter = load_checkpoint(seg_ckpt, task="segmentation") if seg_ckpt else None
        self.classes = list(self.model.hparams.class_names)

    @property
    def uses_metadata(self) -> bool:
        return self.model.fusion is not None

    def _checked(self, upload: str | None) -> Path:
        if not upload:
            raise gr.Error("Upload a dermoscopy image first.")
        path = Path(upload)
        size = path.stat().st_size
        if size > self.max_bytes:
            limit = f"{self.max_bytes:,} bytes ({self.max_bytes / 1e6:g} MB)"
            raise gr.Error(f"{path.name} is {size:,} bytes: the limit is {limit}.")
        try:
            with Image.open(path) as image:
                image.verify()
        except (UnidentifiedImageError, OSError):
            raise gr.Error(f"{path.name} is not an image that can be read (JPEG, PNG, ...).") from None
        return path

    def classify(self, path: Path, age=None, sex=None, site=None) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities, Grad-CAM overlay as RGB uint8) of the image at `path`."""
        meta = None
        if self.uses_metadata:
            row = {"image": [str(path)], "age": [age], "sex": [sex or "unknown"], "localization": [site or "unknown"]}
            meta = encode_metadata(self.model, self.ckpt_path, "the form", pd.DataFrame(row)[["image", *META_COLUMNS]])
        inputs = model_inputs(self.model, [path], meta)
        probs = predict_probs(self.model, DataLoader(inputs, batch_size=1))[0, 0].numpy()  # as predict.py
        item = inputs[0]
        image = item["image"][None].to(self.device)
        meta_batch = item["meta"][None].to(self.device) if meta is not None else None
        cam = grad_cams(self.model, image, meta_batch, [int(probs.argmax())])[0]
        shown = image[0].cpu().clamp(0, 1).permute(1, 2, 0).numpy().astype(np.float32)
        return probs, show_cam_on_image(shown, cam, use_rgb=True)

    def outline(self, path: Path) -> np.ndarray:
        """The image with the segmenter's lesion mask tinted."""
        image = load_rgb(path, self.segmenter.hparams.image_size)
        (mask,) = predict_masks(self.segmenter, [image], sizes=[image.shape[:2]])
        tinted = image.copy()
        tinted[mask] = (0.5 * tinted[mask] + 0.5 * np.array([0, 255, 0])).astype(np.uint8)
        return tinted

    def answer(self, upload: str | None, age=None, sex=None, site=None):
        """The page's outputs for one upload: probabilities (label and table), Grad-CAM, lesion outline."""
        try:
            path = self._checked(upload)
            probs, cam = self.classify(path, age, sex, site)
            mask = self.outline(path) if self.segmenter is not None else None
        except ConfigError as e:  # a form value the model's encoder refuses
            raise gr.Error(str(e)) from None
        finally:
            if upload:  # keep no uploaded file (nor Gradio's folder for it)
                Path(upload).unlink(missing_ok=True)
                if not any(Path(upload).parent.iterdir()):
                    Path(upload).parent.rmdir()
        rows = [f"| {c} | {p:.6f} |" for c, p in zip(self.classes, probs)]
        table = "\n".join(["| class | probability |", "|---|---|", *rows])
        return {c: float(p) for c, p in zip(self.classes, probs)}, table, cam, mask


def build_app(demo: Demo) -> gr.Blocks:
    """The page: the note, the upload (and metadata) form, the outputs; Gradio's copies of the outputs are
    deleted after OUTPUT_KEEP_S."""
    with gr.Blocks(title="skinlight demo", delete_cache=(OUTPUT_KEEP_S, OUTPUT_KEEP_S)) as app:
        gr.Markdown("# skinlight: dermoscopy image classification")
        gr.Markdown(NOTE, elem_id="note")
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="dermoscopy image", file_count="single", type="filepath", elem_id="upload")
                inputs = [upload]
                if demo.uses_metadata:
                    inputs += [
                        gr.Number(label="age (blank: unknown)", elem_id="age"),
                        gr.Dropdown(list(SEXES), value="unknown", label="sex", elem_id="sex"),
                        gr.Dropdown(list(SITES), value="unknown", label="site", elem_id="site"),
                    ]
                button = gr.Button("Classify", variant="primary", elem_id="classify")
            with gr.Column():
                label = gr.Label(num_top_classes=3, label="prediction")
                table = gr.Markdown(elem_id="probabilities")
                cam = gr.Image(label="Grad-CAM of the predicted class", type="numpy", height=320, elem_id="gradcam")
                shown = demo.segmenter is not None
                mask = gr.Image(label="lesion (segmenter)", type="numpy", height=320, visible=shown, elem_id="mask")
        outputs = [label, table, cam, mask]
        upload.change(lambda _: (None, "", None, None), inputs=upload, outputs=outputs)  # no answer of another image
        button.click(demo.answer, inputs=inputs, outputs=outputs)
    return app


def serve(cfg) -> None:
    """Start the app of `cfg` (conf/demo.yaml) and block until it is stopped."""
    demo = Demo(cfg.ckpt_path, cfg.seg_ckpt, cfg.max_upload_mb, cfg.device)
    app = build_app(demo)
    log.info("skinlight demo on http://%s:%d (a research tool, not a diagnosis)", cfg.host, cfg.port)
    app.launch(
        server_name=cfg.host,
        server_port=cfg.port,
        max_file_size=f"{cfg.max_upload_mb}mb",
        share=False,
        show_error=True,
        prevent_thread_lock=False,
    )

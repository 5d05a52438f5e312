"""python demo.py, driven in headless Chromium: the page shows the research-tool note; an uploaded synthetic image
gets predict.py's probabilities and a Grad-CAM overlay, and is not kept; a text file is refused on the page."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTIFACTS

from skinlight.data.layouts.images import load_rgb
from skinlight.inference.classify import predict
from skinlight.rundir import RunDir
from skinlight.synthetic.segmentation import generate_isic2018
from skinlight.train import run

pytest.importorskip("gradio")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_server(make_cfg, tmp_path):
    """A trained tiny classifier served by `python demo.py` on 127.0.0.1: (url, checkpoint, Gradio's file dir)."""
    run_dir = RunDir(tmp_path / "run")
    run(make_cfg("trainer.max_epochs=1"), run_dir.path)
    ckpt, uploads, port = run_dir.checkpoint("best"), tmp_path / "gradio", _free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(uploads), "GRADIO_ANALYTICS_ENABLED": "False"}
    args = [sys.executable, str(ROOT / "demo.py"), f"ckpt_path={ckpt}", f"port={port}", "max_upload_mb=1"]
    server = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-3000:]
                time.sleep(0.5)
        yield url, ckpt, uploads
    finally:
        server.terminate()
        server.wait(timeout=30)


def _upload(browser, path: Path) -> None:
    from selenium.webdriver.common.by import By

    for clear in browser.find_elements(By.CSS_SELECTOR, "#upload button[aria-label='Clear']"):
        clear.click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))
    wait_for(browser, lambda: path.stem in browser.find_element(By.CSS_SELECTOR, "#upload").text)  # name, then suffix
    browser.find_element(By.CSS_SELECTOR, "#classify").click()


def wait_for(browser, condition, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda _: condition())


def test_the_demo_answers_an_image_as_predict_does_and_refuses_a_text_file(
    browser, demo_server, synthetic_root, tmp_path
):
    from selenium.webdriver.common.by import By

    url, ckpt, uploads = demo_server
    browser.get(url)
    note = wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#note"))[0]
    assert "Research tool, not a diagnosis" in note.text

    image = sorted(synthetic_root.rglob("*.jpg"))[0]
    _upload(browser, image)
    table = wait_for(browser, lambda: browser.find_element(By.CSS_SELECTOR, "#probabilities").text or None)
    shown = {name: float(p) for name, p in re.findall(r"^(\w+)\s+([0-9.]+)$", table, re.MULTILINE)}
    expected = predict(str(ckpt), str(image), str(tmp_path / "predict" / "predictions.csv")).iloc[0]
    assert shown.keys() == set(expected.index) - {"path", "prediction"}
    assert all(abs(shown[c] - expected[c]) < 1e-6 for c in shown)
    rendered = "return Array.from(document.querySelectorAll('#gradcam img')).filter(i => i.naturalWidth > 0).length"
    assert wait_for(browser, lambda: browser.execute_script(rendered)) == 1  # the Grad-CAM overlay
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo_answer.png"))
    uploaded = image.read_bytes()
    assert not [f for f in uploads.rglob("*") if f.is_file() and f.read_bytes() == uploaded]  # not kept

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    _upload(browser, text)
    body = browser.find_element(By.TAG_NAME, "body")
    wait_for(browser, lambda: "notes.txt is not an image that can be read" in body.text)
    assert browser.find_element(By.CSS_SELECTOR, "#probabilities").text == ""  # the earlier answer is gone
    browser.save_screenshot(str(ARTIFACTS / "demo_refusal.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_with_a_segmenter_the_demo_tints_the_predicted_lesion_and_deletes_the_upload(
    make_cfg, compose_cfg, synthetic_root, tmp_path
):
    from skinlight.demo import Demo
    from skinlight.inference.segment import predict_masks

    classifier, segmenter = RunDir(tmp_path / "run"), RunDir(tmp_path / "seg")  # make_cfg: tmp_path/run
    run(make_cfg("trainer.max_epochs=1"), classifier.path)
    isic = tmp_path / "ISIC2018"
    generate_isic2018(isic, (24, 8, 8), seed=3, image_size=(96, 72), workers=1)
    unet = ["model=unet", "model.net.encoder_name=resnet18", "model.net.pretrained=false", "data=isic2018"]
    fast = ["data.num_workers=0", "data.image_size=32", "data.batch_size=8", "trainer.accelerator=cpu"]
    run(compose_cfg([*unet, *fast, "trainer.max_epochs=1"], isic, segmenter.path), segmenter.path)
    demo = Demo(str(classifier.checkpoint("best")), str(segmenter.checkpoint("best")), device="cpu")

    image = sorted(synthetic_root.rglob("*.jpg"))[0]
    upload = tmp_path / "upload" / image.name  # Gradio's copy of an upload, in a folder of its own
    upload.parent.mkdir()
    shutil.copy(image, upload)
    probabilities, table, cam, tinted = demo.answer(str(upload))
    assert not upload.parent.exists()  # the upload and its folder are gone
    original = load_rgb(image, demo.segmenter.hparams.image_size)
    (mask,) = predict_masks(demo.segmenter, [original], sizes=[original.shape[:2]])
    assert tinted.shape == original.shape and (tinted[~mask] == original[~mask]).all()
    green = (0.5 * original[mask] + 0.5 * np.array([0, 255, 0])).astype(np.uint8)
    assert (tinted[mask] == green).all()  # the segmenter's mask at the image's size, tinted green
    assert abs(sum(probabilities.values()) - 1) < 1e-5 and cam.dtype == np.uint8


def test_a_missing_checkpoint_is_one_error_line_before_any_server_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "demo.py"), f"ckpt_path={tmp_path / 'no.ckpt'}", f"hydra.run.dir={tmp_path}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == f"error: checkpoint not found: {tmp_path / 'no.ckpt'}"
    assert "Running on" not in result.stdout


def test_a_metadata_model_reads_the_form_as_predict_reads_a_csv_and_an_oversized_upload_is_refused(
    make_cfg, synthetic_root, tmp_path
):
    import gradio as gr

    from skinlight.demo import Demo

    run_dir = RunDir(tmp_path / "run")
    run(make_cfg("meta=gessert", "trainer.max_epochs=1"), run_dir.path)
    ckpt, image = str(run_dir.checkpoint("best")), sorted(synthetic_root.rglob("*.jpg"))[0]
    demo = Demo(ckpt, device="cpu")
    assert demo.uses_metadata

    def uploaded() -> Path:
        folder = tmp_path / "upload"
        folder.mkdir(exist_ok=True)
        return Path(shutil.copy(image, folder / image.name))

    probabilities, *_ = demo.answer(str(uploaded()), 55, "female", "back")
    rows = tmp_path / "rows.csv"
    rows.write_text(f"image,age,sex,localization\n{image},55,female,back\n")
    expected = predict(ckpt, str(rows), str(tmp_path / "predict" / "predictions.csv")).iloc[0]
    assert all(abs(probabilities[c] - expected[c]) < 1e-6 for c in probabilities)
    unknown, *_ = demo.answer(str(uploaded()), None, "unknown", "unknown")
    assert unknown != probabilities  # the form's values reach the model

    small = Demo(ckpt, max_upload_mb=0.001, device="cpu")
    upload = uploaded()
    with pytest.raises(gr.Error) as refused:
        small.answer(str(upload), 55, "female", "back")
    size = image.stat().st_size
    assert refused.value.message == f"{image.name} is {size:,} bytes: the limit is 1,000 bytes (0.001 MB)."
    assert not upload.exists()

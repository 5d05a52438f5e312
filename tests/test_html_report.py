"""A trained run's report/index.html and a sweep's index.html, opened from disk in headless Chromium (Selenium
driving Debian's chromium and chromium-driver): every figure renders from the page itself, the console has no
errors, the sweep's rows link to each job's report. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ARTIFACTS

from skinlight.rundir import RunDir, sweep_jobs
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]


def open_page(browser, page: Path, screenshot: str) -> dict:
    """Load `page` from disk; return its images, external resources, text and console errors, and keep a
    screenshot in test-artifacts/."""
    browser.get(page.as_uri())
    found = browser.execute_script(
        """return {
            images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
                width: i.naturalWidth, src: i.src.slice(0, 22)})),
            resources: performance.getEntriesByType('resource').map(e => e.name),
            links: Array.from(document.links).map(a => a.href),
            text: document.body.innerText};"""
    )
    found["errors"] = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / screenshot))
    return found


def assert_renders(found: dict, report: Path) -> None:
    assert {image["alt"] for image in found["images"]} == {p.stem for p in report.glob("*.png")}
    assert all(image["complete"] and image["width"] > 0 for image in found["images"]), found["images"]
    assert all(image["src"] == "data:image/png;base64," for image in found["images"])  # in the page itself
    assert found["resources"] == [] and found["errors"] == []


def test_the_run_report_shows_metrics_tables_figures_and_the_command(browser, make_cfg, tmp_path):
    cfg = make_cfg("trainer.max_epochs=1")
    run_dir = RunDir(tmp_path / "run")
    metrics = run(cfg, run_dir.path)
    found = open_page(browser, run_dir.report / "index.html", "run_report.png")
    assert_renders(found, run_dir.report)
    assert {"confusion_matrix", "roc", "reliability", "learning_curves"} <= {i["alt"] for i in found["images"]}
    text = found["text"]
    assert f"test/balanced_acc\t{metrics['test/balanced_acc']:.4f}\t{metrics['test/balanced_acc_ci_low']:.4f}" in text
    assert "per_class" in text and "subgroups" in text
    assert "python train.py" in text and "trainer.max_epochs=1" in text
    assert (ARTIFACTS / "run_report.png").stat().st_size > 0


def test_the_sweep_index_links_each_job_to_its_report(browser, synthetic_root, tmp_path):
    sweep = tmp_path / "sweep"
    args = ["data=ham10000", f"data.root={synthetic_root}", "data.num_workers=0", "backbone=timm_test"]
    args += ["data.image_size=32", "data.batch_size=16", "data.split_seed=42", "trainer.accelerator=cpu"]
    args += ["trainer.max_epochs=1", "print_config=false"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", *args, "seed=0,1", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = open_page(browser, sweep / "index.html", "sweep_index.png")
    assert found["errors"] == [] and found["resources"] == []
    jobs = sweep_jobs(sweep)
    assert found["links"] == [(job.report / "index.html").as_uri() for job in jobs]
    for job in jobs:  # summary.md's cells: value [low, high]
        m = {k.removeprefix("test/balanced_acc"): v for k, v in job.read_metrics().items()}
        assert f"{m['']:.4f} [{m['_ci_low']:.4f}, {m['_ci_high']:.4f}]" in found["text"]
    browser.find_element("link text", "1").click()  # the second job's row
    assert browser.current_url == (jobs[1].report / "index.html").as_uri()
    assert_renders(open_page(browser, jobs[1].report / "index.html", "sweep_job_report.png"), jobs[1].report)

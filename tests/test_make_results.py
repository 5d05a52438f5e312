"""scripts/make_results.py: RESULTS.md is generated from the run directories, numbers as they are there."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_results.py"


@pytest.fixture(scope="module")
def make_results():
    spec = importlib.util.spec_from_file_location("make_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(runs: Path, name: str, metrics: dict | None, rc: str = "0") -> Path:
    run = runs / name
    (run / "report").mkdir(parents=True)
    (run / "command.txt").write_text(f"python train.py seed=7 hydra.run.dir=results/runs/{name}\n")
    (run / "hardware.txt").write_text("Test CPU\n2 cores, no GPU\n")
    (run / "wall_s.txt").write_text("600\n")
    (run / "rc.txt").write_text(rc + "\n")
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def cls_metrics(bal_acc: float) -> dict:
    return {
        "test/balanced_acc": bal_acc,
        "test/acc": 0.8,
        "test/f1_macro": 0.5,
        "test/auroc_macro": 0.9,
        "test/recall_mel": 0.25,
    }


def test_tables_comparison_and_plots_come_from_the_runs(tmp_path, make_results):
    runs = tmp_path / "runs"
    pretrained = write_run(runs, "cls_lite0_pretrained_ce", cls_metrics(0.6125))
    (pretrained / "report" / "confusion_matrix.png").write_bytes(b"png")
    (pretrained / "report" / "baselines.json").write_text(
        json.dumps({"majority_class": {"balanced_acc": 1 / 7, "acc": 0.671}})
    )
    write_run(runs, "cls_lite0_scratch_ce", cls_metrics(0.4375))
    write_run(runs, "cls_lite0_pretrained_focal", None, rc="137")
    seg = write_run(runs, "seg_ph2_unet", {"test/dice": 0.8125, "test/iou": 0.6875, "test/thresholded_jaccard": 0.5})
    (seg / "report" / "best_1_IMD002.png").write_bytes(b"png")

    text = make_results.build(runs)

    assert "| cls_lite0_pretrained_ce | 0.613 | 0.800 | 0.500 | 0.900 | 0.250 | 10 min |" in text
    assert (
        "cls_lite0_pretrained_ce beats cls_lite0_scratch_ce in balanced accuracy on the same split "
        "(0.613 vs 0.438, +0.175)" in text
    )
    assert "majority_class: balanced accuracy 0.143, accuracy 0.671" in text
    assert "cls_lite0_pretrained_focal: no metrics.json (exit code 137)" in text
    assert "| seg_ph2_unet | 0.812 | 0.688 | 0.500 |" in text
    assert f"{runs}/cls_lite0_pretrained_ce/checkpoints/best.ckpt" in text
    assert f"({runs}/cls_lite0_pretrained_ce/report/confusion_matrix.png)" in text
    assert f"({runs}/seg_ph2_unet/report/best_1_IMD002.png)" in text
    assert "Test CPU, 2 cores, no GPU" in text
    assert "## Crop-to-classify\n\nNot run yet" in text


def test_a_losing_pretrained_run_is_reported_as_such(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "cls_lite0_pretrained_ce", cls_metrics(0.3))
    write_run(runs, "cls_lite0_scratch_ce", cls_metrics(0.5))
    assert "cls_lite0_pretrained_ce does not beat cls_lite0_scratch_ce" in make_results.build(runs)


def test_seed_spread_includes_the_configuration_of_the_first_table(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "cls_lite0_pretrained_ce", cls_metrics(0.5))
    write_run(runs, "seed_s1_cls_lite0_pretrained_ce", cls_metrics(0.6))
    write_run(runs, "seed_s2_cls_lite0_pretrained_ce", cls_metrics(0.7))
    assert (
        "cls_lite0_pretrained_ce over 3 seeds: balanced accuracy mean 0.600, standard deviation 0.100, "
        "range 0.500-0.700." in make_results.build(runs)
    )


def test_crop_rows_come_with_their_full_image_row(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "cls_lite0_pretrained_ce", cls_metrics(0.5))
    write_run(runs, "crop_d16_cls_lite0_pretrained_ce", cls_metrics(0.25))
    crop_section = make_results.build(runs).split("## Crop-to-classify")[1].split("##")[0]
    assert "| cls_lite0_pretrained_ce (full image) | 0.500 |" in crop_section
    assert "| crop_d16_cls_lite0_pretrained_ce | 0.250 |" in crop_section
    assert (
        "By balanced accuracy: cls_lite0_pretrained_ce (full image) 0.500 > "
        "crop_d16_cls_lite0_pretrained_ce 0.250." in crop_section
    )


def test_ensemble_section_shows_the_table_eval_wrote(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "ens_fold0_cls_a", cls_metrics(0.5))
    evaluation = write_run(runs, "ens_5fold_flips_cls_a", cls_metrics(0.625))
    (evaluation / "table.md").write_text("| model | balanced_acc |\n|:--|--:|\n| ensemble + TTA (flips) | 0.6250 |\n")
    section = make_results.build(runs).split("## Ensemble and TTA")[1].split("##")[0]
    assert "| ens_5fold_flips_cls_a | 0.625 |" in section
    assert "ens_5fold_flips_cls_a (its table.md, written by eval.py):\n\n| model | balanced_acc |" in section
    assert "| ensemble + TTA (flips) | 0.6250 |" in section


def write_sweep(runs: Path, name: str, jobs: list[tuple[list[str], dict | None]]) -> Path:
    """A folder recorded by results/record.sh for a -m sweep: one job folder per (overrides, metrics)."""
    sweep = write_run(runs, name, None)
    (sweep / "command.txt").write_text(f"python train.py -m seed=7 hydra.sweep.dir=results/runs/{name}\n")
    (sweep / "summary.csv").write_text("job,status\n")
    for number, (overrides, metrics) in enumerate(jobs):
        job = sweep / str(number)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
        if metrics is not None:
            (job / "metrics.json").write_text(json.dumps(metrics))
    return sweep


def test_sweep_jobs_are_rows_of_their_folders_section(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "cls_a", cls_metrics(0.5))
    write_sweep(
        runs,
        "crop_cls_a",
        [
            (["loss=ce", "pipeline.dilation=0"], cls_metrics(0.25)),
            (["loss=ce", "pipeline.dilation=16"], cls_metrics(0.75)),
            (["loss=ce", "pipeline.dilation=32"], None),
        ],
    )
    write_sweep(runs, "seed_cls_a", [(["seed=1"], cls_metrics(0.625)), (["seed=2"], cls_metrics(0.875))])

    text = make_results.build(runs)

    crop = text.split("## Crop-to-classify")[1].split("##")[0]
    command = "`python train.py -m seed=7 hydra.sweep.dir=results/runs/crop_cls_a`"
    assert "| cls_a (full image) | 0.500 |" in crop
    assert (
        "| crop_cls_a/0 (pipeline.dilation=0) | 0.250 | 0.800 | 0.500 | 0.900 | 0.250 | 10 min for 3 jobs | "
        f"{command} |" in crop
    )
    assert "| crop_cls_a/1 (pipeline.dilation=16) | 0.750 |" in crop
    assert (
        "By balanced accuracy: crop_cls_a/1 (pipeline.dilation=16) 0.750 > cls_a (full image) 0.500 > "
        "crop_cls_a/0 (pipeline.dilation=0) 0.250." in crop
    )
    assert f"crop_cls_a/2 (pipeline.dilation=32): no metrics.json (exit code 0); {command}" in crop
    assert "cls_a over 3 seeds: balanced accuracy mean 0.667, standard deviation 0.191, range 0.500-0.875." in text
    assert (
        f"Best classifier by test balanced accuracy: seed_cls_a/1 (seed=2) (0.875); its checkpoint on the machine "
        f"that trained it: `{runs}/seed_cls_a/1/checkpoints/best.ckpt`" in text
    )


def test_protocol_section_compares_the_pair_without_claiming_one_split(tmp_path, make_results):
    write_run(tmp_path, "proto_elgohary2024_cls_honest", cls_metrics(0.40))
    write_run(tmp_path, "proto_elgohary2024_cls_published", cls_metrics(0.65))
    text = make_results.build(tmp_path)
    section = text.split("## A paper's own protocol beside the honest one")[1]
    assert "| proto_elgohary2024_cls_published | 0.650 |" in section
    assert (
        "proto_elgohary2024_cls_published beats proto_elgohary2024_cls_honest in balanced accuracy (0.650 vs 0.400"
        in section
    )


def write_predictions(run: Path, correct: float, seed: int) -> None:
    """predictions.csv of 300 test images of 100 lesions, right for a `correct` share of the lesions."""
    rng = np.random.default_rng(seed)
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    lesion = np.repeat(np.arange(100), 3)
    label = lesion % 7
    right = (rng.random(100) < correct)[lesion]
    predicted = np.where(right, label, (label + 1) % 7)
    table = pd.DataFrame({"image_id": [f"ISIC_{i:07d}" for i in range(300)], "lesion_id": lesion, "path": "x.jpg"})
    table["label"] = [classes[i] for i in label]
    table[classes] = np.eye(7)[predicted] * 0.9 + 0.1 / 7
    table["prediction"] = [classes[i] for i in predicted]
    table.to_csv(run / "predictions.csv", index=False)


def test_rankings_say_which_differences_are_significant(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_predictions(write_run(runs, "cls_lite0_pretrained_wce", cls_metrics(0.9)), 0.9, 0)
    write_predictions(write_run(runs, "cls_lite0_pretrained_focal", cls_metrics(0.5)), 0.5, 1)
    write_predictions(write_run(runs, "cls_lite0_pretrained_ce", cls_metrics(0.88)), 0.88, 2)
    write_run(runs, "cls_lite0_pretrained_gessert", cls_metrics(0.7))  # recorded before predictions.csv
    cal = write_run(runs, "cal_cls_lite0_pretrained_wce", {**cls_metrics(0.9), "test/balanced_acc_ci_low": 0.85})
    (cal / "table.md").write_text("| model | ece |\n|---|---|\n| a | 0.1 |\n| a + temperature (T=1.50) | 0.05 |\n")
    pd.DataFrame(
        [
            {
                "attribute": "all",
                "value": "all",
                "images": 300,
                "lesions": 100,
                "balanced_acc": 0.9,
                "balanced_acc_ci_low": 0.85,
                "balanced_acc_ci_high": 0.95,
                "recall_mel": 0.8,
                "recall_mel_ci_low": 0.6,
                "recall_mel_ci_high": 0.9,
            },
            {
                "attribute": "sex",
                "value": "male",
                "images": 40,
                "lesions": 20,
                "balanced_acc": 0.7,
                "balanced_acc_ci_low": 0.5,
                "balanced_acc_ci_high": 0.9,
                "recall_mel": 0.5,
                "recall_mel_ci_low": 0.2,
                "recall_mel_ci_high": 0.8,
            },
        ]
    ).to_csv(cal / "report" / "subgroups.csv", index=False)

    text = make_results.build(runs)

    lines = {line.split(":")[0]: line for line in text.splitlines() if line.startswith("- cls_lite0_pretrained_wce")}
    assert re.search(
        r"\+0\.[34]\d\d \[\+0\.\d{3}, \+0\.\d{3}\], p = 0\.000, significant",
        lines["- cls_lite0_pretrained_wce - cls_lite0_pretrained_focal"],
    )
    assert "not significant" in lines["- cls_lite0_pretrained_wce - cls_lite0_pretrained_ce"]
    assert "cls_lite0_pretrained_gessert has no per-image predictions" in text
    assert "| cal_cls_lite0_pretrained_wce | 0.900 [0.850" not in text  # an interval needs both ends
    assert "| a + temperature (T=1.50) | 0.05 |" in text
    assert "| all | 300 | 100 | 0.900 [0.850, 0.950] | 0.800 [0.600, 0.900] |" in text
    assert "sex: male" not in text  # fewer than 100 images


def write_ablation_job(runs: Path, row: str, seed: int, val_scores: list[float], overrides: list[str]) -> Path:
    run = write_run(runs, f"abl_{row}_s{seed}", cls_metrics(0.5))
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in [*overrides, f"seed={seed}"]))
    (run / "logs").mkdir()
    rows = [{"epoch": e, "step": 10 * e + 9, "val/balanced_acc": v} for e, v in enumerate(val_scores)]
    rows.insert(1, {"epoch": 0, "step": 5, "train/loss": 1.0})  # a training row: no validation value
    pd.DataFrame(rows).to_csv(run / "logs" / "metrics.csv", index=False)
    return run


def test_ablation_rows_are_chosen_on_validation_with_the_pooled_seed_noise(tmp_path, make_results):
    runs = tmp_path / "runs"
    base = ["experiment=skinlight_ablation", "data.root=/data"]
    write_ablation_job(runs, "baseline", 0, [0.40, 0.50, 0.45], base)  # best epoch 0.50
    write_ablation_job(runs, "baseline", 1, [0.52, 0.54, 0.53], base)  # 0.54
    write_ablation_job(runs, "ema", 0, [0.60, 0.61, 0.62], [*base, "callbacks=ema"])  # 0.62
    write_ablation_job(runs, "ema", 1, [0.66, 0.65, 0.64], [*base, "callbacks=ema"])  # 0.66
    write_ablation_job(runs, "mixup", 0, [0.50, 0.53, 0.55], [*base, "mixup=mixup"])  # 0.55
    write_ablation_job(runs, "mixup", 1, [0.50, 0.51, 0.51], [*base, "mixup=mixup"])  # 0.51

    text = make_results.build(runs)

    # every row's sd is 0.028 (two values 0.04 apart): pooled 0.028, s.e. of a 2-vs-2 difference 0.028
    assert "| baseline | – | abl_baseline_s0 0.500, abl_baseline_s1 0.540 | 0.520 ± 0.028 | – | 10 min |" in text
    ema = "| ema | `callbacks=ema` | abl_ema_s0 0.620, abl_ema_s1 0.660 | 0.640 ± 0.028 |"
    assert ema + " +0.120 ± 0.028 (beyond noise) |" in text
    assert "| mixup | `mixup=mixup` | abl_mixup_s0 0.550, abl_mixup_s1 0.510 | 0.530 ± 0.028 | +0.010 ± 0.028 |" in text
    assert "pooled over the 3 repeated rows: 0.028" in text
    assert "test/balanced_acc" not in text.split("## Ablations")[1].split("##")[0]  # chosen on val, not test


def test_recipe_seeds_get_mean_sd_and_t_interval_and_resumes_are_marked(tmp_path, make_results):
    runs = tmp_path / "runs"
    for seed, score in enumerate((0.70, 0.74, 0.78)):
        write_run(runs, f"recipe_skinlight_cpu_s{seed}", cls_metrics(score))
    (runs / "recipe_skinlight_cpu_s1" / "resumed.txt").write_text("2026-12-02T00:00:00Z resumed ...\n")

    text = make_results.build(runs)

    assert "| recipe_skinlight_cpu_s1 (resumed 1x) | 0.740 |" in text
    assert "| recipe_skinlight_cpu_s0 | 0.700 |" in text
    # sd 0.04, t(0.975, 2) = 4.303: half-width 4.303 * 0.04 / sqrt(3) = 0.099
    assert (
        "recipe_skinlight_cpu over 3 seeds: balanced accuracy mean 0.740, standard deviation 0.040, range "
        "0.700-0.780; 95 % t-interval of the mean over seeds [0.641, 0.839]." in text
    )


def test_a_resumed_run_is_compared_with_its_uninterrupted_twin(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "abl_baseline_s0", cls_metrics(0.61))
    resumed = write_run(runs, "resume_abl_baseline_s0", cls_metrics(0.61))
    (resumed / "resumed.txt").write_text("2026-12-02T00:00:00Z resumed ...\n")
    write_run(runs, "resume_cls_x", {**cls_metrics(0.5), "test/acc": 0.75})
    write_run(runs, "cls_x", cls_metrics(0.5))
    # a twin run for the comparison sits in the section beside its resumed run, once
    write_run(runs, "resume_y", cls_metrics(0.7))
    write_run(runs, "resume_y_uninterrupted", cls_metrics(0.7))

    text = make_results.build(runs)

    assert "| resume_abl_baseline_s0 (resumed 1x) | 0.610 |" in text
    assert "| abl_baseline_s0 (uninterrupted) | 0.610 |" in text
    assert "resume_abl_baseline_s0 (resumed 1x) vs abl_baseline_s0 (uninterrupted): the largest difference" in text
    assert "over their 5 test metrics is 0: identical." in text
    assert "resume_cls_x (never resumed (it was not cut short)) vs cls_x (uninterrupted)" in text
    assert "is 0.05. Balanced accuracy 0.500 resumed, 0.500 uninterrupted." in text
    assert text.count("| resume_y_uninterrupted | 0.700 |") == 1
    assert "resume_y (never resumed (it was not cut short)) vs resume_y_uninterrupted: the largest" in text


def test_a_run_folder_outside_every_section_is_refused_by_name(tmp_path, make_results, capsys):
    runs = tmp_path / "runs"
    write_run(runs, "cls_x", cls_metrics(0.5))
    write_run(runs, "mystery_run", cls_metrics(0.5))
    with pytest.raises(SystemExit):
        make_results.main(["--runs", str(runs), "--out", str(tmp_path / "R.md")])
    err = capsys.readouterr().err
    assert "mystery_run match no section of RESULTS.md" in err and "Traceback" not in err
    assert not (tmp_path / "R.md").exists()


def test_the_device_check_section_quotes_its_console(tmp_path, make_results):
    runs = tmp_path / "runs"
    write_run(runs, "cls_x", cls_metrics(0.5))
    text = make_results.build(runs)
    assert "## Device check\n\nNot run yet on this machine; to produce it: part 10 of results/README.md." in text

    check = write_run(runs, "device_check_cpu", None)
    (check / "command.txt").write_text("bash scripts/device_check.sh --device cpu\n")
    (check / "console.log").write_text(
        "GPU available: False\n== 1. training step\n  loop 1136.4 ms/step  14 img/s\n"
        "lightning/pytorch/trainer/configuration_validator.py:70: You defined a `validation_step`\n"
        "ratio Trainer / hand-written loop = 0.867\n  delivered / consumed = 63.56 (keeps up)\n"
        "test/balanced_acc=0.3555 [0.3079, 0.4064] acc=0.5597\n"
    )
    text = make_results.build(runs)
    device = text.split("## Device check")[1].split("\n## ")[0]
    assert "device_check_cpu: `bash scripts/device_check.sh --device cpu` on Test CPU, 2 cores, no GPU, 600 s" in device
    steps = "    == 1. training step\n    loop 1136.4 ms/step  14 img/s\n    ratio Trainer / hand-written loop = 0.867"
    assert steps in device
    assert "    test/balanced_acc=0.3555 [0.3079, 0.4064] acc=0.5597" in device
    assert "GPU available" not in device and "validation_step" not in device and "no metrics.json" not in device


def test_a_resumed_run_that_differs_is_set_beside_the_seeds_of_its_twin(make_results):
    def run(folder, acc):
        return {"folder": folder, "metrics": {"test/balanced_acc": acc}}

    runs = [run("abl_b_s0", 0.61), run("abl_b_s1", 0.56), run("abl_b_s2", 0.60), run("abl_bx_s3", 0.1)]
    sentence = make_results.seed_range_sentence(run("resume_abl_b_s0", 0.58), runs[0], runs)
    assert sentence == (
        "Balanced accuracy 0.580 resumed, 0.610 uninterrupted; over the 3 seeds of abl_b_s*: 0.560-0.610."
    )
    alone = make_results.seed_range_sentence(run("resume_c", 0.5), run("c", 0.4), runs)
    assert alone == "Balanced accuracy 0.500 resumed, 0.400 uninterrupted."

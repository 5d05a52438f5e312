"""results/record.sh: a job cut short is resumed by running its line again, and the record says so."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Stands in for train.py: the first call leaves a last.ckpt and dies as a killed job does (137); a call with
# ckpt_path=last finishes (metrics.json). It prints its arguments, which console.log collects.
FAKE_TRAIN = """
import sys
from pathlib import Path
run = Path(next(a for a in sys.argv if a.startswith("hydra.run.dir=")).split("=", 1)[1])
print("argv", *sys.argv[1:])
if "ckpt_path=last" in sys.argv:
    (run / "metrics.json").write_text('{"test/balanced_acc": 0.5}')
    sys.exit(0)
(run / "checkpoints").mkdir(parents=True)
(run / "checkpoints" / "last.ckpt").write_text("weights")
sys.exit(137)
"""


def record(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "results/record.sh", *args], cwd=repo, env=env, capture_output=True, text=True)


def test_a_cut_job_is_resumed_from_its_last_checkpoint_and_the_resume_is_recorded(tmp_path):
    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    shutil.copy(ROOT / "results" / "record.sh", repo / "results" / "record.sh")
    (repo / "train.py").write_text(FAKE_TRAIN)
    run = repo / "results" / "runs" / "job"

    first = record(repo, "job", "train.py", "seed=3")
    assert first.returncode == 137 and (run / "rc.txt").read_text().strip() == "137"
    assert not (run / "resumed.txt").exists()

    second = record(repo, "job", "train.py", "seed=3")
    assert second.returncode == 0 and "resume job from its last.ckpt" in second.stdout
    assert (run / "rc.txt").read_text().strip() == "0" and (run / "metrics.json").is_file()
    assert (
        run / "command.txt"
    ).read_text() == "python train.py seed=3 hydra.run.dir=results/runs/job\n"  # the original
    resumed = (run / "resumed.txt").read_text().splitlines()
    assert len(resumed) == 1 and resumed[0].endswith("python train.py seed=3 ckpt_path=last")
    console = (run / "console.log").read_text().splitlines()
    assert console == [
        "argv seed=3 hydra.run.dir=results/runs/job",
        "argv seed=3 ckpt_path=last hydra.run.dir=results/runs/job",
    ]  # appended, both parts
    assert (run / "commit.txt").read_text().splitlines() == ["not a git checkout"] * 2
    assert int((run / "wall_s.txt").read_text()) >= 0

    third = record(repo, "job", "train.py", "seed=3")
    assert third.returncode == 0 and "skip job: results/runs/job is finished" in third.stdout

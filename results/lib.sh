# Shared by results/seeds.sh and results/crop.sh (sourced).
# best_run GLOB KEY: the finished run under results/runs/GLOB with the highest metrics.json[KEY].
best_run() {
  python - "$1" "$2" <<'PY'
import json, pathlib, sys
runs = [(json.loads((p / "metrics.json").read_text())[sys.argv[2]], p.name)
        for p in pathlib.Path("results/runs").glob(sys.argv[1]) if (p / "metrics.json").exists()]
print(max(runs)[1])
PY
}
# overrides_of RUN: the overrides its command.txt recorded, without hydra.run.dir.
overrides_of() { sed -e 's/^python train.py //' -e 's/ hydra.run.dir=.*//' "results/runs/$1/command.txt"; }

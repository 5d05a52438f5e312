"""``skinlight-synthetic`` (or ``python -m skinlight.synthetic``): write a synthetic dataset in a real layout.

    skinlight-synthetic [--layout ham10000|isic_binary|isic2018|isic2018_task3|ph2|...] --out DIR [--seed S] [options]

(the layouts: LAYOUTS below, e.g. isic2019 [--ham10000-root DIR], isic2020, bcn20000 [--export 2023|2024])

Each layout takes its own options (listed by ``--help``); an option of another layout is refused.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skinlight.errors import exit_on_user_error
from skinlight.synthetic.bcn20000 import generate_bcn20000
from skinlight.synthetic.derm7pt import generate_derm7pt
from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3
from skinlight.synthetic.isic2019 import generate_isic2019
from skinlight.synthetic.isic2020 import generate_isic2020
from skinlight.synthetic.isic_binary import generate_isic_binary
from skinlight.synthetic.pad_ufes20 import generate_pad_ufes20
from skinlight.synthetic.segmentation import generate_isic2018, generate_ph2


def _ham10000(a: argparse.Namespace) -> str:
    meta = generate_ham10000(a.out, a.num_lesions[0], a.seed, (a.width, a.height), a.workers)
    return f"wrote {len(meta)} images of {meta.lesion_id.nunique()} lesions to {a.out}"


def _isic_binary(a: argparse.Namespace) -> str:
    table = generate_isic_binary(a.out, a.num_train, a.num_test, a.malignant_fraction, a.seed, (a.size, a.size))
    counts = table.groupby(["split", "label"]).size()
    return f"wrote {len(table)} images to {a.out}: " + ", ".join(f"{s}/{c} {n}" for (s, c), n in counts.items())


def _isic2018(a: argparse.Namespace) -> str:
    counts = generate_isic2018(a.out, tuple(a.num_images), a.seed, (a.width, a.height), a.workers)
    return f"wrote ISIC 2018 Task 1 layout to {a.out}: {counts}"


def _isic2018_task3(a: argparse.Namespace) -> str:
    counts = generate_isic2018_task3(a.out, tuple(a.num_lesions), a.seed, (a.width, a.height))
    return (
        f"wrote ISIC 2018 Task 3 layout to {a.out}: "
        + ", ".join(f"{k} {v} images" for k, v in counts.items())
        + "; test metadata in ISIC2018_Task3_Test_Metadata.csv (data.metadata_csv)"
    )


def _ph2(a: argparse.Namespace) -> str:
    generate_ph2(a.out, a.num_cases, a.seed, a.table, a.workers)
    return f"wrote PH2 layout with {a.num_cases} cases to {a.out}"


def _isic2019(a: argparse.Namespace) -> str:
    size = (a.width, a.height)
    rows = generate_isic2019(a.out, a.num_lesions[0], a.seed, size, a.ham10000_root, a.shared)
    copies = f", {rows['copy_of'].notna().sum()} of them copies of {a.ham10000_root}" if a.ham10000_root else ""
    return f"wrote ISIC 2019 layout with {len(rows)} images to {a.out}{copies} (listed in synthetic.json)"


def _isic2020(a: argparse.Namespace) -> str:
    table = generate_isic2020(a.out, a.num_lesions[0], a.seed, (a.width, a.height))
    return f"wrote ISIC 2020 layout with {len(table)} images of {table.patient_id.nunique()} patients to {a.out}"


def _bcn20000(a: argparse.Namespace) -> str:
    table = generate_bcn20000(a.out, a.num_lesions[0], a.seed, (a.width, a.height), a.export)
    return f"wrote BCN20000 layout ({a.export} export) with {len(table)} images to {a.out}"


def _derm7pt(a: argparse.Namespace) -> str:
    meta = generate_derm7pt(a.out, a.num_lesions[0], a.seed, (a.width, a.height))
    return f"wrote Derm7pt layout with {len(meta)} cases to {a.out}: " + ", ".join(
        f"{s} {n}" for s, n in meta["split"].value_counts().items()
    )


def _pad_ufes20(a: argparse.Namespace) -> str:
    meta = generate_pad_ufes20(a.out, a.num_lesions[0], a.seed, (a.width, a.height))
    lesions, patients = meta["lesion_id"].nunique(), meta["patient_id"].nunique()
    return f"wrote PAD-UFES-20 layout with {len(meta)} images of {lesions} lesions of {patients} patients to {a.out}"


@dataclass(frozen=True)
class Layout:
    about: str
    write: Callable[[argparse.Namespace], str]
    options: dict[str, object]  # dest -> default of each option it takes; a list fixes the number of values


LAYOUTS = {
    "ham10000": Layout(
        "HAM10000 download with lesion masks (data=ham10000, ham10000_seg)",
        _ham10000,
        {"num_lesions": [1000], "width": 600, "height": 450, "workers": 2},
    ),
    "isic_binary": Layout(
        "benign/malignant folders (data=isic_binary)",
        _isic_binary,
        {"num_train": 200, "num_test": 50, "malignant_fraction": 0.45, "size": 224},
    ),
    "isic2018": Layout(
        "ISIC 2018 Task 1 segmentation (data=isic2018)",
        _isic2018,
        {"num_images": [400, 50, 100], "width": 600, "height": 450, "workers": 2},
    ),
    "isic2018_task3": Layout(
        "ISIC 2018 Task 3 validation and test sets (data=isic2018_task3)",
        _isic2018_task3,
        {"num_lesions": [40, 160], "width": 600, "height": 450},
    ),
    "ph2": Layout("PH2 images, masks and diagnoses (data=ph2)", _ph2, {"num_cases": 200, "table": "txt", "workers": 2}),
    "isic2019": Layout(
        "ISIC 2019 training set, optionally holding a HAM10000 folder's images (data=isic2019)",
        _isic2019,
        {"num_lesions": [200], "width": 600, "height": 450, "ham10000_root": None, "shared": 0.5},
    ),
    "isic2020": Layout(
        "SIIM-ISIC 2020 training set, Kaggle layout (data=isic2020)",
        _isic2020,
        {"num_lesions": [200], "width": 600, "height": 450},
    ),
    "bcn20000": Layout(
        "BCN20000 as the ISIC Archive's collection download (data=bcn20000)",
        _bcn20000,
        {"num_lesions": [200], "width": 600, "height": 450, "export": "2024"},
    ),
    "derm7pt": Layout(
        "Derm7pt release_v0 with its split index files (data=derm7pt)",
        _derm7pt,
        {"num_lesions": [200], "width": 768, "height": 512},
    ),
    "pad_ufes20": Layout(
        "PAD-UFES-20, PNG images of several lesions per patient (data=pad_ufes20)",
        _pad_ufes20,
        {"num_lesions": [200], "width": 512, "height": 512},
    ),
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _show(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)


EPILOG = "\n".join(
    [
        "layouts and their options:",
        *(
            f"  {name:<15} {layout.about}\n  {'':<15} {' '.join(map(_flag, layout.options))}"
            for name, layout in LAYOUTS.items()
        ),
        "",
        "--num-lesions takes one value N for ham10000 (and isic2019, isic2020, bcn20000) and two, VALIDATION TEST,"
        " for isic2018_task3.",
        "An option of another layout than --layout's is refused. The output folder must be new or empty.",
        "",
        "examples:",
        "  skinlight-synthetic --out /tmp/syn --num-lesions 300",
        "  skinlight-synthetic --layout isic2018_task3 --out /tmp/task3 --num-lesions 40 160",
        "  skinlight-synthetic --layout ph2 --out /tmp/ph2 --num-cases 200 --table xlsx",
    ]
)


def _parser() -> argparse.ArgumentParser:
    """The argument parser; a layout option's default is absent from the namespace unless given."""
    p = argparse.ArgumentParser(
        prog="skinlight-synthetic",
        description="Write a synthetic dataset in a real layout.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--layout", choices=LAYOUTS, default="ham10000", help="the layout to write (default: ham10000)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (new or empty)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")

    def option(flag: str, text: str, **kwargs) -> None:
        dest = flag[2:].replace("-", "_")
        uses = {name: _show(layout.options[dest]) for name, layout in LAYOUTS.items() if dest in layout.options}
        where = (
            f"{', '.join(uses)}; default {next(iter(uses.values()))}"
            if len(set(uses.values())) == 1
            else "; ".join(f"{name}: default {default}" for name, default in uses.items())
        )
        p.add_argument(flag, help=f"{text} [{where}]", **kwargs)

    option("--num-lesions", "lesions: N, or VALIDATION TEST", type=_positive_int, nargs="+", metavar="N")
    option("--num-images", "images per split", type=_positive_int, nargs=3, metavar=("TRAIN", "VAL", "TEST"))
    option("--num-train", "train images", type=_positive_int, metavar="N")
    option("--num-test", "test images", type=_positive_int, metavar="N")
    option("--malignant-fraction", "share of malignant images per split", type=float, metavar="F")
    option("--num-cases", "cases (at least 15)", type=_positive_int, metavar="N")
    option("--table", "diagnoses file", choices=("txt", "xlsx"))
    option("--width", "image width in pixels", type=_positive_int, metavar="PX")
    option("--height", "image height in pixels", type=_positive_int, metavar="PX")
    option("--size", "square image side in pixels", type=_positive_int, metavar="PX")
    option("--workers", "worker processes", type=_positive_int, metavar="K")
    option("--ham10000-root", "a HAM10000-layout folder whose images are copied in", type=Path, metavar="DIR")
    option("--shared", "share of that folder's images included under their own ids", type=float, metavar="F")
    option("--export", "the ISIC Archive export's form", choices=("2023", "2024"))
    return p


def main(argv=None) -> None:
    p = _parser()
    args = p.parse_args(argv)
    layout = LAYOUTS[args.layout]
    foreign = sorted(vars(args).keys() - {"layout", "out", "seed", *layout.options})
    if foreign:
        p.error(
            f"not an option of --layout {args.layout}: {', '.join(map(_flag, foreign))} "
            f"(its options: {', '.join(map(_flag, layout.options))})"
        )
    for dest, default in layout.options.items():
        value = getattr(args, dest, default)
        if isinstance(default, list) and len(value) != len(default):
            p.error(f"{_flag(dest)} takes {len(default)} value(s) for --layout {args.layout}, got {len(value)}")
        setattr(args, dest, value)
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file, not a folder")
    with exit_on_user_error():
        print(layout.write(args))

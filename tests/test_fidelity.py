"""docs/recipes/<paper>.md: every recipe's fidelity table holds against the composed config.

Each `## ` heading with a backtick span starting `experiment=` composes those overrides. Each row of a
table under it whose header starts with "element" (other tables, e.g. results, are left alone) has a
status (as the paper / assumed: why / deliberately different: why), and each `key=value` span of its
"skinlight" column must be what the composition gives: a config group's chosen option, a sweep
parameter (hydra.sweeper.params.<name>), or a value (YAML, floats to 1e-12 relative).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs" / "recipes").glob("*.md"))
STATUS = re.compile(r"^\*?(as the paper|assumed|deliberately different)\*?(.*)$")
CELL = re.compile(r"\|(?=(?:[^`]*`[^`]*`)*[^`]*$)")  # a pipe outside backticks


@dataclass
class Section:
    doc: str
    overrides: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc}:{' '.join(self.overrides)}"


def sections() -> list[Section]:
    found = []
    for doc in DOCS:
        current, header, fidelity = None, [], False
        for line in doc.read_text().splitlines():
            if line.startswith("## "):
                spans = [s for s in re.findall(r"`([^`]+)`", line) if s.startswith("experiment=")]
                current = Section(doc.name, spans[0].split()) if spans else None
                if current:
                    found.append(current)
            elif not line.startswith("|"):
                header, fidelity = [], False
            elif re.match(r"^\|[\s:|-]+\|$", line):  # under a header: a fidelity table's, or another table
                fidelity = header[:1] == ["element"]
            elif current:
                cells = [c.strip() for c in CELL.split(line.strip())[1:-1]]
                if fidelity:
                    current.rows.append(cells)
                else:
                    header = cells
    return found


SECTIONS = sections()


def composed(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "data.root=/data"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/tmp/fidelity"
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def same(actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return math.isclose(float(actual), float(expected), rel_tol=1e-12, abs_tol=1e-15)
        except (TypeError, ValueError):
            return False
    return actual == expected


def check_span(cfg, span: str) -> str | None:
    """None when `key=value` holds in `cfg`, else what differs."""
    key, value = span.split("=", 1)
    choices = cfg.hydra.runtime.choices
    if key in choices:
        return None if str(choices[key]) == value else f"{key}: chosen {choices[key]}"
    if key.startswith("hydra.sweeper.params."):
        name = key.removeprefix("hydra.sweeper.params.")
        actual = (cfg.hydra.sweeper.params or {}).get(name)
        return None if str(actual).replace(" ", "") == value.replace(" ", "") else f"{key}: composed {actual}"
    node = OmegaConf.select(cfg, key, default="<absent>")
    actual = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return None if same(actual, yaml.safe_load(value)) else f"{key}: composed {actual!r}"


def test_every_paper_has_a_fidelity_table_linked_from_the_readme():
    papers = {p.stem.split("_")[0] for p in (ROOT.parent / "shared" / "papers").glob("*.txt")} or {
        "albawi2022",
        "elgohary2024",
        "le2020",
        "nguyen2022",
        "nivas2023",
    }
    assert {d.stem for d in DOCS} == papers
    readme = (ROOT / "README.md").read_text()
    assert all(f"docs/recipes/{d.name}" in readme for d in DOCS)


def test_every_recipe_is_in_a_fidelity_table():
    """Every paper recipe; skinlight's own (skinlight_*) follow no paper: RESULTS.md's ablations chose them."""
    text = "\n".join(d.read_text() for d in DOCS)
    recipes = [p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml") if not p.stem.startswith("skinlight_")]
    assert [r for r in recipes if not re.search(rf"experiment={r}(?![\w/])", text)] == []


@pytest.mark.parametrize("section", SECTIONS, ids=[s.id for s in SECTIONS])
def test_fidelity_table_rows(section):
    assert section.rows, "a recipe's section has its table"
    cfg = composed(section.overrides)
    problems = []
    for row in section.rows:
        assert len(row) == 4, f"a row has 4 cells (element | the paper says | skinlight | status): {row}"
        status = STATUS.match(row[3])
        if not status:
            problems.append(f"{row[0]}: status {row[3]!r}")
        elif status.group(1) != "as the paper" and not re.match(r"^\s*[:\-—–]\s*\S", status.group(2)):
            problems.append(f"{row[0]}: {status.group(1)} without its reason")
        for span in re.findall(r"`([^`]+)`", row[2]):
            if span.startswith("python "):
                continue
            if "=" not in span:
                problems.append(f"{row[0]}: `{span}` is not key=value")
            elif (difference := check_span(cfg, span)) is not None:
                problems.append(f"{row[0]}: `{span}` but {difference}")
    GlobalHydra.instance().clear()
    assert problems == []

"""The README tells the truth: its stage and preset tables match what is installed, its
commands name files that exist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from dfcore.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def listed_plugins():
    result = CliRunner().invoke(main, ["--list-plugins", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def table(first_header: str) -> list[list[str]]:
    """The rows of the README table whose header's first cell is ``first_header``, as cells."""
    rows: list[list[str]] = []
    inside = False
    for line in README.splitlines():
        if not line.startswith("|"):
            if inside:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells[0] == first_header:
            inside = True
        elif inside and not set(cells[0]) <= {"-"}:
            rows.append(cells)
    return rows


def test_the_stage_table_lists_every_first_party_stage_with_its_plugin():
    data = listed_plugins()
    installed = {(s["kind"], s["name"], s["plugin"]) for s in data["stages"] if s["plugin"] in ("builtin", "extra")}
    documented = {(kind, name, plugin) for kind, names, _, plugin in table("kind")
                  for name in re.findall(r"`([^`]+)`", names)}
    assert documented == installed


def test_the_preset_table_lists_every_first_party_preset():
    data = listed_plugins()
    installed = {p["name"] for p in data["presets"] if p["plugin"] == "builtin"}
    assert {row[0].strip("`") for row in table("preset")} == installed


def test_the_commands_name_files_that_are_shipped():
    commands = re.findall(r"^(dfind [^\n#]+|python -m pip install [^\n]+)", README, flags=re.MULTILINE)
    assert commands
    paths = {word for command in commands for part in command.split("&&") for word in shlex.split(part)
             if word.startswith("samples/")}
    assert {"samples/a.png", "samples/b.png", "samples/b_shifted.png"} <= paths
    assert all((ROOT / p).is_file() for p in paths), sorted(p for p in paths if not (ROOT / p).is_file())
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images and all((ROOT / p).is_file() for p in images)


def test_ci_runs_the_readmes_test_command():
    (command,) = re.findall(r"^python -m pip install -e \"\.\[test\]\"[^\n]*&& python -m pytest$", README,
                            flags=re.MULTILINE)
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()

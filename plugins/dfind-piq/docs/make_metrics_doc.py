"""Write docs/metrics.md: every bridged metric, its parameters and its paper, from the code.

    python plugins/dfind-piq/docs/make_metrics_doc.py    # rewrites plugins/dfind-piq/docs/metrics.md

The records (``dfind_piq.plugin``) give the parameters, defaults, choices and help; the
stage classes' docstrings give the description and the reference. A test regenerates the
page and compares, so it cannot drift from the code.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = "piq"

HEADER = """# The metrics of dfind-piq

Generated from the code by `docs/make_metrics_doc.py`; do not edit. Every stage is a
dfind metric: `dfind A B -m piq.NAME[:param=value,...]`, or `Finder(metric="piq.NAME")`.
Parameters are piq's keyword arguments with piq's defaults, except `reduction` (always
`'none'`: one value per sample) and the files of the learned metrics (`weights`,
`backbone`, `download`); see the [README](../README.md) for the conventions around them.
"""


def _sections(doc: str) -> tuple[str, str]:
    """The description (after the summary line, before ``Args:``) and the ``References:`` text."""
    lines = doc.splitlines()[1:]
    description, references, part = [], [], "description"
    for line in lines:
        if line.strip() in ("Args:", "Returns:"):
            part = "args"
        elif line.strip() == "References:":
            part = "references"
        elif part == "description":
            description.append(line)
        elif part == "references":
            references.append(line.strip())
    text = " ".join(" ".join(description).split())
    return text.replace("``", "`"), " ".join(references)


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def render() -> str:
    from dfcore.testing import fresh_registry

    registry = fresh_registry(autoload=True)
    out = [HEADER]
    for stage in (s for s in registry.stages("metric") if s.origin.plugin == PLUGIN):
        target = stage.load()
        summary = inspect.getdoc(target).splitlines()[0].replace("``", "`")
        description, reference = _sections(inspect.getdoc(target))
        out += [f"## `{stage.qualified_name}`\n", f"{summary} {description}".strip() + "\n",
                f"piq: `piq.{target.function}`.\n",
                "| parameter | default | meaning |", "|---|---|---|"]
        for param in stage.spec.params:
            choices = f" (one of {', '.join(_value(c) for c in param.choices)})" if param.choices else ""
            out.append(f"| `{param.name}` | `{_value(param.default)}` | {param.help}{choices} |")
        out += ["", f"Reference: {reference}\n"]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "metrics.md")
    parser.parse_args().out.write_text(render())


if __name__ == "__main__":
    main()

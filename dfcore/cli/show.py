"""What a comparison prints beyond its account: JSON for scripts (``--json``), the pipeline (``-v``).

``--json`` makes stdout machine-readable and nothing else: one pair prints its record (the
pair's JSON, with ``files`` when ``-o`` wrote them); a folder run prints JSON Lines, one object
per pair as it completes, each with ``pair`` and ``status`` (``ok``: the pair's record;
``failed`` and ``skipped``: its summary row). Everything meant for people goes to stderr or
is left out. ``-v`` prints the resolved pipeline, every stage with its parameters, and what
the map's numbers are (its unit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from dfcore.plugin.spec import KINDS

#: What ``-v`` says when a strategy does not declare its unit.
NO_UNIT = "not declared by the strategy"


def echo_json(record: Mapping[str, Any]) -> None:
    """One JSON document on one line of stdout (non-finite numbers are already ``null`` + a field, see io.layout)."""
    from dfcore.io.files import jsonable  # numpy: not for --list-plugins

    click.echo(json.dumps(jsonable(record), allow_nan=False))


def pair_line(name: str, status: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A folder run's JSON line: ``pair`` and ``status`` first, then the record or row."""
    return {"pair": name, "status": status, **{k: v for k, v in record.items() if k not in ("pair", "status")}}


def row_line(row: Any) -> dict[str, Any]:
    """The JSON line of a summary row (a failed or resumed pair), its scores as the summary writes them."""
    from dfcore.io.layout import json_scores

    return pair_line(row.pair, row.status, json_scores(row.to_dict()))


def pipeline_text(config: Mapping[str, Any], unit: str | None) -> str:
    """The resolved pipeline, a stage a line with its parameters, and the map's unit."""
    lines = [f"pipeline (preset {config.get('preset')}, device {config.get('device')}):"]
    for kind in KINDS:
        stages = config.get(kind)
        stages = stages if isinstance(stages, list) else [stages]
        for stage in stages or [None]:
            if stage is None:
                lines.append(f"  {kind:<14} -")
                continue
            params = ", ".join(f"{key}={value}" for key, value in (stage.get("params") or {}).items())
            lines.append(f"  {kind:<14} {stage.get('qualified_name') or stage.get('name')}"
                         + (f": {params}" if params else ""))
    lines.append(f"map unit: {unit or NO_UNIT}")
    return "\n".join(lines)


def unit_of(record: Mapping[str, Any] | None) -> str | None:
    """The map's unit in a pair's record (``map.unit``), if any."""
    return ((record or {}).get("map") or {}).get("unit")

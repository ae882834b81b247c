"""``dfind --list-plugins``: every stage and preset, the plugin and distribution offering it."""

from __future__ import annotations

import json
from typing import Any

from dfcore.plugin.registry import Registry
from dfcore.plugin.spec import KINDS


def listing_data(registry: Registry) -> dict[str, Any]:
    """Everything ``--list-plugins --json`` prints (:meth:`Registry.listing`)."""
    return registry.listing()


def render_listing(registry: Registry, as_json: bool = False, verbose: bool = False) -> str:
    data = listing_data(registry)
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    rows = [("KIND", "NAME", "PLUGIN", "DISTRIBUTION", "DESCRIPTION")]
    details: dict[int, list[str]] = {}
    order = {kind: i for i, kind in enumerate(KINDS)}
    for entry in sorted(data["stages"], key=lambda e: (order[e["kind"]], e["name"], e["plugin"])):
        name = entry["name"] + (" (conflict: use " + entry["qualified_name"] + ")" if entry["conflict"] else "")
        summary = entry["summary"]
        if entry["kind"] == "metric":
            summary += " [higher is better]" if entry["higher_is_better"] else " [lower is better]"
        dist = f"{entry['distribution'] or '(in-process)'} {entry['version'] or ''}".strip()
        rows.append((entry["kind"], name, entry["plugin"], dist, summary))
        if verbose and entry["params"]:
            details[len(rows) - 1] = [
                f"{p['name']}={p['default']!r}" + (f" ({p['help']})" if p["help"] else "") for p in entry["params"]
            ]
    for preset in data["presets"]:
        dist = f"{preset['distribution'] or '(in-process)'} {preset['version'] or ''}".strip()
        name = preset["name"]
        if preset["conflict"]:
            name += " (conflict: " + ("the bare name picks this one)" if preset["bare"]
                                      else "use " + preset["qualified_name"] + ")")
        rows.append(("preset", name, preset["plugin"], dist, preset["summary"]))
        if verbose:
            details[len(rows) - 1] = [f"{kind}: {ref}" for kind, ref in preset["stages"].items()]
    for broken in data["broken"]:
        dist = f"{broken['distribution'] or '(in-process)'} {broken['version'] or ''}".strip()
        rows.append(("broken", "-", broken["plugin"], dist, f"{broken['phase']} failed: {broken['reason']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        for detail in details.get(index, []):
            lines.append(" " * (sum(widths) + 8) + "  " + detail)
    return "\n".join(lines)

"""``dfind A B`` with no stage named runs the default preset and records all its parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dfcore.cli import main
from dfcore.plugin.spec import parse_stage_ref
from dfcore.testing import fresh_registry, planted_pair, using_registry


@pytest.fixture
def images(tmp_path):
    a, b, _ = planted_pair(height=64, width=80)
    paths = []
    for name, tensor in (("a.png", a), ("b.png", b)):
        array = (tensor[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def as_refs(value):
    refs = value if isinstance(value, list) else [] if value is None else [value]
    return [parse_stage_ref(r) if isinstance(r, str) else (r[0], dict(r[1])) for r in refs]


def test_the_json_records_every_parameter_of_the_default_pipeline(images, tmp_path):
    registry = fresh_registry()
    preset = registry.find_preset("default")
    with using_registry(registry):
        result = CliRunner().invoke(main, [str(images[0]), str(images[1]), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "out" / "b.json").read_text())["config"]
    assert config["preset"] == "default"
    for kind in ("preprocessor", "metric", "strategy", "postprocessor"):
        recorded = config[kind] if isinstance(config[kind], list) else [config[kind]]
        expected = as_refs(preset.stages.get(kind))
        if kind in ("metric", "strategy"):
            assert len(recorded) == 1
        assert [r["qualified_name"] for r in recorded] == [name for name, _ in expected]
        for record, (name, given) in zip(recorded, expected):
            stage = registry.find(kind, name)
            # every parameter is there, defaults included, with the preset's values where it sets them
            assert set(record["params"]) == {p.name for p in stage.spec.params}
            assert record["params"] == stage.parse_params(given)
            assert record["plugin"] == "builtin" and record["distribution"] == "dfind"

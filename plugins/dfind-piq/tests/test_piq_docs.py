"""The bridge's docs tell the truth: the generated metrics page, the README's table, files named."""

from __future__ import annotations

import re
import runpy
import shlex
from pathlib import Path

import pytest
import torch

BRIDGE = Path(__file__).resolve().parents[1]
REPO = BRIDGE.parents[1]
README = (BRIDGE / "README.md").read_text()


def test_the_metrics_page_is_generated_from_the_code():
    render = runpy.run_path(str(BRIDGE / "docs" / "make_metrics_doc.py"))["render"]
    assert (BRIDGE / "docs" / "metrics.md").read_text() == render(), \
        "run python plugins/dfind-piq/docs/make_metrics_doc.py"


def readme_table() -> dict[str, list[str]]:
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `piq.") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_readme_table_lists_every_metric_with_its_orientation_and_smallest_size(registry, weights):
    rows = readme_table()
    stages = {s.qualified_name: s for s in registry.stages("metric") if s.origin.plugin == "piq"}
    assert set(rows) == set(stages)
    files = {"piq.dists": {"weights": weights["dists"], "backbone": weights["vgg16"]},
             "piq.lpips-vgg": {"weights": weights["lpips"], "backbone": weights["vgg16"]},
             "piq.pieapp": {"weights": weights["pieapp"]},
             "piq.content": {"backbone": weights["vgg16"]}, "piq.style": {"backbone": weights["vgg16"]}}
    for name, (_, _, better, smallest, colour, _) in rows.items():
        stage = stages[name]
        assert better == ("higher" if stage.spec.higher_is_better else "lower"), name
        metric = stage.build({k: str(v) for k, v in files.get(name, {}).items()})
        assert smallest == f"{metric.minimum_side()[0]} px", name
        assert (colour == "RGB") == (metric.needs_rgb and "chromatic" not in {p.name for p in stage.spec.params}), name


def test_the_commands_name_files_that_exist():
    commands = re.findall(r"^(?:\$ )?(dfind [^\n#]+|python -m pip install [^\n]+)", README, flags=re.MULTILINE)
    assert len(commands) >= 6
    words = [w for c in commands for part in c.split("&&") for w in shlex.split(part)]
    paths = [w for w in words if w.startswith(("samples/", "plugins/"))]
    assert "samples/a.png" in paths and "plugins/dfind-piq" in paths
    for path in paths:
        assert (REPO / path.split("[")[0]).exists(), path
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images == ["docs/gradient-maps.png"] and (BRIDGE / images[0]).is_file()
    for link in re.findall(r"\]\(((?:docs|src)/[^)#]+)\)", README):
        assert (BRIDGE / link).is_file(), link


def test_the_indices_left_out_equal_dfinds_builtins(registry):
    # piq's SSIM, MS-SSIM and PSNR are not bridged: the built-ins compute them (README).
    import piq

    generator = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 200, 200, generator=generator)
    b = (a + 0.1 * torch.rand(2, 3, 200, 200, generator=generator)).clamp(0, 1)
    pairs = [("ssim", piq.ssim(b, a, data_range=1.0, reduction="none")),
             ("ms-ssim", piq.multi_scale_ssim(b, a, data_range=1.0, reduction="none")),
             ("psnr", piq.psnr(b, a, data_range=1.0, reduction="none"))]
    for name, theirs in pairs:
        ours = registry.find("metric", f"builtin.{name}").build()(a, b)
        torch.testing.assert_close(ours, theirs, rtol=2e-5, atol=2e-5, msg=name)


@pytest.mark.parametrize("script", ["make_gradient_maps.py", "make_metrics_doc.py"])
def test_the_doc_scripts_say_how_to_run_them(script):
    text = (BRIDGE / "docs" / script).read_text()
    assert f"python plugins/dfind-piq/docs/{script}" in text

"""The records: what the entry point offers, their parameters against piq's, and what the bridge imports."""

from __future__ import annotations

import ast
import json
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = "piq"
SOURCE = Path(__file__).resolve().parents[1] / "src" / "dfind_piq"
HANDCRAFTED = ("fsim", "gmsd", "ms-gmsd", "haarpsi", "vifp", "vsi", "mdsi", "sr-sim", "dss", "iw-ssim")
LEARNED = ("dists", "lpips-vgg", "pieapp", "content", "style")
#: Stage name -> piq's function or class, for the parameters that are piq's.
PIQ_NAMES = {"fsim": "fsim", "gmsd": "gmsd", "ms-gmsd": "multi_scale_gmsd", "haarpsi": "haarpsi", "vifp": "vif_p",
             "vsi": "vsi", "mdsi": "mdsi", "sr-sim": "srsim", "dss": "dss", "iw-ssim": "information_weighted_ssim",
             "dists": "DISTS", "lpips-vgg": "LPIPS", "pieapp": "PieAPP", "content": "ContentLoss",
             "style": "StyleLoss"}
#: Parameters the bridge adds (files, a gradient convention) or renames (piq's ``weights`` of layers).
OWN = {"weights", "backbone", "download", "noise_gradient", "layer_weights"}
#: piq arguments the bridge fixes: reduction='none' (one value per sample), gradients on in PieAPP,
#: feature extractors given by name only, and piq's own bookkeeping flag.
FIXED = {"reduction", "enable_grad", "allow_layers_weights_mismatch", "weights"}


def ours(registry):
    return {s.name: s for s in registry.stages("metric") if s.origin.plugin == PLUGIN}


def test_the_entry_point_offers_every_full_reference_metric(registry):
    stages = ours(registry)
    assert set(stages) == set(HANDCRAFTED) | set(LEARNED)
    assert {s.origin.distribution for s in stages.values()} == {"dfind-piq"}
    assert not [b for b in registry.broken if b.origin.plugin == PLUGIN]
    assert all(s.spec.higher_is_better is not None and s.spec.summary for s in stages.values())


def test_bare_names_are_unambiguous_next_to_dfinds_own(registry):
    clashes = [key for key, offered in registry.conflicts().items() if any(s.origin.plugin == PLUGIN for s in offered)]
    assert not clashes
    for name in HANDCRAFTED:
        assert registry.find("metric", name).qualified_name == f"{PLUGIN}.{name}"


def test_param_defaults_match_the_stage_classes(registry):
    for stage in ours(registry).values():
        signature = inspect.signature(stage.load())
        assert [p.name for p in stage.spec.params] == list(signature.parameters), stage.name
        for param in stage.spec.params:
            assert signature.parameters[param.name].default == param.default, (stage.name, param.name)


def test_params_are_piqs_keyword_arguments_with_piqs_defaults(registry):
    import piq

    for name, stage in ours(registry).items():
        target = getattr(piq, PIQ_NAMES[name])
        piq_params = inspect.signature(target.__init__ if inspect.isclass(target) else target).parameters
        piq_args = {k: p.default for k, p in piq_params.items() if k not in ("self", "x", "y")}
        mine = {p.name: p.default for p in stage.spec.params}
        assert set(mine) - OWN <= set(piq_args), name
        assert set(piq_args) - set(mine) <= FIXED | {"feature_extractor", "layers"}, name
        for key in set(mine) & set(piq_args) - OWN:
            expected = piq_args[key]
            expected = tuple(expected) if isinstance(expected, (list, tuple)) else expected
            assert mine[key] == expected, (name, key, mine[key], expected)
        if "layer_weights" in mine:
            assert mine["layer_weights"] == tuple(piq_args["weights"]), name


def test_choices_where_piq_has_a_fixed_set(registry):
    stages = ours(registry)
    choices = {(s.name, p.name): p.choices for s in stages.values() for p in s.spec.params if p.choices}
    assert choices == {("mdsi", "combination"): ("sum", "mult"), ("haarpsi", "scales"): (3,),
                       ("lpips-vgg", "distance"): ("mse", "mae"),
                       ("content", "distance"): ("mse", "mae"), ("style", "distance"): ("mse", "mae"),
                       ("content", "feature_extractor"): ("vgg16", "vgg19"),
                       ("style", "feature_extractor"): ("vgg16", "vgg19")}
    with pytest.raises(ValueError, match="bad value for 'combination': 'max' is not one of: sum, mult"):
        stages["mdsi"].build({"combination": "max"})


def test_each_stage_documents_its_paper(registry):
    for stage in ours(registry).values():
        doc = inspect.getdoc(stage.load())
        assert "References:" in doc and ("IEEE" in doc or "CVPR" in doc or "ICIP" in doc or "ICASSP" in doc
                                         or "Signal Processing" in doc), stage.name
        assert re.search(r"\([^()]*\b(19|20)\d\d\)", stage.spec.summary), stage.name  # the paper, in brief


def test_the_bridge_imports_only_dfinds_public_api():
    allowed = {"dfcore", "dfcore.errors"}
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dfcore":
                assert node.module in allowed, f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] != "dfcore" or alias.name in allowed, path.name


def test_listing_plugins_imports_neither_torch_nor_piq():
    code = ("import json, sys; from dfcore.cli import main; sys.argv = ['dfind', '--list-plugins']; "
            "import atexit; atexit.register(lambda: sys.__stderr__.write(json.dumps(sorted(sys.modules))))\n"
            "main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "piq.fsim" in result.stdout or " fsim " in result.stdout
    loaded = {name.split(".")[0] for name in json.loads(result.stderr.strip().splitlines()[-1])}
    assert "dfind_piq" in loaded
    assert not loaded & {"torch", "piq", "torchvision"}

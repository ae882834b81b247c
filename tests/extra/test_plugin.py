"""The records of ``dfplugins_extra.plugin``: cheap to load, in step with their targets."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from dfcore.testing import fresh_registry

EXTRA = [stage for stage in fresh_registry().stages() if stage.origin.plugin == "extra"]


def test_the_plugin_offers_every_extra_stage():
    assert sorted((s.kind, s.name) for s in EXTRA) == [
        ("metric", "dice"), ("metric", "filterbank"), ("metric", "jaccard"),
        ("postprocessor", "clip"), ("postprocessor", "mean-std"), ("postprocessor", "otsu"),
        ("postprocessor", "percentile"), ("preprocessor", "align"), ("preprocessor", "wavelet"),
        ("strategy", "gradcam"), ("strategy", "integrated"),
    ]
    assert {s.origin.distribution for s in EXTRA} == {"dfind"}


@pytest.mark.parametrize("stage", EXTRA, ids=lambda s: f"{s.kind}-{s.name}")
def test_param_defaults_match_the_target_signature(stage):
    signature = inspect.signature(stage.load())
    declared = {p.name: p.default for p in stage.spec.params}
    accepted = {name: p.default for name, p in signature.parameters.items() if name != "self"}
    assert declared == accepted
    built = stage.build({})
    if stage.kind == "metric":
        assert built.higher_is_better is stage.spec.higher_is_better
    for param in stage.spec.params:
        if param.choices is not None:
            assert param.default in param.choices


def test_declared_layers_match_what_the_metric_offers():
    for stage in EXTRA:
        if stage.spec.layers:
            assert tuple(stage.build({}).feature_layers("cpu")) == stage.spec.layers


def test_declaring_the_stages_imports_nothing_heavy():
    code = (
        "import sys, dfplugins_extra.plugin as p\n"
        "records = [r for hook in (p.dfind_preprocessors, p.alignment_preprocessors, p.dfind_metrics,"
        " p.dfind_strategies, p.attribution_strategies, p.dfind_postprocessors) for r in hook()]\n"
        "print(len(records), sorted(m for m in ('torch', 'pywt', 'cv2', 'scipy', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "11 []"

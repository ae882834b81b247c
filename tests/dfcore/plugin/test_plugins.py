"""Discovery and loading of entry-point plugins, without pip: fake distributions on sys.path."""

from __future__ import annotations

import pytest

from dfcore.cli import listing_data
from dfcore.errors import StageError
from dfcore.pipeline import build_stage
from dfcore.plugin.loading import AUTOLOAD_ENV, TRACE_ENV, discover
from dfcore.plugin.registry import create_registry
from dfcore.testing import fake_distribution, on_sys_path

GOOD_PLUGIN = """
    from dfcore import StageSpec, hookimpl

    @hookimpl
    def dfind_metrics():
        yield StageSpec("acme-l1", "acme_metric:L1", "Mean absolute error.", higher_is_better=False)
"""

GOOD_STAGE = """
    class L1:
        higher_is_better = False

        def __call__(self, x, y):
            return (x - y).abs().flatten(1).mean(1)
"""


@pytest.fixture
def site(tmp_path):
    """A folder on sys.path holding fake distributions; their modules are forgotten afterwards."""
    modules = ["acme_plugin", "acme_metric", "bad_import", "bad_hook", "typo_hook", "ghost_plugin"]
    with on_sys_path(tmp_path, modules):
        yield tmp_path


def _acme(site):
    fake_distribution(site, "dfind-acme", "1.2.3", {"acme": "acme_plugin"},
                      {"acme_plugin.py": GOOD_PLUGIN, "acme_metric.py": GOOD_STAGE})


def _stage_names(registry) -> set[str]:
    return {s.qualified_name for s in registry.stages()}


def test_discover_reads_metadata_without_importing(site):
    import sys

    _acme(site)
    found = {origin.plugin: origin for _, origin in discover()}
    assert found["acme"].distribution == "dfind-acme"
    assert found["acme"].version == "1.2.3"
    assert not found["acme"].first_party
    assert found["builtin"].first_party
    assert "acme_plugin" not in sys.modules


def test_third_party_plugin_is_found_with_its_distribution_and_works(site):
    _acme(site)
    registry = create_registry(autoload=True)
    stage = registry.find("metric", "acme-l1")
    assert (stage.origin.plugin, stage.origin.distribution, stage.origin.version) == ("acme", "dfind-acme", "1.2.3")
    assert stage.origin.describe() == "dfind-acme 1.2.3"
    import torch

    metric = stage.build()
    assert metric(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)).tolist() == [1.0, 1.0]
    assert registry.broken == []


def test_plugin_whose_import_fails_is_broken_and_the_rest_works(site):
    _acme(site)
    fake_distribution(site, "dfind-bad", "0.1", {"bad": "bad_import"},
                      {"bad_import.py": "import a_module_that_is_not_installed_xyz\n"})
    registry = create_registry(autoload=True)
    (broken,) = registry.broken
    assert (broken.origin.plugin, broken.origin.distribution, broken.phase) == ("bad", "dfind-bad", "import")
    assert broken.reason == "ModuleNotFoundError: No module named 'a_module_that_is_not_installed_xyz'"
    assert {"acme.acme-l1", "builtin.ssim", "builtin.gradient", "builtin.highpass"} <= _stage_names(registry)
    registry.find("metric", "ssim").build()
    listed = listing_data(registry)["broken"]
    assert listed == [{"plugin": "bad", "distribution": "dfind-bad", "version": "0.1", "phase": "import",
                       "reason": broken.reason}]


def test_plugin_import_raising_system_exit_is_contained(site):
    fake_distribution(site, "dfind-bad", "0.1", {"bad": "bad_import"}, {"bad_import.py": "raise SystemExit(3)\n"})
    registry = create_registry(autoload=True)
    assert [(b.origin.plugin, b.phase) for b in registry.broken] == [("bad", "import")]
    assert registry.find("metric", "ssim")


def test_hook_that_raises_is_broken_in_phase_hook(site):
    _acme(site)
    fake_distribution(site, "dfind-badhook", "2.0", {"badhook": "bad_hook"}, {"bad_hook.py": """
        from dfcore import hookimpl

        @hookimpl
        def dfind_strategies():
            raise KeyError("config")
    """})
    registry = create_registry(autoload=True)
    (broken,) = registry.broken
    assert (broken.origin.plugin, broken.origin.distribution, broken.phase) == ("badhook", "dfind-badhook", "hook")
    assert broken.reason == "dfind_strategies: KeyError: 'config'"
    assert "acme.acme-l1" in _stage_names(registry)


def test_unknown_hook_name_is_broken_with_the_valid_names(site):
    fake_distribution(site, "dfind-typo", "1.0", {"typo": "typo_hook"}, {"typo_hook.py": """
        from dfcore import hookimpl

        @hookimpl
        def dfind_metric():
            return []
    """})
    registry = create_registry(autoload=True)
    (broken,) = registry.broken
    assert broken.phase == "import"
    assert broken.reason.startswith("unknown hook dfind_metric; dfind's hooks are: ")
    assert "dfind_metrics" in broken.reason
    assert registry.pm.get_plugin("typo") is None


def test_target_that_fails_to_import_is_reported_when_used(site):
    fake_distribution(site, "dfind-ghost", "1.0", {"ghost": "ghost_plugin"}, {"ghost_plugin.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_preprocessors():
            yield StageSpec("ghost", "ghost_stage_module_xyz:Ghost", "Its module is missing.")
    """})
    registry = create_registry(autoload=True)
    assert registry.broken == []  # listing alone imports no target
    with pytest.raises(StageError) as info:
        build_stage(registry, "preprocessor", "ghost", device="cpu")
    assert "\n" not in str(info.value)
    assert "No module named 'ghost_stage_module_xyz'" in str(info.value)
    (broken,) = registry.broken
    assert (broken.origin.plugin, broken.origin.distribution, broken.phase) == ("ghost", "dfind-ghost", "target")
    assert build_stage(registry, "preprocessor", "highpass", device="cpu").record["plugin"] == "builtin"


def test_disable_autoload_environment_keeps_only_dfind_plugins(site, monkeypatch):
    _acme(site)
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    registry = create_registry()
    assert {s.origin.distribution for s in registry.stages()} == {"dfind"}
    assert "builtin.ssim" in _stage_names(registry)
    monkeypatch.setenv(AUTOLOAD_ENV, "0")
    assert "acme.acme-l1" in _stage_names(create_registry())


def test_autoload_false_keeps_only_dfind_plugins(site):
    _acme(site)
    assert {s.origin.distribution for s in create_registry(autoload=False).stages()} == {"dfind"}
    assert "acme.acme-l1" in _stage_names(create_registry(autoload=True))


def test_entry_point_name_taken_twice_is_broken(site):
    fake_distribution(site, "dfind-clash", "1.0", {"builtin": "acme_plugin"},
                      {"acme_plugin.py": GOOD_PLUGIN, "acme_metric.py": GOOD_STAGE})
    registry = create_registry(autoload=True)
    (broken,) = registry.broken
    assert broken.origin.distribution == "dfind-clash"
    assert "plugin name 'builtin' is already taken" in broken.reason
    assert registry.find("metric", "ssim").origin.distribution == "dfind"


def test_trace_environment_prints_every_hook_call(site, monkeypatch, capsys):
    _acme(site)
    monkeypatch.setenv(TRACE_ENV, "1")
    create_registry(autoload=True).stages()
    err = capsys.readouterr().err
    assert "builtin.dfind_metrics: mse, psnr, ssim, ms-ssim, lpips" in err
    assert "acme.dfind_metrics: acme-l1" in err
    monkeypatch.setenv(TRACE_ENV, "0")
    create_registry(autoload=True).stages()
    assert capsys.readouterr().err == ""

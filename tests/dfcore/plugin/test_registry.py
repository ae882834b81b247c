"""The registry: built-in stages found through entry points, lookup, conflicts, parameters."""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest

from dfcore import (
    AmbiguousStageError,
    Param,
    ParameterError,
    StageNotFoundError,
    StageSpec,
    hookimpl,
)
from dfcore.cli import listing_data, render_listing
from dfcore.errors import StageError
from dfcore.plugin.spec import parse_stage_ref

BUILTINS = {
    ("preprocessor", "identity"), ("preprocessor", "normalize"), ("preprocessor", "highpass"),
    ("preprocessor", "lowpass"), ("metric", "mse"), ("metric", "psnr"), ("metric", "ssim"),
    ("metric", "ms-ssim"), ("metric", "lpips"), ("strategy", "difference"), ("strategy", "gradient"), ("strategy", "tolerant"),
    ("strategy", "own"),
    ("postprocessor", "identity"), ("postprocessor", "smooth"), ("postprocessor", "regions"),
}


class Offers:
    """An in-process plugin offering the given records from the given hook."""

    def __init__(self, **records: list) -> None:
        for hook, items in records.items():
            setattr(self, hook, self._hook(hook, items))

    @staticmethod
    def _hook(name, items):
        def hook():
            yield from items

        hook.__name__ = name
        return hookimpl(hook)


def test_builtins_come_from_the_dfind_distribution_with_its_version(registry):
    version = importlib.metadata.version("dfind")
    found = {(s.kind, s.name): s for s in registry.stages() if s.origin.plugin == "builtin"}
    assert set(found) == BUILTINS
    for stage in found.values():
        assert (stage.origin.distribution, stage.origin.version) == ("dfind", version)
        assert stage.origin.first_party
        assert stage.spec.summary
    assert registry.broken == []


def test_metrics_declare_their_orientation(registry):
    orientation = {s.name: s.spec.higher_is_better for s in registry.stages("metric") if s.origin.plugin == "builtin"}
    assert orientation == {"mse": False, "psnr": True, "ssim": True, "ms-ssim": True, "lpips": False}


def test_bare_and_qualified_names_find_the_same_stage(registry):
    bare = registry.find("metric", "ssim")
    assert registry.find("metric", "builtin.ssim") == bare
    assert bare.qualified_name == "builtin.ssim"
    assert registry.find("preprocessor", "identity").kind == "preprocessor"
    assert registry.find("postprocessor", "identity").kind == "postprocessor"


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("metric", "ssmi", r"unknown metric 'ssmi'; did you mean ssim\?"),
    ("metric", "builtin.ssmi", r"unknown metric 'builtin.ssmi'; did you mean builtin\.ssim"),
    ("metric", "SSIM", r"unknown metric 'SSIM'; did you mean ssim or"),
    ("strategy", "zzz", r"unknown strategy 'zzz'; available: difference, gradient"),
    ("preprocessor", "ssim", r"unknown preprocessor 'ssim' \('ssim' is a metric\)"),
])
def test_unknown_names_get_suggestions(registry, kind, name, message):
    with pytest.raises(StageNotFoundError, match=message) as info:
        registry.find(kind, name)
    assert "\n" not in str(info.value)


def test_unknown_kind_is_a_value_error(registry):
    with pytest.raises(ValueError, match="unknown stage kind 'metrics'"):
        registry.find("metrics", "ssim")


def test_two_plugins_offering_one_name_need_the_qualified_name(registry):
    acme_ssim = StageSpec("ssim", "acme_pkg:SSIM", "Acme's SSIM.", higher_is_better=True)
    with registry.temporary_plugin(Offers(dfind_metrics=[acme_ssim]), name="acme"):
        with pytest.raises(AmbiguousStageError) as info:
            registry.find("metric", "ssim")
        message = str(info.value)
        assert "offered by builtin and acme" in message
        assert "builtin.ssim" in message and "acme.ssim" in message
        assert "\n" not in message
        assert registry.find("metric", "acme.ssim").spec is acme_ssim
        assert registry.find("metric", "builtin.ssim").origin.distribution == "dfind"
        assert set(registry.conflicts()) == {("metric", "ssim")}

        entries = [e for e in listing_data(registry)["stages"] if e["name"] == "ssim"]
        assert sorted(e["plugin"] for e in entries) == ["acme", "builtin"]
        assert all(e["conflict"] for e in entries)
        assert not any(e["conflict"] for e in listing_data(registry)["stages"] if e["name"] != "ssim")
        table = render_listing(registry)
        assert "ssim (conflict: use acme.ssim)" in table
        assert "ssim (conflict: use builtin.ssim)" in table
    # leaving the block unregisters the plugin: the bare name works again
    assert registry.find("metric", "ssim").origin.plugin == "builtin"
    assert registry.conflicts() == {}


def test_a_third_party_stage_named_like_a_preset_stage_leaves_the_presets_working(registry):
    from dfcore import Finder

    acme_mse = StageSpec("mse", "acme_pkg:MSE", "Acme's MSE.", higher_is_better=False)
    acme_smooth = StageSpec("smooth", "acme_pkg:Smooth", "Acme's smoothing.")
    with registry.temporary_plugin(Offers(dfind_metrics=[acme_mse], dfind_postprocessors=[acme_smooth]), name="acme"):
        for preset in ("default", "robust", "sharp"):
            config = Finder(preset=preset, device="cpu").config
            assert config["metric"]["plugin"] == "builtin"
            assert all(p["plugin"] == "builtin" for p in config["postprocessor"])
        with pytest.raises(AmbiguousStageError):
            Finder(metric="mse", device="cpu")


def test_presets_resolve_like_stages_and_the_bare_name_of_dfinds_own_is_dfinds(registry):
    from dfcore import Finder, PresetSpec

    theirs = PresetSpec("default", "Acme's default.", {"metric": "builtin.psnr", "strategy": "builtin.gradient"})
    fancy = PresetSpec("fancy", "Acme's fancy.", {"metric": "builtin.ssim", "strategy": "builtin.gradient"})
    other = PresetSpec("fancy", "Zeta's fancy.", {"metric": "builtin.mse", "strategy": "builtin.gradient"})
    with registry.temporary_plugin(Offers(dfind_presets=[theirs, fancy]), name="acme"), \
            registry.temporary_plugin(Offers(dfind_presets=[other]), name="zeta"):
        assert registry.find_preset("default").summary.startswith("Robust map")  # dfind's own, not a clash
        assert registry.find_preset("builtin.default") is registry.find_preset("default")
        assert registry.find_preset("acme.default") is theirs
        assert Finder(device="cpu").config["metric"]["name"] == "mse"
        assert Finder(preset="acme.default", device="cpu").config["metric"]["name"] == "psnr"
        assert registry.find_preset("zeta.fancy") is other
        with pytest.raises(AmbiguousStageError, match=r"preset 'fancy' is offered by acme and zeta: "
                                                      r"use acme.fancy or zeta.fancy"):
            registry.find_preset("fancy")
        with pytest.raises(StageNotFoundError, match=r"unknown preset 'acme.robust'; did you mean"):
            registry.find_preset("acme.robust")
        flags = {p["qualified_name"]: (p["conflict"], p["bare"]) for p in listing_data(registry)["presets"]}
        assert flags == {"builtin.default": (True, True), "builtin.robust": (False, True),
                         "builtin.redrawn": (False, True), "builtin.metric": (False, True),
                         "builtin.sharp": (False, True), "builtin.strict": (False, True), "acme.default": (True, False),
                         "acme.fancy": (True, False), "zeta.fancy": (True, False)}
        table = render_listing(registry)
        assert "default (conflict: the bare name picks this one)" in table
        assert "default (conflict: use acme.default)" in table
        assert "fancy (conflict: use zeta.fancy)" in table


def test_plugin_names_with_dots_qualify_their_stages(registry):
    record = StageSpec("sharpen", "acme_pkg:Sharpen", "Sharpen.")
    with registry.temporary_plugin(Offers(dfind_preprocessors=[record]), name="acme.tools"):
        assert registry.find("preprocessor", "acme.tools.sharpen").spec is record
        assert registry.find("preprocessor", "sharpen").qualified_name == "acme.tools.sharpen"


# -- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(("default", "text", "expected"), [
    (False, "true", True), (False, "yes", True), (True, "0", False), (True, "Off", False),
    (3, "7", 7), (3, " -2 ", -2),
    (0.5, "0.1", 0.1), (0.5, "2", 2.0), (0.5, "1e-3", 1e-3),
    ("gaussian", "ideal", "ideal"), ("gaussian", "'ideal'", "ideal"), ("x", '"a,b"', "a,b"),
    ((0.01, 0.03), "[0.02,0.04]", (0.02, 0.04)), ((0.01, 0.03), "(1, 2)", (1, 2)),
    (None, "none", None), (None, "5", 5), (None, "0.5", 0.5), (None, "/tmp/w.pth", "/tmp/w.pth"),
])
def test_param_reads_text_by_the_type_of_its_default(default, text, expected):
    value = Param("p", default).parse(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("default", "value", "expected"), [
    (0.5, 1, 1.0), (0.5, 0.25, 0.25), (3, 4, 4), ((1, 2), [3, 4], (3, 4)), (False, True, True),
])
def test_param_accepts_python_values_of_the_right_type(default, value, expected):
    parsed = Param("p", default).parse(value)
    assert parsed == expected and type(parsed) is type(expected)


@pytest.mark.parametrize(("default", "value", "message"), [
    (False, "maybe", "expected true or false, got 'maybe'"),
    (False, 1, "expected true or false, got 1"),
    (3, "1.5", "expected an integer, got '1.5'"),
    (3, 1.5, "expected an integer, got 1.5"),
    (3, True, "expected an integer, got True"),
    (0.5, "abc", "expected a number, got 'abc'"),
    (0.5, [0.1], r"expected a number, got \[0.1\]"),
    (0.5, None, "expected a number, got None"),
    ("gaussian", 5, "expected text, got 5"),
    ((0.01, 0.03), "0.01", "expected a list such as"),
    ((0.01, 0.03), "[0.01,0.03", r"cannot read '\[0.01,0.03'"),
])
def test_param_refuses_values_of_the_wrong_type(default, value, message):
    with pytest.raises(ValueError, match=message):
        Param("p", default).parse(value)


def test_param_choices():
    param = Param("profile", "gaussian", choices=("gaussian", "ideal"))
    assert param.parse("ideal") == "ideal"
    with pytest.raises(ValueError, match="'box' is not one of: gaussian, ideal"):
        param.parse("box")


def test_param_words_stand_beside_the_type_of_the_default():
    shift = Param("shift", 0, words=("auto",))
    assert shift.parse("auto") == "auto" and shift.parse(" AUTO ") == "auto"
    assert shift.parse("2") == 2 and shift.parse(3) == 3
    with pytest.raises(ValueError, match=r"expected an integer, got 'left' \(or auto\)"):
        shift.parse("left")
    with pytest.raises(ValueError, match=r"^expected an integer, got 'left'$"):
        Param("shift", 0).parse("left")


def test_parse_params_fills_defaults_and_converts(registry):
    highpass = registry.find("preprocessor", "highpass")
    assert highpass.parse_params({"cutoff": "0.1"}) == {
        "cutoff": 0.1, "profile": "gaussian", "pad": "reflect", "offset": 0.5,
    }


def test_unknown_parameter_lists_the_valid_ones(registry):
    with pytest.raises(ParameterError) as info:
        registry.find("preprocessor", "highpass").parse_params({"cutof": 0.1})
    assert str(info.value) == (
        "preprocessor 'highpass' has no parameter 'cutof'; valid parameters: cutoff, profile, pad, offset"
    )
    with pytest.raises(ParameterError, match=r"valid parameters: \(none\)"):
        registry.find("metric", "mse").parse_params({"x": 1})


def test_bad_parameter_value_names_stage_parameter_and_cause(registry):
    with pytest.raises(ParameterError, match=r"preprocessor 'highpass': bad value for 'cutoff': expected a number"):
        registry.find("preprocessor", "highpass").build({"cutoff": "wide"})
    with pytest.raises(ParameterError, match=r"bad value for 'profile': 'box' is not one of: gaussian, ideal"):
        registry.find("preprocessor", "lowpass").build({"profile": "box"})


def test_a_value_the_stage_refuses_is_a_parameter_error(registry):
    with pytest.raises(ParameterError, match=r"preprocessor 'lowpass': cutoff must lie in \(0, 1\]"):
        registry.find("preprocessor", "lowpass").build({"cutoff": 2.0})


# -- stage references as text -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "params"), [
    ("ssim", "ssim", {}),
    ("highpass:cutoff=0.1", "highpass", {"cutoff": "0.1"}),
    ("highpass: cutoff = 0.1 , profile=ideal", "highpass", {"cutoff": "0.1", "profile": "ideal"}),
    ("ssim:k=[0.01,0.03],win_size=7", "ssim", {"k": "[0.01,0.03]", "win_size": "7"}),
    ("x:a=(1,2),b={'u': 1, 'v': 2}", "x", {"a": "(1,2)", "b": "{'u': 1, 'v': 2}"}),
    ("x:label='a,b',n=1", "x", {"label": "'a,b'", "n": "1"}),
    ("builtin.ssim:win_size=7", "builtin.ssim", {"win_size": "7"}),
])
def test_parse_stage_ref(text, name, params):
    assert parse_stage_ref(text) == (name, params)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty stage name"),
    (":a=1", "empty stage name"),
    ("highpass:cutoff", r"bad parameter 'cutoff' in 'highpass:cutoff'; write name:key=value"),
    ("highpass:=1", "bad parameter '=1'"),
    ("difference:sigma=1,sigma=2", r"parameter 'sigma' is given twice in 'difference:sigma=1,sigma=2'; give it once"),
    ("difference:sigma=1, sigma =1", "parameter 'sigma' is given twice"),
])
def test_parse_stage_ref_refuses_malformed_text(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_stage_ref(text)


def test_bracketed_text_reaches_a_tuple_parameter(registry):
    class Weighted:
        def __init__(self, k=(0.01, 0.03)):
            self.k = k

    record = StageSpec("weighted", Weighted, "Takes a pair.", params=(Param("k", (0.01, 0.03)),),
                       higher_is_better=True)
    with registry.temporary_plugin(Offers(dfind_metrics=[record]), name="acme"):
        stage = registry.find("metric", "weighted")
        name, params = parse_stage_ref("weighted:k=[0.02,0.05]")
        assert name == "weighted"
        assert stage.build(params).k == (0.02, 0.05)


# -- hooks that misbehave -----------------------------------------------------------------------


def _broken_by(registry, plugin) -> list:
    with registry.temporary_plugin(plugin, name="acme"):
        stages = {(s.kind, s.name) for s in registry.stages()}
        broken = [b for b in registry.broken if b.origin.plugin == "acme"]
        # every built-in keeps working
        assert BUILTINS <= stages
        assert registry.find("metric", "ssim").origin.plugin == "builtin"
        assert not any(s.origin.plugin == "acme" for s in registry.stages())
    return broken


def test_hook_yielding_something_else_marks_only_that_plugin_broken(registry):
    good = StageSpec("good", "acme_pkg:Good", "Fine.")
    broken = _broken_by(registry, Offers(dfind_preprocessors=[good, "not a record"]))
    assert [(b.phase, b.reason) for b in broken] == [
        ("hook", "dfind_preprocessors: TypeError: dfind_preprocessors yielded str, not StageSpec"),
    ]


def test_hook_yielding_one_name_twice_is_broken(registry):
    record = StageSpec("twin", "acme_pkg:Twin", "Twice.")
    (broken,) = _broken_by(registry, Offers(dfind_strategies=[record, record]))
    assert broken.phase == "hook"
    assert "yielded 'twin' twice" in broken.reason


def test_hook_that_raises_is_broken_and_its_other_hooks_are_dropped(registry):
    class Raises:
        @hookimpl
        def dfind_preprocessors(self):
            yield StageSpec("fine", "acme_pkg:Fine", "Would work alone.")

        @hookimpl
        def dfind_metrics(self):
            raise RuntimeError("database offline\nsecond line")

    (broken,) = _broken_by(registry, Raises())
    assert broken.phase == "hook"
    assert broken.reason == "dfind_metrics: RuntimeError: database offline"


@pytest.mark.parametrize(("record", "reason"), [
    (StageSpec("Bad Name", "x:y", higher_is_better=True), "invalid name 'Bad Name'"),
    (StageSpec("nodir", "x:y"), "metric 'nodir' does not declare higher_is_better"),
])
def test_invalid_metric_records_are_broken(registry, record, reason):
    (broken,) = _broken_by(registry, Offers(dfind_metrics=[record]))
    assert reason in broken.reason


def test_unknown_hook_name_is_refused_with_the_valid_hooks(registry):
    class Typo:
        @hookimpl
        def dfind_metric(self):
            return []

    with pytest.raises(StageError, match=r"unknown hook dfind_metric; dfind's hooks are: .*dfind_metrics"):
        registry.register(Typo(), name="typo")
    assert registry.pm.get_plugin("typo") is None


def test_target_that_fails_to_import_is_one_line_and_then_listed_broken(registry):
    from dfcore.pipeline import build_stage

    record = StageSpec("ghost", "acme_missing_module_xyz:Ghost", "Cannot load.")
    with registry.temporary_plugin(Offers(dfind_strategies=[record]), name="acme"):
        with pytest.raises(StageError) as info:
            build_stage(registry, "strategy", "ghost", device="cpu")
        message = str(info.value)
        assert "\n" not in message
        assert "strategy 'acme.ghost' cannot be loaded from 'acme_missing_module_xyz:Ghost'" in message
        assert "ModuleNotFoundError: No module named 'acme_missing_module_xyz'" in message
        assert [(b.origin.plugin, b.phase) for b in registry.broken] == [("acme", "target")]
        listed = listing_data(registry)["broken"]
        assert [(b["plugin"], b["phase"]) for b in listed] == [("acme", "target")]
        assert "acme" in render_listing(registry) and "target failed" in render_listing(registry)


def test_target_attribute_missing_is_a_stage_error(registry):
    record = StageSpec("ghost", "dfplugins_builtin.preprocessors.basic:NoSuchClass", "Cannot load.")
    with registry.temporary_plugin(Offers(dfind_preprocessors=[record]), name="acme"), \
            pytest.raises(StageError, match="AttributeError"):
        registry.find("preprocessor", "ghost").build()


# -- records match the code they point at ---------------------------------------------------------


def _first_party_stages():
    from dfcore.testing import fresh_registry

    return [s for s in fresh_registry().stages() if s.origin.first_party]


@pytest.mark.parametrize("stage", _first_party_stages(), ids=lambda s: f"{s.kind}-{s.qualified_name}")
def test_param_defaults_match_the_target_signature(stage):
    signature = inspect.signature(stage.load())
    init = {
        name: p for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    declared = {p.name: p.default for p in stage.spec.params}
    assert set(init) == set(declared), "every __init__ parameter is declared and every Param exists"
    for name, default in declared.items():
        assert init[name].default is not inspect.Parameter.empty, f"{name} has no default in __init__"
        assert init[name].default == default and type(init[name].default) is type(default), name

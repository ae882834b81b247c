"""The pipeline: stage references, results, batches, folders, saving, stage misbehaviour, devices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import dfcore
from dfcore import DiffResult, Finder, PairFailure
from dfcore.contracts import PairOutput, StageOutput
from dfcore.errors import InputError, ParameterError, StageError, StageNotFoundError
from dfcore.pipeline import resolve_device
from dfcore.plugin.spec import parse_stage_ref
from dfcore.runs import DirRun
from dfcore.testing import planted_pair, save_image

BOX = (8, 20, 18, 34)  # y0, x0, y1, x1 inside a 32x48 image


@pytest.fixture
def pair():
    a, b, mask = planted_pair(32, 48, boxes=(BOX,))
    return a, b, mask


def finder(**stages) -> Finder:
    stages.setdefault("metric", "mse")
    stages.setdefault("strategy", "difference")
    return Finder(device="cpu", **stages)


# -- stage references ---------------------------------------------------------------------------


def test_default_pipeline_is_the_default_preset(registry, pair):
    result = Finder(device="cpu").run(*pair[:2])
    config = result.config
    assert (config["metric"]["name"], config["strategy"]["name"]) == ("mse", "difference")
    preset = registry.find_preset("default").stages["strategy"]
    assert config["strategy"]["params"] == registry.find("strategy", "difference").parse_params(
        parse_stage_ref(preset)[1])
    assert [s["qualified_name"] for s in config["postprocessor"]] == ["builtin.regions"]
    assert config["preset"] == "default"


class _SmoothedPreset:
    """A preset whose map is smoothed by a postprocessor, as a third party may write one."""

    @staticmethod
    @dfcore.hookimpl
    def dfind_presets():
        yield dfcore.PresetSpec("smoothed", "difference, smoothed",
                                {"metric": "builtin.mse", "strategy": "builtin.difference",
                                 "postprocessor": "builtin.smooth:sigma=1"})


def test_a_named_strategy_keeps_its_own_map(registry, pair):
    """A preset's postprocessing is tuned to its strategy: naming another one drops it."""
    registry.register(_SmoothedPreset, "smoothed-preset")
    config = Finder(strategy="gradient", preset="smoothed", device="cpu").config
    assert config["postprocessor"] == [] and config["metric"]["name"] == "mse"
    named = Finder(strategy="gradient", postprocessor="smooth", preset="smoothed", device="cpu").config
    assert [p["name"] for p in named["postprocessor"]] == ["smooth"]
    with_metric = Finder(metric="ssim", preset="smoothed", device="cpu").config
    assert [p["name"] for p in with_metric["postprocessor"]] == ["smooth"]
    assert with_metric["metric"]["name"] == "ssim"
    # a metric named alone gets its own map (the metric preset), not the default's map
    default, ssim = Finder(device="cpu").config, Finder(metric="ssim", device="cpu").config
    assert ssim["preset"] == "metric" and ssim["strategy"]["name"] == "own" and ssim["postprocessor"] == []
    assert default["preset"] == "default" and [p["name"] for p in default["postprocessor"]] == ["regions"]


def test_unknown_preset_suggests(registry):
    with pytest.raises(StageNotFoundError, match=r"unknown preset 'defualt'; did you mean default\?"):
        Finder(preset="defualt", device="cpu")


def test_stage_references_of_every_form(registry, pair):
    class Doubler:
        def __call__(self, out):
            return out.map * 2

    class Mean:
        higher_is_better = False

        def __call__(self, x, y):
            return (x - y).abs().flatten(1).mean(1)

    f = Finder(
        preprocessor=["lowpass:cutoff=0.5", ("highpass", {"cutoff": 0.1, "offset": 0.0}), "builtin.identity"],
        metric=Mean(),
        strategy=("difference", {"reduce": "max"}),
        postprocessor=["identity", Doubler()],
        device="cpu",
    )
    config = f.run(*pair[:2]).config
    assert [(s["name"], s["params"]) for s in config["preprocessor"]] == [
        ("lowpass", {"cutoff": 0.5, "profile": "gaussian", "pad": "reflect"}),
        ("highpass", {"cutoff": 0.1, "profile": "gaussian", "pad": "reflect", "offset": 0.0}),
        ("identity", {}),
    ]
    assert config["metric"]["name"] == "Mean" and config["metric"]["plugin"] is None
    assert config["metric"]["higher_is_better"] is False
    assert config["strategy"]["params"] == {"reduce": "max", "shift": 0, "sigma": 0.0, "scale": 0.0, "octaves": 1,
                                            "background": 0.0, "exact": "off", "lossless": "share", "lossless_reach": 2,
                                            "antialias": 0, "overshoot": 0.0, "rendered_window": 0, "window_slack": 0.0,
                                            "window_fade": False, "window_glyphs": 0.0, "window_step": 1.0,
                                            "rendered_overshoot": None, "rendered_contrast": 0.0, "rendered_motion": 0.0,
                                            "register": "off", "register_structure": 0.0, "register_border": False,
                                            "register_tones": 1,
                                            "edge_margin": 0, "rendered_fade": "map"}
    assert [s["name"] for s in config["postprocessor"]] == ["identity", "Doubler"]


def test_chain_order_matters(registry, pair):
    a, b, _ = pair
    normalize_then_low = finder(preprocessor=["normalize", "lowpass:cutoff=0.2"]).run(a, b)
    low_then_normalize = finder(preprocessor=["lowpass:cutoff=0.2", "normalize"]).run(a, b)
    assert not np.allclose(normalize_then_low.map, low_then_normalize.map)


def test_a_tuple_of_names_is_not_taken_for_parameters(registry):
    with pytest.raises(ParameterError, match="write a chain as a list"):
        finder(preprocessor=("highpass", "normalize"))


def test_metric_object_without_orientation_is_refused(registry):
    with pytest.raises(ParameterError) as info:
        finder(metric=lambda x, y: (x - y).abs().flatten(1).mean(1))
    assert "metric object '<lambda>' has no higher_is_better attribute" in str(info.value)
    assert "\n" not in str(info.value)


def test_non_callable_stage_object_is_refused(registry):
    with pytest.raises(ParameterError, match="strategy object 'int' is not callable"):
        finder(strategy=3)


# -- results ------------------------------------------------------------------------------------


def test_run_returns_a_map_score_and_full_configuration(registry, pair):
    a, b, _ = pair
    result = finder(metric="ssim", strategy="gradient").run(a, b)
    assert isinstance(result, DiffResult)
    assert result.map.shape == (32, 48) and result.map.dtype == np.float32
    assert isinstance(result.score, float) and 0 < result.score < 1
    assert result.higher_is_better is True
    config = result.config
    assert config["dfind"] == dfcore.__version__ and config["device"] == "cpu"
    for kind in ("metric", "strategy"):
        assert config[kind]["plugin"] == "builtin"
        assert config[kind]["distribution"] == "dfind"
        assert config[kind]["version"] == dfcore.__version__
    assert config["metric"]["params"] == {"data_range": 1.0, "win_size": 11, "win_sigma": 1.5, "k1": 0.01, "k2": 0.03}
    assert config["metric"]["conventions"]["data_range"] == 1.0
    assert config["metric"]["conventions"]["C1"] == pytest.approx(1e-4)
    assert config["strategy"]["conventions"]["differentiated"] == "b"


def test_inputs_of_every_kind_give_the_same_map(registry, pair, tmp_path):
    a, b, _ = pair
    a8 = torch.round(a * 255) / 255
    b8 = torch.round(b * 255) / 255
    path_a, path_b = save_image(tmp_path / "a.png", a8), save_image(tmp_path / "b.png", b8)
    f = finder()
    from_tensors = f.run(a8, b8)
    from_arrays = f.run(a8[0].permute(1, 2, 0).numpy(), b8[0].permute(1, 2, 0).numpy())
    from_files = f.run(path_a, str(path_b))
    from_pil = f.run(Image.open(path_a), Image.open(path_b))
    for other in (from_arrays, from_files, from_pil):
        np.testing.assert_allclose(other.map, from_tensors.map, atol=1e-6)
    assert from_files.name == "b.png"
    assert from_files.inputs["a"]["source"] == str(path_a)


def test_batch_gives_one_result_per_sample(registry, pair):
    a, b, _ = pair
    results = finder().run(torch.cat([a, a, a]), torch.cat([b, a, b.flip(-1)]))
    assert isinstance(results, list) and len(results) == 3
    assert [r.name for r in results] == ["0", "1", "2"]
    single = finder().run(a, b)
    np.testing.assert_array_equal(results[0].map, single.map)
    assert results[0].score == pytest.approx(single.score)
    assert results[1].score == 0.0 and not results[1].map.any()


def test_one_image_against_a_batch_is_broadcast(registry, pair):
    a, b, _ = pair
    results = finder().run(a, torch.cat([b, a]))
    assert len(results) == 2 and results[1].score == 0.0


def test_sizes_that_differ_are_refused(registry, pair):
    a, _, _ = pair
    with pytest.raises(InputError, match=r"image sizes differ: a is 48x32, b is 47x32"):
        finder().run(a, a[..., :47])


# -- folders ------------------------------------------------------------------------------------


def _folders(tmp_path, pair):
    a, b, _ = pair
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    # by sorted position A/1 would meet B/2 and A/2 would meet B/3
    save_image(dir_a / "1.png", a)
    save_image(dir_a / "2.png", a)
    save_image(dir_b / "2.png", a)
    save_image(dir_b / "3.png", b)
    save_image(dir_a / "scene" / "10.png", a)
    save_image(dir_b / "scene" / "10.png", b)
    save_image(dir_a / "photo.png", a)
    Image.open(save_image(tmp_path / "photo.png", a)).save(dir_b / "photo.jpg", quality=100, subsampling=0)
    (dir_a / "notes.txt").write_text("not an image")
    save_image(dir_b / ".hidden.png", b)
    return dir_a, dir_b


def test_folders_pair_by_relative_path(registry, pair, tmp_path):
    dir_a, dir_b = _folders(tmp_path, pair)
    run = finder().run(dir_a, dir_b)
    assert isinstance(run, DirRun) and len(run) == 3
    assert run.pairing.only_a == ["1.png"]
    assert run.pairing.only_b == ["3.png"]
    results = {r.name: r for r in run}
    assert set(results) == {"2.png", "photo.png", "scene/10.png"}
    assert results["2.png"].score == 0.0, "2.png is compared with 2.png, not with the second file of B"
    assert results["scene/10.png"].score > 0
    assert results["photo.png"].inputs["b"]["source"].endswith("photo.jpg")
    assert results["photo.png"].score < 1e-3  # JPEG of the same picture


def test_folder_and_file_cannot_be_mixed(registry, pair, tmp_path):
    dir_a, _ = _folders(tmp_path, pair)
    with pytest.raises(InputError, match="is a folder but the other input is not"):
        finder().run(dir_a, dir_a / "2.png")


def test_folder_run_records_failures_and_goes_on(registry, pair, tmp_path):
    a, b, _ = pair
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    save_image(dir_a / "a_bad.png", a)
    dir_b.mkdir()
    (dir_b / "a_bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    save_image(dir_a / "b_small.png", a)
    save_image(dir_b / "b_small.png", a[..., :40])
    save_image(dir_a / "c_good.png", a)
    save_image(dir_b / "c_good.png", b)

    items = list(finder().run(dir_a, dir_b, on_error="record"))
    assert [i.name for i in items] == ["a_bad.png", "b_small.png", "c_good.png"]
    bad, small, good = items
    assert isinstance(bad, PairFailure) and not bad.ok
    assert "a_bad.png" in bad.error and ("corrupt" in bad.error or "not an image" in bad.error)
    assert isinstance(small, PairFailure) and "48x32" in small.error and "40x32" in small.error
    assert isinstance(good, DiffResult) and good.ok and good.score > 0

    with pytest.raises(InputError):
        list(finder().run(dir_a, dir_b))  # on_error="raise" is the default
    with pytest.raises(ValueError, match="on_error must be"):
        finder().run_dirs(dir_a, dir_b, on_error="skip")


# -- stages that break the contract ---------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "message"), [
    (lambda p: torch.zeros(1, 1, 3, 3), (r"strategy '<lambda>' returned a map of shape \[1, 1, 3, 3\], "
                                         r"expected \[1, 1, 32, 48\] \(Nx1xHxW on the input grid\)")),
    (lambda p: torch.zeros(1, 3, 32, 48), r"returned a map of shape \[1, 3, 32, 48\]"),
    (lambda p: torch.full((1, 1, 32, 48), float("nan")), "strategy '<lambda>' produced NaN or infinite values"),
    (lambda p: "map", "strategy '<lambda>' returned str, expected a tensor or StageOutput"),
])
def test_strategy_breaking_the_contract_is_a_one_line_error(registry, pair, strategy, message):
    with pytest.raises(StageError, match=message) as info:
        finder(strategy=strategy).run(*pair[:2])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("value", "message"), [
    (torch.zeros(3), r"metric 'Bad' returned shape \[3\] for a 1x3x32x48 input, expected \[1\] \(one value per sample\)"),
    (torch.zeros(1, 1), r"returned shape \[1, 1\]"),
    (0.5, "metric 'Bad' returned float, expected a tensor of shape"),
])
def test_metric_breaking_the_contract_is_a_one_line_error(registry, pair, value, message):
    class Bad:
        higher_is_better = False

        def __call__(self, x, y):
            return value

    with pytest.raises(StageError, match=message):
        finder(metric=Bad()).run(*pair[:2])


def test_postprocessor_breaking_the_contract_is_a_one_line_error(registry, pair):
    with pytest.raises(StageError, match=r"postprocessor '<lambda>' returned a map of shape \[1, 1, 16, 24\]"):
        finder(postprocessor=lambda out: out.map[..., ::2, ::2]).run(*pair[:2])


def test_postprocessor_output_reaches_the_result(registry, pair):
    def threshold(out):
        mask = out.map > 0.1
        return StageOutput(map=out.map, mask=mask, info=[{"threshold": 0.1}] * out.map.shape[0])

    result = finder(postprocessor=threshold).run(*pair[:2])
    y0, x0, y1, x1 = BOX
    assert result.mask is not None and result.mask.dtype == bool
    assert result.mask[y0:y1, x0:x1].mean() > 0.5 and not result.mask[:y0].any()
    assert result.info == {"threshold": {"threshold": 0.1}}



def test_each_postprocessor_sees_the_pair_the_map_was_made_from_and_the_output_holds_none(registry, pair):
    seen = []

    def look(out):
        seen.append(out.images)
        return out.map * 2  # a new map: the next stage still sees the pair

    a, b, _ = pair
    computed = finder(postprocessor=[look, look]).compute(a, b)
    assert len(seen) == 2 and all(s is not None for s in seen)
    for images in seen:
        assert torch.equal(images[0], computed.a) and torch.equal(images[1], computed.b)
    assert computed.output.images is None


# -- pairwise preprocessors ----------------------------------------------------------------------


class LeftHalf:
    """A pairwise preprocessor that declares the right half of the pair invalid."""

    pairwise = True

    def pair(self, a, b):
        valid = torch.zeros(a.shape[0], 1, *a.shape[2:], dtype=torch.bool, device=a.device)
        valid[..., : a.shape[-1] // 2] = True
        return PairOutput(a, b, valid, [{"kept": "left half"}] * a.shape[0])


@pytest.mark.parametrize(("metric", "strategy"), [("mse", "difference"), ("ssim", "gradient"), ("psnr", "gradient")])
def test_pairwise_valid_mask_zeros_the_map_outside_it(registry, metric, strategy):
    a, b, _ = planted_pair(32, 48, boxes=((8, 6, 18, 18), (8, 30, 18, 42)))
    result = finder(preprocessor=LeftHalf(), metric=metric, strategy=strategy).run(a, b)
    assert not result.map[:, 24:].any(), "nothing outside the valid pixels"
    assert result.map[8:18, 6:18].max() > 0
    assert result.valid is not None and result.valid[:, :24].all() and not result.valid[:, 24:].any()
    assert result.info == {"LeftHalf": {"kept": "left half"}}


def test_pairwise_mask_keeps_the_right_half_out_of_the_score(registry):
    a, b, _ = planted_pair(32, 48, boxes=((8, 30, 18, 42),))  # change only on the right
    assert finder(preprocessor=LeftHalf()).run(a, b).score == 0.0
    assert finder().run(a, b).score > 0


def test_pairwise_preprocessor_returning_something_else(registry, pair):
    class Wrong:
        pairwise = True

        def pair(self, a, b):
            return a, b

    with pytest.raises(StageError, match="pairwise preprocessor 'Wrong' must return a PairOutput"):
        finder(preprocessor=Wrong()).run(*pair[:2])


# -- saving -------------------------------------------------------------------------------------


def test_save_writes_heatmap_map_and_json(registry, pair, tmp_path):
    result = finder(metric="ssim", strategy="gradient").run(*pair[:2], name="scene/b.png")
    files = result.save(tmp_path / "out")
    assert {k: p.relative_to(tmp_path / "out").as_posix() for k, p in files.items()} == {
        "heatmap": "scene/b.heatmap.png", "map": "scene/b.map.npy", "json": "scene/b.json",
    }
    heatmap = np.asarray(Image.open(files["heatmap"]))
    assert heatmap.shape == (32, 48, 3) and heatmap.dtype == np.uint8
    import matplotlib

    top = np.round(np.array(matplotlib.colormaps["inferno"](1.0)[:3]) * 255)
    peak = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert np.abs(heatmap[peak].astype(int) - top).max() <= 1, "the maximum gets inferno's brightest colour"
    assert np.array_equal(np.load(files["map"]), result.map)

    data = json.loads(files["json"].read_text())
    assert data["score"] == pytest.approx(result.score)
    assert data["metric"] == "ssim" and data["higher_is_better"] is True
    assert data["config"]["metric"]["conventions"]["data_range"] == 1.0
    assert data["config"]["strategy"]["params"]["reference"] == "a"
    assert data["map"]["height"] == 32 and data["map"]["width"] == 48
    assert data["map"]["max"] == pytest.approx(float(result.map.max()))
    assert data["files"] == {"heatmap": "b.heatmap.png", "map": "b.map.npy"}
    assert data["display"]["colormap"] == "inferno"
    assert not list((tmp_path / "out").rglob("*.part")), "no temporary file is left behind"


def test_non_finite_scores_are_written_as_null_with_what_they_were(registry, pair, tmp_path):
    from dfcore.io.layout import read_score

    a, _, _ = pair
    result = finder(metric="psnr", strategy="gradient").run(a, a)
    assert result.score == float("inf")
    assert np.isfinite(result.map).all() and not result.map.any()
    path = result.save(tmp_path, name="same")["json"]
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert data["score"] is None and data["score_nonfinite"] == "inf" and data["schema"] == 2
    assert read_score(data) == float("inf")
    assert read_score({"score": "inf"}) == float("inf"), "schema 1 wrote the text"
    assert read_score({"score": 0.5}) == 0.5 and read_score({}) is None
    other = finder(metric="psnr", strategy="gradient").run(*pair[:2]).to_dict()
    assert isinstance(other["score"], float) and "score_nonfinite" not in other


def test_signed_maps_get_a_diverging_colormap(registry, pair, tmp_path):
    a, b, _ = pair
    b = b.clone()
    b[..., :4, :4] = a[..., :4, :4] - 0.05  # darker here: lowering, not raising, these pixels adds difference
    result = finder(metric="mse", strategy="gradient:signed=true").run(a, b)
    assert result.map.min() < 0 < result.map.max()
    data = json.loads(result.save(tmp_path, name="s")["json"].read_text())
    assert data["display"]["colormap"] == "RdBu_r"
    assert data["display"]["vmin"] == -data["display"]["vmax"]


def test_unknown_colormap_suggests(registry, pair, tmp_path):
    result = finder().run(*pair[:2])
    with pytest.raises(ParameterError, match=r"unknown colormap 'infern'; did you mean inferno"):
        result.save(tmp_path, colormap="infern")


# -- devices ------------------------------------------------------------------------------------


def test_cuda_without_cuda_is_a_parameter_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match="device cuda requested but CUDA is not available here"):
        resolve_device("cuda")
    with pytest.raises(ParameterError, match="CUDA is not available"):
        Finder(device="cuda:0")


def test_auto_picks_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


@pytest.mark.parametrize("text", ["tpu", "gpu", "cuda:x"])
def test_unknown_device_names_the_choices(text):
    with pytest.raises(ParameterError, match=f"unknown device '{text}'; use auto, cpu, cuda, cuda:N or mps"):
        resolve_device(text)


@pytest.mark.gpu
@pytest.mark.parametrize(("metric", "strategy"), [("ssim", "gradient"), ("mse", "difference"), ("psnr", "gradient")])
def test_cuda_run_matches_cpu_and_stays_on_the_device(registry, pair, metric, strategy):
    a, b, _ = pair
    on_gpu = Finder(preprocessor="highpass", metric=metric, strategy=strategy, device="cuda")
    computed = on_gpu.compute(a.cuda(), b.cuda())
    assert computed.score.is_cuda and computed.output.map.is_cuda
    gpu = on_gpu.run(a, b)
    cpu = Finder(preprocessor="highpass", metric=metric, strategy=strategy, device="cpu").run(a, b)
    assert gpu.config["device"].startswith("cuda")
    # cuDNN may run convolutions in TF32 (about 1e-3 relative): compare at the scale of the map
    np.testing.assert_allclose(gpu.map, cpu.map, rtol=0, atol=1e-2 * float(np.abs(cpu.map).max()))
    assert gpu.score == pytest.approx(cpu.score, rel=1e-3)

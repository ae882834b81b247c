"""The learned metrics: weights from files the tests make, piq's values, one-line errors offline."""

from __future__ import annotations

import hashlib

import pytest
import torch

from dfcore import Finder, check_metric
from dfcore.errors import ParameterError, ShapeError, WeightsError

PLUGIN = "piq"
LEARNED = ("dists", "lpips-vgg", "content", "style", "pieapp")


def files_for(name, weights):
    """The ``weights=``/``backbone=`` parameters giving ``name`` the test's random weights."""
    own = {"dists": "dists", "lpips-vgg": "lpips", "pieapp": "pieapp"}.get(name)
    params = {"weights": str(weights[own])} if own else {}
    if name != "pieapp":
        params["backbone"] = str(weights["vgg16"])
    return params


def side_for(name):
    return 64 if name == "pieapp" else 32


def pair(n=1, c=3, side=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    a = 0.1 + 0.8 * torch.rand(n, c, side, side, generator=generator)
    b = (a + 0.2 * (torch.rand(n, c, side, side, generator=generator) - 0.5)).clamp(0.0, 1.0)
    return a, b


@pytest.fixture
def build(registry, weights, no_download):
    def make(name, **params):
        return registry.find("metric", f"{PLUGIN}.{name}").build({**files_for(name, weights), **params})

    return make


@pytest.fixture
def piq_own(monkeypatch, weights):
    """piq's own classes, their downloads answered with the test's files."""
    import piq
    import torchvision

    by_url = {piq.DISTS._weights_url: weights["dists"], piq.LPIPS._weights_url: weights["lpips"],
              piq.PieAPP._weights_url: weights["pieapp"]}
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda url, **kwargs: torch.load(by_url[url], weights_only=True))
    features = {k[len("features."):]: v for k, v in torch.load(weights["vgg16"], weights_only=True).items()}

    def vgg16(pretrained=False, progress=True):
        model = torchvision.models.vgg16(weights=None)
        model.features.load_state_dict(features)
        return model

    monkeypatch.setattr(piq.perceptual, "vgg16", vgg16)
    return {"dists": lambda: piq.DISTS(reduction="none"), "lpips-vgg": lambda: piq.LPIPS(reduction="none"),
            "content": lambda: piq.ContentLoss(reduction="none"), "style": lambda: piq.StyleLoss(reduction="none"),
            "pieapp": lambda: piq.PieAPP(reduction="none", enable_grad=True)}


@pytest.mark.parametrize("name", LEARNED)
def test_values_are_piqs_with_the_same_weights(build, piq_own, name):
    a, b = pair(n=2, side=side_for(name))
    metric = build(name)
    value = metric(a, b)
    assert value.shape == (2,) and bool(torch.isfinite(value).all())
    torch.testing.assert_close(value, piq_own[name]()(b, a), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", LEARNED)
def test_gradients_reach_the_images_and_not_the_network(build, name):
    a, b = pair(side=side_for(name))
    metric = build(name)
    moving = b.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(metric(a, moving).sum(), moving)
    assert bool(torch.isfinite(grad).all()) and bool(grad.any())
    assert not [p for p in metric.parameters() if p.requires_grad]


def test_the_files_weights_are_the_ones_used(build, weights, tmp_path):
    dists = build("dists")
    features = torch.load(weights["vgg16"], weights_only=True)
    assert torch.equal(dists.net.model[0].weight, features["features.0.weight"])
    trained = torch.load(weights["dists"], weights_only=True)
    assert torch.equal(torch.cat(dists.net.weights[:6], dim=1), trained["alpha"])

    other = tmp_path / "other_dists.pt"
    torch.save({"alpha": trained["beta"], "beta": trained["alpha"]}, other)
    a, b = pair()
    assert not torch.equal(build("dists", weights=str(other))(a, b), dists(a, b))

    pieapp = build("pieapp")
    state = torch.load(weights["pieapp"], weights_only=True)
    assert torch.equal(pieapp.net.model.fc1_score.weight, state["fc1_score.weight"])
    assert pieapp.net.model.ref_score_subtract.weight.shape == (1, 1)  # piq's fix of its file, applied


def test_the_cache_is_torch_hubs(registry, weights, torch_home, no_download):
    cache = torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    for key in ("vgg16", "dists"):
        (cache / weights[key].name).symlink_to(weights[key])
    dists = registry.find("metric", "piq.dists").build()
    assert dists.files == {"weights": cache / "dists_weights.pt", "backbone": cache / "vgg16-397923af.pth"}
    recorded = dists.conventions()
    assert recorded["backbone"] == str(cache / "vgg16-397923af.pth")
    assert recorded["weights_sha256"] == hashlib.sha256(weights["dists"].read_bytes()).hexdigest()


def test_missing_weights_offline_are_one_line_errors(registry, torch_home, no_download):
    with pytest.raises(WeightsError) as info:
        registry.find("metric", "piq.dists").build({"download": False})
    message = str(info.value)
    assert "\n" not in message
    assert message == (f"piq.dists needs dists_weights.pt, which is not in torch hub's cache "
                       f"{torch_home / 'hub' / 'checkpoints'}; put dists_weights.pt there (from https://github.com/"
                       f"photosynthesis-team/piq/releases/download/v0.4.1/dists_weights.pt) or pass "
                       f"piq.dists:weights=/path/to/dists_weights.pt")


def test_a_failed_download_is_a_one_line_error(registry, weights, torch_home, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError, match=r"^piq.pieapp needs PieAPPv0.1.pth: not in torch hub's cache .* and the "
                                           r"download failed \(OSError: <urlopen error .*\); put PieAPPv0.1.pth there "
                                           r".* or pass piq.pieapp:weights=/path/to/PieAPPv0.1.pth$"):
        registry.find("metric", "piq.pieapp").build()
    with pytest.raises(WeightsError, match=r"piq.lpips-vgg:backbone=/path/to/vgg16-397923af.pth$"):
        registry.find("metric", "piq.lpips-vgg").build({"weights": str(weights["lpips"])})


def test_wrong_files_are_one_line_errors(build, weights, tmp_path):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(WeightsError, match=f"^piq.dists: weights file {missing} does not exist$"):
        build("dists", weights=str(missing))
    with pytest.raises(WeightsError, match=r"^piq.dists: weights file .*lpips_weights.pt is not DISTS's"):
        build("dists", weights=str(weights["lpips"]))
    with pytest.raises(WeightsError, match=r"^piq.lpips-vgg: weights file .*dists_weights.pt is not LPIPS's"):
        build("lpips-vgg", weights=str(weights["dists"]))
    with pytest.raises(WeightsError, match=r"^piq.content: backbone file .*dists_weights.pt holds no torchvision "
                                           r"vgg16 weights"):
        build("content", backbone=str(weights["dists"]))
    with pytest.raises(WeightsError, match=r"^piq.content: backbone file .*vgg16-397923af.pth does not fit "
                                           r"torchvision's vgg19"):
        build("content", feature_extractor="vgg19")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match=r"^piq.pieapp: cannot read weights file .*garbage.pt: "):
        build("pieapp", weights=str(garbage))


def test_the_lpips_packages_vgg_weights_are_accepted(build, tmp_path):
    lpips_format = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}
    path = tmp_path / "vgg.pth"
    torch.save(lpips_format, path)
    metric = build("lpips-vgg", weights=str(path))
    assert torch.equal(metric.net.weights[2], lpips_format["lin2.model.1.weight"])


@pytest.mark.parametrize("name", ["dists", "lpips-vgg", "content", "style"])
def test_dfinds_metric_checks_pass(build, name):
    report = check_metric(build(name), gradcheck=True, shape=(2, 3, 32, 32))
    assert report.ok, str(report)


def test_pieapp_runs_dfinds_checks_but_orientation_needs_trained_weights(build):
    report = check_metric(build("pieapp"), gradcheck=True, shape=(2, 3, 64, 64))
    assert [c.name for c in report.failures] in ([], ["orientation"]), str(report)  # random weights: any order
    assert all(report[c].status == "pass" for c in ("runs", "shape", "finite", "autograd", "gradcheck"))


@pytest.mark.parametrize(("name", "side"), [("lpips-vgg", 32), ("content", 32), ("style", 32), ("pieapp", 64)])
def test_the_smallest_size_is_checked(build, name, side):
    a, b = pair(side=side - 1)
    with pytest.raises(ShapeError, match=rf"^piq.{name} needs images of at least {side}x{side} px .*got "
                                         rf"{side - 1}x{side - 1}$"):
        build(name)(a, b)


def test_dists_takes_any_size(build):
    a, b = pair(side=1)
    assert bool(torch.isfinite(build("dists")(a, b)).all())


def test_grey_is_repeated_to_rgb(build):
    a, b = pair(c=1)
    metric = build("dists")
    assert torch.equal(metric(a, b), metric(a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)))


def test_bad_parameters(build):
    with pytest.raises(ParameterError, match="layers must name vgg16 layers such as relu3_3, got \\['relu9_9'\\]"):
        build("content", layers=("relu9_9",))
    with pytest.raises(ParameterError, match="give one layer weight per layer: 2 layers, 1 weights"):
        build("style", layers=("relu1_2", "relu2_2"))
    with pytest.raises(ParameterError, match=r"mean and std need three values \(R, G, B\)"):
        build("dists", mean=(0.5,))


def test_a_finder_runs_a_learned_metric(build, weights, registry):
    a, b = pair(side=48)
    result = Finder(metric=("piq.lpips-vgg", files_for("lpips-vgg", weights)), strategy="gradient",
                    registry=registry, device="cpu").run(a, b)
    assert result.map.shape == (48, 48) and result.config["metric"]["conventions"]["backbone"].endswith(".pth")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", LEARNED)
def test_tensors_stay_on_the_gpu(build, name):
    a, b = pair(side=side_for(name))
    metric = build(name)
    expected = metric(a, b)
    metric = metric.to("cuda")
    moving = b.cuda().requires_grad_(True)
    value = metric(a.cuda(), moving)
    (grad,) = torch.autograd.grad(value.sum(), moving)
    assert value.device.type == "cuda" and grad.device.type == "cuda"
    torch.testing.assert_close(value.cpu(), expected, rtol=1e-3, atol=1e-4)

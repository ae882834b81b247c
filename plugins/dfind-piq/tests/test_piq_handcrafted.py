"""The metrics that need no weights: piq's values, dfind's contract, sizes, channels, ranges, gradients."""

from __future__ import annotations

import pytest
import torch

from dfcore import check_metric
from dfcore.errors import InputError, ParameterError, ShapeError

PLUGIN = "piq"
#: stage -> (piq function, smallest side with the default parameters)
METRICS = {
    "fsim": ("fsim", 2), "gmsd": ("gmsd", 3), "ms-gmsd": ("multi_scale_gmsd", 17), "haarpsi": ("haarpsi", 16),
    "vifp": ("vif_p", 41), "vsi": ("vsi", 2), "mdsi": ("mdsi", 2), "sr-sim": ("srsim", 40), "dss": ("dss", 32),
    "iw-ssim": ("information_weighted_ssim", 161),
}
NAMES = list(METRICS)


def pair(n=1, c=3, side=48, seed=0, dtype=torch.float32):
    """Two different smooth-ish images in [0.1, 0.9]: a and b = a plus a change."""
    generator = torch.Generator().manual_seed(seed)
    small = torch.rand(n, c, side // 4 + 2, side // 4 + 2, generator=generator, dtype=torch.float64)
    a = torch.nn.functional.interpolate(small, size=(side, side), mode="bicubic", align_corners=False)
    a = 0.1 + 0.8 * (a - a.amin()) / (a.amax() - a.amin())
    noise = torch.rand(n, c, side, side, generator=generator, dtype=torch.float64)
    b = (a + 0.15 * (noise - 0.5)).clamp(0.05, 0.95)
    return a.to(dtype), b.to(dtype)


def side_for(name: str) -> int:
    return max(48, METRICS[name][1])


def build(registry, name, **params):
    return registry.find("metric", f"{PLUGIN}.{name}").build(params)


def piq_value(name, a, b, **params):
    """piq's own function, as a user of piq calls it on (assessed image, reference)."""
    import piq

    if params.get("scale_weights") is not None:
        params["scale_weights"] = torch.tensor(params["scale_weights"], dtype=a.dtype)
    return getattr(piq, METRICS[name][0])(b, a, reduction="none", **params)


@pytest.mark.parametrize("name", NAMES)
def test_values_are_piqs_one_per_sample(registry, name):
    a, b = pair(n=2, side=side_for(name))
    a[0], b[0] = 0.5 + 0.2 * (a[0] - 0.5), (1.6 * b[0] - 0.3).clamp(0, 1)  # unlike the other sample
    metric = build(registry, name)
    value = metric(a, b)
    assert value.shape == (2,) and value.dtype == torch.float32
    a64, b64 = a.double(), b.double()  # float64: batched and single convolutions round alike
    singles = torch.cat([piq_value(name, a64[i : i + 1], b64[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(metric(a64, b64), singles, rtol=1e-9, atol=1e-12)  # each sample's value is its own
    if name != "sr-sim":  # piq's SR-SIM scales saliency by the batch's extremes: the bridge goes per sample
        assert torch.equal(value, piq_value(name, a, b))
    same = metric(a, a)
    best = torch.ones(2) if metric.higher_is_better else torch.zeros(2)
    torch.testing.assert_close(same, best, atol=1e-5, rtol=0)
    if name != "vifp":  # VIF exceeds 1 when B has more contrast than A, as sample 0 does
        assert bool(((same > value) if metric.higher_is_better else (same < value)).all())


@pytest.mark.parametrize("name", NAMES)
def test_float64_stays_float64(registry, name):
    a, b = pair(side=side_for(name), dtype=torch.float64)
    assert build(registry, name)(a, b).dtype == torch.float64


def test_options_reach_piq(registry):
    a, b = pair(side=64)
    cases = [("fsim", {"chromatic": False, "scales": 3}), ("ms-gmsd", {"scale_weights": [1.0, 2.0], "chromatic": True}),
             ("haarpsi", {"subsample": False, "alpha": 3.0}), ("mdsi", {"combination": "mult"}),
             ("sr-sim", {"chromatic": True, "scale": 0.5}), ("dss", {"dct_size": 4, "percentile": 0.1}),
             ("vifp", {"sigma_n_sq": 0.5}), ("gmsd", {"t": 0.01}), ("vsi", {"alpha": 0.5})]
    for name, params in cases:
        value = build(registry, name, **params)(a, b)
        assert torch.equal(value, piq_value(name, a, b, **params)), name
        assert not torch.equal(value, build(registry, name)(a, b)), name


def test_the_asymmetric_metrics_take_a_as_the_reference(registry):
    a, _ = pair(side=64)
    b = 0.5 + 0.6 * (a - 0.5)  # B: A with less contrast, so VIF(B | A) < 1 and VIF(A | B) > 1
    vif = build(registry, "vifp")
    assert vif(a, b).item() < 1.0 < vif(b, a).item()


# -- sizes ----------------------------------------------------------------------------------------

SIZES = [
    ("fsim", {}, 2), ("gmsd", {}, 3), ("ms-gmsd", {}, 17), ("ms-gmsd", {"scale_weights": [1.0, 1.0]}, 5),
    ("haarpsi", {}, 16), ("vifp", {}, 41), ("vsi", {}, 2), ("mdsi", {}, 2),
    ("sr-sim", {}, 40), ("sr-sim", {"scale": 0.5}, 20), ("dss", {}, 32), ("dss", {"dct_size": 4}, 16),
    ("iw-ssim", {}, 161), ("iw-ssim", {"kernel_size": 7}, 97), ("iw-ssim", {"scale_weights": [1.0, 1.0, 1.0]}, 41),
]


def _piq_fails(name, a, b, params):
    """piq refuses the pair, or gives a NaN value or gradient (what the bridge's check prevents)."""
    b = b.clone().requires_grad_(True)
    try:
        value = piq_value(name, a, b, **params)
        (grad,) = torch.autograd.grad(value.sum(), b)
    except (ValueError, AssertionError, RuntimeError, IndexError):
        return True
    return not (bool(torch.isfinite(value).all()) and bool(torch.isfinite(grad).all()))


@pytest.mark.parametrize(("name", "params", "side"), SIZES, ids=[f"{n}-{s}" for n, _, s in SIZES])
def test_the_smallest_size_is_checked_before_piq(registry, name, params, side):
    metric = build(registry, name, **params)
    a, b = pair(side=side)
    b = b.requires_grad_(True)
    value = metric(a, b)
    (grad,) = torch.autograd.grad(value.sum(), b)
    assert bool(torch.isfinite(value).all()) and bool(torch.isfinite(grad).all())

    a, b = pair(side=side - 1) if side > 1 else pair(side=1)
    assert _piq_fails(name, a, b, dict(params)), "the check is not stricter than piq"
    with pytest.raises(ShapeError) as info:
        metric(a, b)
    message = str(info.value)
    assert f"piq.{name} needs images of at least {side}x{side} px" in message
    assert message.endswith(f"got {side - 1}x{side - 1}") and "\n" not in message


def test_dss_counts_blocks_not_sides(registry):
    dss = build(registry, "dss")
    a, b = pair(side=200)
    assert torch.isfinite(dss(a[..., :16, :], b[..., :16, :])).all()  # 2 x 25 blocks: the worst 5% is 2
    with pytest.raises(ShapeError, match=r"at least 32x32 px .*got 80x8$"):
        dss(a[..., :8, :80], b[..., :8, :80])  # 10 blocks: 5% rounds to none


# -- channels and ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), [("vsi", {}), ("mdsi", {}), ("ms-gmsd", {"chromatic": True})])
def test_rgb_only_metrics_get_grey_repeated(registry, name, params):
    a, b = pair(c=1, side=48)
    metric = build(registry, name, **params)
    assert torch.equal(metric(a, b), metric(a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)))
    assert "grey repeated to RGB" in metric.conventions()["channels"]


@pytest.mark.parametrize("name", ["fsim", "sr-sim"])
def test_chromatic_variants_of_grey_equal_the_grey_metric(registry, name):
    a, b = pair(c=1, side=48)
    colour = build(registry, name, chromatic=True)(a, b)
    grey = build(registry, name, chromatic=False)(a, b)
    torch.testing.assert_close(colour, grey, rtol=1e-4, atol=1e-6)  # R = G = B: the chroma terms are 1


@pytest.mark.parametrize("name", ["gmsd", "haarpsi", "dss", "vifp"])
def test_grey_passes_through(registry, name):
    a, b = pair(c=1, side=48)
    assert torch.equal(build(registry, name)(a, b), piq_value(name, a, b))


@pytest.mark.parametrize("channels", [2, 4])
def test_other_channel_counts_are_refused(registry, channels):
    a, b = pair(c=channels, side=48)
    with pytest.raises(ShapeError, match=rf"^piq.gmsd compares grey \(1 channel\) or RGB \(3 channels\) images, "
                                         rf"got {channels} channels$"):
        build(registry, "gmsd")(a, b)


def test_values_outside_the_range_are_refused(registry):
    a, b = pair(side=48)
    with pytest.raises(InputError, match=r"^piq.haarpsi needs values in \[0, 1\] \(data_range=1\), got "
                                         r"\[-0.1893, 0.9\]; .*highpass can leave it$"):
        build(registry, "haarpsi")(a, b - 0.25)
    assert torch.isfinite(build(registry, "haarpsi", data_range=2.0)(a + 0.5, b + 0.5)).all()
    with pytest.raises(ShapeError, match=r"two NxCxHxW images of one shape, got \[1, 3, 48, 48\] and \[1, 3, 48, 40\]"):
        build(registry, "haarpsi")(a, b[..., :40])


# -- gradients --------------------------------------------------------------------------------------

SMOOTH = {"fsim": ({"noise_gradient": True}, 32), "gmsd": ({}, 32), "ms-gmsd": ({}, 32), "haarpsi": ({}, 32),
          "vifp": ({}, 48), "vsi": ({}, 32), "mdsi": ({}, 32), "iw-ssim": ({}, 161)}


@pytest.mark.parametrize("name", list(SMOOTH))
def test_gradients_match_finite_differences(registry, name):
    params, side = SMOOTH[name]
    ref = f"{PLUGIN}.{name}" + "".join(f":{k}={v}" for k, v in params.items())
    report = check_metric(ref, gradcheck=True, shape=(2, 3, side, side), registry=registry)
    assert report.ok, str(report)
    assert report["gradcheck"].status == "pass"


@pytest.mark.parametrize("name", ["dss", "sr-sim"])
def test_float32_internals_match_finite_differences_at_a_coarser_step(registry, name):
    # piq computes part of DSS (its subband similarities) and of SR-SIM (imresize, which always
    # casts to float32) in float32, so a float64 gradcheck at eps=1e-6 only sees float32
    # rounding; at eps=1e-4 the difference quotient is above it and autograd must match.
    metric = build(registry, name)
    a, b = pair(side=48, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, y: metric(x, y) * (3 * 48 * 48),
                                    (a.requires_grad_(True), b.requires_grad_(True)),
                                    eps=1e-4, atol=1e-2, rtol=1e-2, fast_mode=True)


@pytest.mark.parametrize("name", ["fsim", "ms-gmsd", "sr-sim", "dss", "gmsd", "mdsi"])
def test_flat_areas_and_identical_images_give_finite_gradients(registry, name):
    a, b = pair(side=64)
    a[..., :24, :24] = 0.5
    b[..., :24, :24] = 0.5
    metric = build(registry, name)
    for reference, moving in ((a, b), (a, a)):
        moving = moving.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(metric(reference, moving).sum(), moving)
        assert bool(torch.isfinite(grad).all()), name


def test_piq_alone_gives_nan_gradients_on_flat_areas():
    import piq

    a, b = pair(side=64)
    a[..., :24, :24] = 0.5
    b = b.clone()
    b[..., :24, :24] = 0.5
    b.requires_grad_(True)
    (grad,) = torch.autograd.grad(piq.fsim(a, b, reduction="none").sum(), b)
    assert bool(torch.isnan(grad).any()), "piq fixed it: the note in dfind_piq.gradients can go"


def test_fsim_holds_the_noise_threshold_by_default(registry):
    a, b = pair(side=64)
    held, free = build(registry, "fsim"), build(registry, "fsim", noise_gradient=True)
    assert torch.equal(held(a, b), free(a, b))
    grads = []
    for metric in (held, free):
        moving = b.clone().requires_grad_(True)
        grads.append(torch.autograd.grad(metric(a, moving).sum(), moving)[0])
    assert not torch.equal(*grads)
    assert "held fixed" in held.conventions()["noise_threshold"]


# -- parameters -------------------------------------------------------------------------------------

BAD = [
    ("gmsd", {"data_range": 0.0}, "data_range must be positive, got 0.0"),
    ("haarpsi", {"scales": 4}, r"'scales': 4 is not one of: 3"),
    ("iw-ssim", {"kernel_size": 10}, "kernel_size must be a positive odd number, got 10"),
    ("iw-ssim", {"blk_size": 11}, "blk_size must be smaller than kernel_size, got 11 and 11"),
    ("ms-gmsd", {"scale_weights": [1.0, -1.0]}, r"scale_weights must be a non-empty list of positive numbers"),
    ("ms-gmsd", {"scale_weights": "abc"}, r"scale_weights must be a list of positive numbers"),
    ("dss", {"percentile": 1.5}, r"percentile must be in \(0, 1\], got 1.5"),
    ("sr-sim", {"scale": 0.0}, r"scale must be in \(0, 1\], got 0.0"),
    ("mdsi", {"alpha": 2.0}, r"alpha must be in \[0, 1\], got 2.0"),
    ("fsim", {"k": -1.0}, "k must be at least 0, got -1.0"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD, ids=[f"{n}-{next(iter(p))}" for n, p, _ in BAD])
def test_bad_parameters_are_one_line_errors(registry, name, params, message):
    with pytest.raises(ParameterError, match=message):
        build(registry, name, **params)


def test_scale_weights_from_the_command_line(registry):
    metric = build(registry, "ms-gmsd", scale_weights="[0.5,0.5]")
    assert metric.scale_weights == (0.5, 0.5)
    assert metric.minimum_side()[0] == 5


# -- devices ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_tensors_stay_on_the_gpu(registry, name):
    a, b = pair(n=2, side=side_for(name))
    metric = build(registry, name).to("cuda")
    moving = b.cuda().requires_grad_(True)
    value = metric(a.cuda(), moving)
    (grad,) = torch.autograd.grad(value.sum(), moving)
    assert value.device.type == "cuda" and grad.device.type == "cuda"
    torch.testing.assert_close(value.cpu(), metric(a, b), rtol=1e-3, atol=1e-4)

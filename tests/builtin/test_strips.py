"""Maps made in row strips (bounded memory, :mod:`dfcore.ops.strips`) equal maps made of the whole image.

Strips are forced small (a few hundred pixels) so that a test image is cut into many bands,
each with its halo; every strategy's map, the lossless test, the phase correlation and the
previews must come out as the whole image gives them: to the last bit where only element-wise
arithmetic differs, to float rounding where a convolution of another size sums in another order.
"""

from __future__ import annotations

import pytest
import torch

from dfcore.contracts import Problem
from dfcore.ops import strips
from dfcore.ops.shift import estimate_translation
from dfcore.pipeline.result import previews
from dfcore.pipeline.stages import BoundMetric
from dfcore.testing import planted_pair, rescanned
from dfplugins_builtin.metrics.pixel import MSE
from dfplugins_builtin.metrics.ssim import SSIM
from dfplugins_builtin.strategies.difference import Difference
from dfplugins_builtin.strategies.own import Own
from dfplugins_builtin.strategies.tolerant import Tolerant

DEFAULT_MAP = {"shift": "auto", "sigma": 1.0, "reduce": "l2", "scale": 1.0, "octaves": 4, "background": 64.0,
               "exact": "auto"}


@pytest.fixture
def small_strips(monkeypatch):
    """Bands of about 700 pixels: a 96x128 image is cut into many, each with its halo."""
    def whole_then_strips(run):
        monkeypatch.setattr(strips, "STRIP_PIXELS", 10**9)
        whole = run()
        monkeypatch.setattr(strips, "STRIP_PIXELS", 700)
        return whole, run()

    return whole_then_strips


def _pair(shift_px: int = 0, lossless: bool = False, batch: int = 1):
    a, b, _ = planted_pair(96, 128, boxes=((30, 40, 50, 64), (70, 90, 90, 120)))
    if lossless:
        a, b = (a * 255).round() / 255, (b * 255).round() / 255
    b = torch.roll(b, shift_px, dims=-1)
    return a.repeat(batch, 1, 1, 1), b.repeat(batch, 1, 1, 1)


def _map(output):
    return output.map if hasattr(output, "map") else output


def _same(whole: torch.Tensor, cut: torch.Tensor) -> None:
    torch.testing.assert_close(cut, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shift_px", [0, 2])
@pytest.mark.parametrize("lossless", [False, True])
def test_the_default_map_in_strips_is_the_whole_images(small_strips, shift_px, lossless):
    a, b = _pair(shift_px, lossless)
    strategy = Difference(**DEFAULT_MAP)
    whole, cut = small_strips(lambda: strategy(Problem(a, b, BoundMetric(MSE(), False))))
    _same(_map(whole), _map(cut))
    assert whole.info == cut.info


@pytest.mark.parametrize("options", [{"rendered_window": 5}, {"rendered_window": 3, "window_slack": 0.5},
                                     {"rendered_window": 3, "window_slack": 0.5, "window_fade": True,
                                      "rendered_contrast": 0.04, "rendered_motion": 1.5, "rendered_fade": "regions"},
                                     {"rendered_window": 3, "window_slack": 0.5, "window_glyphs": 0.15},
                                     {"rendered_window": 3, "window_slack": 0.7, "window_glyphs": 0.15,
                                      "window_step": 0.5}],
                         ids=["window", "slack", "faded", "glyphs", "half-pixel"])
def test_window_matching_of_a_re_rendered_pair_in_strips_is_the_whole_images(small_strips, options):
    from tests.builtin.test_difference_rescan import CHANGE, drawing

    a, b = drawing(), drawing(offset=(0.3, 0.2), square=CHANGE)  # drawn again: matched window by window
    valid = torch.ones(1, 1, 96, 128, dtype=torch.bool)
    valid[..., 40:60, 5:50] = False
    strategy = Difference(**{**DEFAULT_MAP, "antialias": "auto", **options})
    for mask in (None, valid):
        whole, cut = small_strips(lambda m=mask: strategy(Problem(a, b, BoundMetric(MSE(), False, valid=m), m)))
        assert whole.info[0]["window"] == options["rendered_window"]
        _same(_map(whole), _map(cut))


def test_difference_with_ignored_pixels_and_a_batch_of_two_radii_in_strips(small_strips):
    a, b = _pair()
    a, b = torch.cat([a, a]), torch.cat([b, torch.roll(b, 3, dims=-2)])
    valid = torch.ones(2, 1, 96, 128, dtype=torch.bool)
    valid[..., 10:30, 5:50] = False
    strategy = Difference(**{**DEFAULT_MAP, "exact": "on"})
    whole, cut = small_strips(lambda: strategy(Problem(a, b, BoundMetric(MSE(), False, valid=valid), valid)))
    assert [info["shift"] for info in whole.info] == [0, 3]
    _same(_map(whole), _map(cut))


@pytest.mark.parametrize("metric", [MSE(), SSIM()], ids=["mse", "ssim"])
@pytest.mark.parametrize("radius", [1, 2])
def test_tolerant_maps_in_strips_are_the_whole_images(small_strips, metric, radius):
    a, b = _pair(1)
    whole, cut = small_strips(lambda: Tolerant(radius)(Problem(a, b, BoundMetric(metric, metric.higher_is_better))))
    _same(_map(whole), _map(cut))


@pytest.mark.parametrize("metric", [MSE(), SSIM()], ids=["mse", "ssim"])
def test_own_local_maps_in_strips_are_the_whole_images(small_strips, metric):
    a, b = _pair(1)
    whole, cut = small_strips(lambda: Own()(Problem(a, b, BoundMetric(metric, metric.higher_is_better))))
    _same(_map(whole), _map(cut))
    assert whole.unit == cut.unit == metric.map_unit


def test_a_metric_without_a_local_radius_is_computed_whole(small_strips):
    class Unknown(MSE):
        local_radius = None  # its local map might reach anywhere

    calls = []

    class Counting(Unknown):
        def local_map(self, x, y):
            calls.append(x.shape[-2])
            return super().local_map(x, y)

    a, b = _pair()
    small_strips(lambda: Tolerant(1)(Problem(a, b, BoundMetric(Counting(), False))))
    assert set(calls) == {96}


def test_phase_correlation_and_previews_in_strips(small_strips):
    a, b = _pair(2, batch=2)
    whole, cut = small_strips(lambda: estimate_translation(a, b))
    assert torch.equal(whole, cut)
    whole, cut = small_strips(lambda: previews(a))
    assert (whole == cut).all() and whole.shape == (2, 96, 128, 3)


def test_bands_cover_every_row_once():
    kept = [rows for _, _, rows in strips.bands(100, 16, 5)]
    assert [r for rows in kept for r in range(100)[rows]] == list(range(100))
    for read, keep, rows in strips.bands(100, 16, 5):
        assert range(100)[read][keep] == range(100)[rows]


@pytest.mark.parametrize("shift_px", [0, 2])
def test_the_rasterisation_tolerance_in_strips_is_the_whole_images(small_strips, shift_px):
    a, b = _pair(shift_px)
    strategy = Difference(**{**DEFAULT_MAP, "antialias": 1, "overshoot": 0.15})
    whole, cut = small_strips(lambda: strategy(Problem(a, b, BoundMetric(MSE(), False))))
    _same(_map(whole), _map(cut))
    assert whole.info == cut.info


def test_a_registered_pair_in_strips_is_the_whole_images(small_strips):
    a, b, _ = planted_pair(192, 256, boxes=((60, 80, 100, 128),), seed=2)
    b = rescanned(b, angle_deg=0.8, scale=1.02)
    strategy = Difference(**{**DEFAULT_MAP, "antialias": 1, "overshoot": 0.15, "register": "auto"})
    whole, cut = small_strips(lambda: strategy(Problem(a, b, BoundMetric(MSE(), False))))
    assert whole.info[0]["register"]["resampled"]
    _same(_map(whole), _map(cut))
    assert whole.info == cut.info

"""``tolerant``: the metric's local map with shift tolerance, on MSE and SSIM."""

from __future__ import annotations

import pytest
import torch

from dfcore import Finder, ParameterError
from dfcore.errors import StageError
from dfplugins_builtin.metrics.ssim import SSIM
from tests.builtin.test_shift_tolerance import misaligned_pair, region


def sharp_misaligned_pair():
    """A fine random texture (2-px cells, every cell an edge), B one pixel off, an object added
    to B and one removed from A; with the objects' boxes as (y0, y1, x0, x1)."""
    generator = torch.Generator().manual_seed(1)
    scene = torch.rand(1, 3, 48, 56, generator=generator).repeat_interleave(2, 2).repeat_interleave(2, 3)
    a, b = scene[..., 1:, 1:].clone(), scene[..., :-1, :-1].clone()  # b[p] = a[p - (1, 1)]
    added, removed = (16, 32, 20, 36), (64, 80, 72, 88)
    y0, y1, x0, x1 = removed
    a[..., y0:y1, x0:x1] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)
    y0, y1, x0, x1 = added
    b[..., y0:y1, x0:x1] = torch.tensor([0.1, 0.1, 0.9]).view(1, 3, 1, 1)
    return a, b, (added, removed)


def away_from(diff_map, boxes, margin):
    """The map's values farther than ``margin`` px from every box and from the border."""
    keep = torch.zeros_like(diff_map, dtype=torch.bool)
    keep[..., margin:-margin, margin:-margin] = True
    for y0, y1, x0, x1 in boxes:
        keep[..., max(y0 - margin, 0):y1 + margin, max(x0 - margin, 0):x1 + margin] = False
    return diff_map[keep]


@pytest.mark.parametrize(("metric", "margin"), [("mse", 2), ("ssim", 7)])  # SSIM's window reaches 5 px
def test_under_a_one_pixel_shift_the_objects_stand_out_where_the_plain_map_lights_up_edges(registry, metric, margin):
    a, b, boxes = sharp_misaligned_pair()
    plain = Finder(metric=metric, strategy="tolerant:radius=0", device="cpu").compute(a, b).output.map
    tolerant = Finder(metric=metric, strategy="tolerant:radius=1", device="cpu").compute(a, b).output.map
    for diff_map in (plain, tolerant):
        assert diff_map.shape == (1, 1, *a.shape[-2:]) and torch.isfinite(diff_map).all()

    def contrast(diff_map):  # the objects' mean against the brightest pixel elsewhere
        objects = min(region(diff_map, box)[2:-2, 2:-2].mean() for box in boxes)
        return objects / away_from(diff_map, boxes, margin).max().clamp_min(1e-12)

    # Without tolerance the texture's edges rival the objects; with it, both objects (the one
    # added in B and the one removed from A) dominate everything away from them.
    assert contrast(plain) < 2
    assert contrast(tolerant) > 5 * contrast(plain)
    assert contrast(tolerant) > 4


def test_radius_zero_is_the_metrics_own_local_map(registry):
    a, b, *_ = misaligned_pair()
    mse_map = Finder(metric="mse", strategy="tolerant:radius=0", device="cpu").compute(a, b).output.map
    torch.testing.assert_close(mse_map, ((a - b) ** 2).mean(1, keepdim=True))
    ssim_map = Finder(metric="ssim", strategy="tolerant:radius=0", device="cpu").compute(a, b).output.map
    torch.testing.assert_close(ssim_map, 1 - SSIM().local_map(a, b))


def test_a_metric_without_a_local_map_is_refused_in_one_line(registry):
    a, b, *_ = misaligned_pair()
    with pytest.raises(StageError, match=r"tolerant needs a metric with a local map .*'psnr' has none"):
        Finder(metric="psnr", strategy="tolerant", device="cpu").compute(a, b)


@pytest.mark.parametrize("radius", [-1, 1.5, True])
def test_bad_radius_is_refused(registry, radius):
    with pytest.raises(ParameterError, match=r"radius"):
        Finder(metric="mse", strategy=("tolerant", {"radius": radius}), device="cpu")


def test_the_radius_is_recorded(registry):
    a, b, *_ = misaligned_pair()
    result = Finder(metric="ssim", strategy="tolerant:radius=2", device="cpu").run(a, b)
    assert result.config["strategy"]["name"] == "tolerant"
    assert result.config["strategy"]["params"] == {"radius": 2}
    assert "|dy|, |dx| <= 2" in result.config["strategy"]["conventions"]["value"]

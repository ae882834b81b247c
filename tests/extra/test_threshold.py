"""``clip``, ``otsu``, ``percentile``, ``mean-std`` and the regions they report."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from dfcore import Finder
from dfcore.contracts import StageOutput
from dfcore.testing import fresh_registry
from dfcore.ops.regions import find_regions
from dfplugins_extra.postprocessors.threshold import (
    MeanStd,
    Otsu,
    PercentileClip,
    PercentileThreshold,
    otsu_threshold,
    percentile,
)

# planted rectangles (x0, y0, x1, y1) end-exclusive, with their peak amplitude
PLANTED = [
    [((10, 8, 22, 20), 0.9), ((40, 30, 56, 38), 0.7), ((70, 50, 78, 62), 0.8)],
    [((5, 5, 15, 25), 0.75), ((60, 10, 80, 20), 0.95)],
]
H, W = 72, 96


def planted_maps(seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Two maps: |noise| below 0.25 plus rectangles whose values lie in [0.5, 0.5 + amplitude]."""
    rng = np.random.default_rng(seed)
    maps = np.clip(np.abs(rng.normal(0.0, 0.05, size=(2, H, W))), 0, 0.25)
    truth = np.zeros((2, H, W), bool)
    for sample, blobs in enumerate(PLANTED):
        for (x0, y0, x1, y1), amp in blobs:
            yy, xx = np.mgrid[y0:y1, x0:x1]
            cy, cx = (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2
            bump = np.exp(-(((yy - cy) / (y1 - y0)) ** 2 + ((xx - cx) / (x1 - x0)) ** 2))
            maps[sample, y0:y1, x0:x1] = 0.5 + amp * bump / bump.max() * rng.uniform(0.9, 1.0, bump.shape)
            truth[sample, y0:y1, x0:x1] = True
    return torch.from_numpy(maps).float()[:, None], truth


def _check_planted(out: StageOutput, maps: torch.Tensor, truth: np.ndarray) -> None:
    assert out.mask is not None and out.mask.dtype == torch.bool and out.mask.shape == maps.shape
    np.testing.assert_array_equal(out.mask[:, 0].numpy(), truth)
    for sample, blobs in enumerate(PLANTED):
        found = out.regions[sample]
        expected = sorted(blobs, key=lambda blob: -maps[sample, 0, blob[0][1]:blob[0][3], blob[0][0]:blob[0][2]].max())
        assert [r.bbox for r in found] == [bbox for bbox, _ in expected]
        for region, ((x0, y0, x1, y1), _) in zip(found, expected):
            patch = maps[sample, 0, y0:y1, x0:x1]
            assert region.area == (x1 - x0) * (y1 - y0)
            assert region.peak == pytest.approx(patch.max().item())
            assert region.mean == pytest.approx(patch.mean().item(), rel=1e-5)
            assert region.centroid == pytest.approx(((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2))
        peaks = [r.peak for r in found]
        assert peaks == sorted(peaks, reverse=True)


@pytest.mark.parametrize("stage", [Otsu(), MeanStd(k=3.0)], ids=["otsu", "mean-std"])
def test_exactly_the_planted_regions_come_back(stage):
    maps, truth = planted_maps()
    out = stage(StageOutput(map=maps))
    _check_planted(out, maps, truth)
    torch.testing.assert_close(out.map, maps)  # the map passes through
    assert [info["regions"] for info in out.info] == [3, 2]
    for sample, info in enumerate(out.info):  # above nearly all noise (min_area drops the rest), below the blobs
        values = maps[sample, 0].numpy()
        assert np.percentile(values[~truth[sample]], 99.9) < info["threshold"] < values[truth[sample]].min()


def test_percentile_at_the_share_of_planted_pixels():
    maps, truth = planted_maps()
    # rank n - m - 1 is the largest noise value when m pixels are planted (numpy's linear interpolation)
    n, m = H * W, int(truth[0].sum())
    out = PercentileThreshold(p=100.0 * (n - m - 1) / (n - 1))(StageOutput(map=maps[:1]))
    assert sorted(r.bbox for r in out.regions[0]) == sorted(bbox for bbox, _ in PLANTED[0])
    np.testing.assert_array_equal(out.mask[0, 0].numpy(), truth[0])


def test_min_area_top_k_and_the_mask_of_kept_regions():
    maps, truth = planted_maps()
    out = Otsu(min_area=100)(StageOutput(map=maps))
    # 12x12 and 16x8=128 and 8x12=96 in sample 0; 10x20 and 20x10 in sample 1
    assert [r.area for r in out.regions[0]] == [144, 128]
    keep = np.zeros((H, W), bool)
    keep[8:20, 10:22] = keep[30:38, 40:56] = True
    np.testing.assert_array_equal(out.mask[0, 0].numpy(), keep)
    top = Otsu(top_k=1)(StageOutput(map=maps))
    assert [len(r) for r in top.regions] == [1, 1]
    assert top.regions[0][0].bbox == (10, 8, 22, 20) and top.regions[1][0].bbox == (60, 10, 80, 20)
    assert int(top.mask[0].sum()) == 144


def test_connectivity():
    values = torch.zeros(1, 1, 20, 20)
    values[..., 2:7, 2:7] = 1.0
    values[..., 7:12, 7:12] = 0.8  # touches the first square at one corner
    assert len(Otsu(min_area=1, connectivity=8)(StageOutput(map=values)).regions[0]) == 1
    assert len(Otsu(min_area=1, connectivity=4)(StageOutput(map=values)).regions[0]) == 2


def test_regions_never_fall_in_invalid_pixels():
    maps, truth = planted_maps()
    valid = torch.ones_like(maps, dtype=torch.bool)
    valid[0, 0, :, :30] = False  # hides the first rectangle of sample 0
    valid[1, 0, 15:, :] = False  # cuts the first rectangle of sample 1 to 10x10
    for stage in (Otsu(), MeanStd(), PercentileThreshold(p=90.0)):
        out = stage(StageOutput(map=maps, valid=valid))
        assert not bool((out.mask & ~valid).any())
        for sample, regions in enumerate(out.regions):
            for region in regions:
                x0, y0, x1, y1 = region.bbox
                assert bool(valid[sample, 0, y0:y1, x0:x1].any())
        assert (10, 8, 22, 20) not in [r.bbox for r in out.regions[0]]
    assert Otsu()(StageOutput(map=maps, valid=valid)).regions[1][-1].bbox == (5, 5, 15, 15)


def test_identical_images_have_no_regions():
    registry = fresh_registry()
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    for post in ("otsu", "percentile", "mean-std"):
        result = Finder(metric="mse", strategy="gradient", postprocessor=post, registry=registry,
                        device="cpu").run(image, image)
        assert result.regions == [] and result.mask is not None and not result.mask.any()


def test_signed_maps_use_the_magnitude():
    maps, truth = planted_maps()
    signed = maps.clone()
    signed[0] = -signed[0]
    out = Otsu()(StageOutput(map=signed))
    np.testing.assert_array_equal(out.mask[:, 0].numpy(), truth)
    assert out.regions[0][0].peak > 0.5


def test_regions_match_scipy_labelling():
    rng = np.random.default_rng(3)
    for connectivity, structure in ((8, np.ones((3, 3))), (4, None)):
        mask = scipy.ndimage.binary_opening(rng.random((60, 70)) < 0.45)
        values = rng.random((60, 70))
        regions, keep = find_regions(mask, values, connectivity=connectivity)
        assert keep is None  # nothing dropped: the input mask stands
        labels, count = scipy.ndimage.label(mask, structure)
        assert len(regions) == count
        objects = scipy.ndimage.find_objects(labels)
        expected = set()
        for index, (ys, xs) in enumerate(objects, start=1):
            inside = labels == index
            expected.add(((xs.start, ys.start, xs.stop, ys.stop), int(inside.sum()), round(float(values[inside].max()), 6)))
        assert {(r.bbox, r.area, round(r.peak, 6)) for r in regions} == expected


def test_otsu_matches_scikit_image():
    skimage_filters = pytest.importorskip("skimage.filters")
    rng = np.random.default_rng(0)
    for values in (np.r_[rng.normal(0.2, 0.05, 3000), rng.normal(0.7, 0.1, 800)],
                   np.abs(rng.standard_cauchy(5000)), rng.random(777)):
        ours = otsu_threshold(torch.from_numpy(values)).item()
        assert ours == pytest.approx(skimage_filters.threshold_otsu(values, nbins=256), rel=1e-9)
    assert otsu_threshold(torch.full((10,), 0.3)).item() == pytest.approx(0.3)


def test_percentile_and_mean_std_thresholds_match_numpy():
    values = torch.from_numpy(np.random.default_rng(1).random(1001))
    for p in (0.0, 12.5, 50.0, 99.0, 99.95, 100.0):
        assert percentile(values, p).item() == pytest.approx(np.percentile(values.numpy(), p))
    assert MeanStd(k=2.0).threshold(values).item() == pytest.approx(values.numpy().mean() + 2 * values.numpy().std())


def test_clip_at_a_percentile_and_rescale():
    values = torch.linspace(0, 1, 1000).view(1, 1, 40, 25)
    values[..., 0, 0] = 50.0  # one extreme gradient
    out = PercentileClip(percentile=99.0)(StageOutput(map=values))
    limit = np.percentile(values.numpy(), 99.0)
    assert out.info[0]["clip"] == pytest.approx(limit, rel=1e-6)
    assert out.map.max().item() == pytest.approx(1.0)
    torch.testing.assert_close(out.map[..., 5, 5], values[..., 5, 5] / float(limit))
    kept = PercentileClip(percentile=99.0, rescale=False)(StageOutput(map=values))
    assert kept.map.max().item() == pytest.approx(limit, rel=1e-6)


def test_clip_signed_sparse_zero_and_masked_maps():
    signed = torch.tensor([[-4.0, -1.0, 0.5, 2.0]]).view(1, 1, 2, 2)
    out = PercentileClip(percentile=50.0)(StageOutput(map=signed))
    limit = np.percentile([4.0, 1.0, 0.5, 2.0], 50.0)  # of |map|
    torch.testing.assert_close(out.map.flatten(), torch.tensor([-1.0, -1.0 / limit, 0.5 / limit, 1.0]).float())
    sparse = torch.zeros(1, 1, 10, 10)
    sparse[..., 3, 3] = 2.0
    torch.testing.assert_close(PercentileClip(99.0)(StageOutput(map=sparse)).map, sparse / 2.0)  # max, not 0
    zero = torch.zeros(1, 1, 4, 4)
    torch.testing.assert_close(PercentileClip()(StageOutput(map=zero)).map, zero)
    valid = torch.ones(1, 1, 10, 10, dtype=torch.bool)
    valid[..., 3, 3] = False
    noisy = torch.rand(1, 1, 10, 10, generator=torch.Generator().manual_seed(0)) + 100.0 * (~valid)
    out = PercentileClip(100.0)(StageOutput(map=noisy, valid=valid))
    assert out.info[0]["clip"] == pytest.approx(noisy[valid].max().item())


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (PercentileClip, {"percentile": 0.0}, "percentile must be in"),
    (Otsu, {"min_area": 0}, "min_area must be an integer >= 1"),
    (Otsu, {"top_k": -1}, "top_k must be an integer >= 0"),
    (Otsu, {"connectivity": 6}, "connectivity must be 4 or 8"),
    (PercentileThreshold, {"p": 101.0}, "p must be in"),
])
def test_bad_parameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_pipeline_carries_mask_regions_and_thresholds():
    registry = fresh_registry()
    a = torch.full((1, 1, 48, 48), 0.4)
    b = a.clone()
    b[..., 10:20, 30:42] = 0.9
    result = Finder(metric="mse", strategy="difference", postprocessor=["clip", "otsu:min_area=4"],
                    registry=registry, device="cpu").run(a, b)
    assert [r.bbox for r in result.regions] == [(30, 10, 42, 20)]
    assert result.mask.sum() == 120
    assert result.info["otsu"]["regions"] == 1
    assert result.info["clip"]["clip"] == pytest.approx(0.5)
    assert result.map.max() == pytest.approx(1.0)

"""One colour scale for many maps: the pooled percentile, and heatmaps re-rendered from saved maps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from dfcore import Finder, InputError, ParameterError
from dfcore.io.render import apply_colormap, hatch_invalid
from dfcore.io.scale import HISTOGRAM_BINS, apply_shared_scale, saved_pairs, shared_vmax
from dfcore.testing import planted_pair


def test_the_shared_value_is_the_percentile_of_all_maps_together():
    rng = np.random.default_rng(0)
    maps = [rng.gamma(2.0, 1.0, (30, 40)), -rng.gamma(1.0, 3.0, (50, 20)), rng.random((5, 5)) * 100]
    pooled = np.abs(np.concatenate([m.ravel() for m in maps]))
    for percentile in (0.01, 50.0, 99.0, 99.5, 100.0):
        assert shared_vmax(maps, percentile) == pytest.approx(np.percentile(pooled, percentile), rel=1e-12)
    crowded = [np.concatenate([np.full(1000, 1e-9), [1e6]])]  # every value but one in the lowest bin
    assert shared_vmax(crowded, 50.0) == 1e-9 and HISTOGRAM_BINS == 2**15


def pooled_percentile(maps, percentile: float) -> float:
    """What ``shared_vmax`` must return: the pooled ``|values|`` in float64, sorted, interpolated.

    It is ``np.percentile``'s value to the bit below the midpoint between two order statistics;
    past it numpy interpolates from the upper one, within a unit in the last place.
    """
    pooled = np.sort(np.abs(np.concatenate([np.asarray(m).astype(np.float64).ravel() for m in maps])))
    rank = percentile / 100.0 * (pooled.size - 1)
    low, high = float(pooled[math.floor(rank)]), float(pooled[math.ceil(rank)])
    fraction = rank - math.floor(rank)
    value = low + fraction * (high - low)
    numpy_value = float(np.percentile(pooled, percentile))
    if fraction < 0.5:
        assert value == numpy_value
    else:
        assert abs(value - numpy_value) <= np.spacing(numpy_value)
    if pooled[-1] == 0.0:
        return 1.0
    return value if value > 0.0 else float(pooled[-1])


def random_sets(rng: np.random.Generator):
    """Sets of maps of varied sizes, ranges and dtypes (float32 as saved, float64, a mix)."""
    shapes = [(1,), (7,), (1000,), (40, 50), (3, 300), (64, 64)]

    def shape():
        return shapes[int(rng.integers(len(shapes)))]

    count = int(rng.integers(1, 5))
    yield [(rng.random(shape()) * 10.0 ** rng.integers(-8, 8)).astype(np.float32) for _ in range(count)]
    yield [(rng.choice([-1, 1], s) * 2.0 ** rng.uniform(-60, 60, s)).astype(np.float32)  # many octaves, signed
           for s in [shape() for _ in range(count)]]
    yield [(rng.integers(-4, 5, shape()) * 0.25).astype(np.float32) for _ in range(count)]  # many ties
    sparse = [np.zeros(shape(), np.float32) for _ in range(count)]  # mostly zeros
    for m in sparse:
        m.flat[rng.integers(0, m.size, max(1, m.size // 200))] = rng.gamma(2.0, 1.0, max(1, m.size // 200))
    yield sparse
    yield [(rng.random(shape()) * 1e-38 * rng.random()).astype(np.float32) for _ in range(count)]  # subnormals
    yield [rng.gamma(rng.uniform(0.3, 3.0), 10.0 ** rng.integers(-5, 5), shape()) for _ in range(count)]
    yield [2.0 ** rng.uniform(-1074, 1000, shape()) for _ in range(count)]  # float64's whole range
    yield [np.where(rng.random(s) < 0.3, 0.0, np.floor(2.0 ** rng.uniform(44, 52, s)) * 5e-324)  # zeros, subnormals
           for s in [shape() for _ in range(count)]]
    yield [rng.gamma(2.0, 1.0, shape()).astype(np.float32), -rng.gamma(2.0, 1.0, shape()),
           rng.integers(-30, 30, shape()).astype(np.int16), (rng.random(shape()) * 3).astype(np.float16),
           (2.0 ** rng.uniform(-150, 10, shape())).astype(np.float32)]


def test_the_shared_value_is_the_pooled_percentile_to_the_bit():
    rng = np.random.default_rng(22)
    percentiles = (1e-6, 0.01, 1.0, 25.0, 33.3, 50.0, 66.7, 99.0, 99.5, 99.9, 99.99, 100.0)
    for _ in range(8):
        for maps in random_sets(rng):
            for percentile in (*percentiles, *rng.uniform(0.001, 100.0, 3)):
                assert shared_vmax(maps, percentile) == pooled_percentile(maps, percentile), (
                    percentile, [(m.dtype, m.shape) for m in maps])

    def bin_of(value: float) -> int:
        return int(np.float64(value).view(np.int64)) >> 48

    one_bin = [np.array([1.0, 1.01, 1.02, 1.03], np.float32)]  # the ranks 1 and 2 of 50%: one bin
    two_bins = [np.array([1.0, 1.0, 1000.0, 1000.0], np.float32), np.array([3e-20], np.float32)]
    assert bin_of(np.float32(1.01)) == bin_of(np.float32(1.02)) and bin_of(1.0) != bin_of(1000.0)
    assert shared_vmax(one_bin, 50.0) == pooled_percentile(one_bin, 50.0)
    assert shared_vmax(two_bins, 62.5) == pooled_percentile(two_bins, 62.5) == 1.0 + 0.5 * 999.0


def test_infinite_and_nan_values():
    with pytest.raises(InputError, match="a map holds infinite values"):
        shared_vmax([np.array([1.0, np.inf])])
    with pytest.raises(InputError, match="a map holds infinite values"):
        shared_vmax([np.array([np.nan, -np.inf]), np.array([1.0, 2.0])])
    nan = [np.array([np.nan, 1.0]), np.array([1.0, 2.0, 3.0])]  # NaN ranks last, as np.sort puts it
    assert shared_vmax(nan, 50.0) == 2.0
    with pytest.raises(InputError, match="the percentile falls among the NaN values"):
        shared_vmax(nan, 100.0)


def test_all_zero_and_mostly_zero_sets():
    assert shared_vmax([np.zeros((4, 4)), np.zeros((2, 2))]) == 1.0
    sparse = np.zeros((100, 100))
    sparse[0, :3] = [0.5, 2.0, 1.0]  # the 99.5th percentile is 0: the largest value is used
    assert shared_vmax([sparse]) == 2.0
    assert shared_vmax([sparse], 99.99) == pytest.approx(np.percentile(np.abs(sparse), 99.99), rel=1e-12)
    with pytest.raises(ParameterError, match=r"percentile must lie in \(0, 100\]"):
        shared_vmax([sparse], 0.0)


def saved_run(folder, count: int = 3):
    """``count`` pairs of growing difference, saved with per-image scales; one has ignored pixels."""
    finder = Finder(metric="mse", strategy="difference", device="cpu")
    results = []
    for index in range(count):
        a, b, _ = planted_pair(32, 40, boxes=((4, 4, 20, 30),), delta=0.1 * (index + 1), seed=index)
        result = finder.run(a, b, name=f"p{index}.png", ignore="0:0-8:8" if index == 0 else None)
        result.save(folder)
        results.append(result)
    return results


def test_apply_shared_scale_rerenders_every_heatmap_on_one_scale(tmp_path):
    results = saved_run(tmp_path)
    before = [json.loads((tmp_path / f"p{i}.json").read_text())["display"]["vmax"] for i in range(3)]
    assert len(set(before)) == 3
    top = apply_shared_scale(tmp_path)
    values = [np.abs(r.map[r.valid] if r.valid is not None else r.map).ravel() for r in results]
    assert top == pytest.approx(np.percentile(np.concatenate(values), 99.5), rel=1e-6)
    for index, result in enumerate(results):
        data = json.loads((tmp_path / f"p{index}.json").read_text())
        assert data["display"] == {"colormap": "inferno", "vmin": 0.0, "vmax": top, "scale": "shared",
                                   "percentile": 99.5, "maps": 3}
        expected = apply_colormap(result.map, "inferno", 0.0, top)
        if result.valid is not None:
            expected = hatch_invalid(expected, result.valid)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"p{index}.heatmap.png")), expected)


def test_a_fixed_scale_and_several_folders(tmp_path):
    saved_run(tmp_path / "one", 2)
    saved_run(tmp_path / "two", 1)
    assert apply_shared_scale([tmp_path / "one", tmp_path / "two"], vmax=0.25) == 0.25
    displays = [json.loads(p.read_text())["display"] for p in sorted(tmp_path.rglob("p*.json"))]
    assert len(displays) == 3 and all(d["vmax"] == 0.25 and d["scale"] == "fixed" for d in displays)


def test_signed_maps_stay_symmetric(tmp_path):
    a, b, _ = planted_pair(32, 32, boxes=((4, 4, 20, 20),))
    result = Finder(metric="ssim", strategy="gradient:signed=true", device="cpu").run(a, b, name="s.png")
    result.save(tmp_path)
    top = apply_shared_scale(tmp_path)
    display = json.loads((tmp_path / "s.json").read_text())["display"]
    assert display["vmin"] == -top and display["colormap"] == "RdBu_r"


def test_only_the_named_pairs_and_missing_files(tmp_path):
    saved_run(tmp_path, 2)
    assert [p.json.name for p in saved_pairs([tmp_path], ["p1.png"])] == ["p1.json"]
    with pytest.raises(InputError, match="missing or unreadable"):
        saved_pairs([tmp_path], ["nope.png"])
    (tmp_path / "p0.map.npy").unlink()
    with pytest.raises(InputError, match="its map file is missing"):
        apply_shared_scale(tmp_path)


def test_save_records_how_the_scale_was_chosen(tmp_path):
    a, b, _ = planted_pair(16, 16, boxes=((2, 2, 10, 10),))
    result = Finder(metric="mse", strategy="difference", device="cpu").run(a, b, name="x.png")
    image = json.loads(result.save(tmp_path / "i")["json"].read_text())["display"]
    fixed = json.loads(result.save(tmp_path / "f", vmax=0.5)["json"].read_text())["display"]
    assert image["scale"] == "image" and image["vmax"] == pytest.approx(float(result.map.max()))
    assert fixed == {"colormap": "inferno", "vmin": 0.0, "vmax": 0.5, "scale": "fixed"}


def test_a_pair_saved_without_its_heatmap_gets_one_on_the_shared_scale(tmp_path):
    a, b, _ = planted_pair(32, 40, boxes=((4, 4, 20, 30),))
    result = Finder(metric="mse", strategy="difference", device="cpu").run(a, b, name="p.png")
    result.save(tmp_path, outputs="npy")
    assert not (tmp_path / "p.heatmap.png").exists()
    top = apply_shared_scale(tmp_path)
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["files"] == {"map": "p.map.npy", "heatmap": "p.heatmap.png"}
    assert data["display"]["vmax"] == top and data["display"]["scale"] == "shared"
    expected = apply_colormap(result.map, "inferno", 0.0, top)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "p.heatmap.png")), expected)

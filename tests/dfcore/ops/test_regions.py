"""The differences a map holds (dfcore.ops.regions.significant_regions)."""

from __future__ import annotations

import numpy as np
import pytest

from dfcore.ops.regions import background, significant_regions


def noisy(height=120, width=160, top=0.05, seed=0):
    """A background of bounded noise: no pixel of it stands 3 robust deviations above its median."""
    return np.random.default_rng(seed).uniform(0.0, top, (height, width)).astype(np.float32)


def blob(values, x0, y0, x1, y1, value=1.0):
    values[y0:y1, x0:x1] += value
    return values


def test_identical_images_hold_no_difference():
    regions, mask, level = significant_regions(np.zeros((40, 50), np.float32))
    assert regions == [] and not mask.any() and level == (0.0, 0.0)


def test_each_planted_blob_is_one_difference_strongest_first():
    values = blob(blob(noisy(), 20, 20, 40, 35, 1.0), 100, 70, 130, 100, 2.0)
    regions, mask, (centre, spread) = significant_regions(values)
    assert [r.bbox for r in regions] == [(100, 70, 130, 100), (20, 20, 40, 35)]
    assert mask.sum() == sum(r.area for r in regions) == 20 * 15 + 30 * 30
    assert regions[0].peak > regions[1].peak and all(r.significance > 6 for r in regions)
    assert regions[0].significance == pytest.approx((regions[0].peak - centre) / spread, abs=0.01)


def test_noise_alone_holds_no_difference():
    assert significant_regions(noisy(seed=3))[0] == []
    gaussian = np.abs(np.random.default_rng(4).normal(0.0, 0.05, (120, 160))).astype(np.float32)
    assert significant_regions(gaussian)[0] == []


def test_fragments_closer_than_merge_are_one_difference():
    values = blob(blob(noisy(), 40, 40, 50, 50), 53, 40, 63, 50)  # 3 px apart; the diagonal is 200 px
    assert len(significant_regions(values, merge=0.02)[0]) == 1
    assert len(significant_regions(values, merge=0.0)[0]) == 2


def test_specks_smaller_than_min_size_are_dropped():
    values = blob(blob(noisy(), 10, 10, 12, 12, 5.0), 80, 60, 100, 80)
    assert [r.area for r in significant_regions(values, min_size=0.0)[0]] == [4, 400]
    regions, mask, _ = significant_regions(values, min_size=1e-3)  # 19 px of 19200
    assert [r.area for r in regions] == [400] and mask.sum() == 400


def test_hysteresis_grows_a_difference_over_its_weaker_edge():
    values = blob(noisy(), 50, 50, 60, 60, 2.0)
    values[50:60, 60:80] = 0.1  # a weak tail, about 4 robust deviations above the background
    (region,), _, _ = significant_regions(values, level=6, low=3)
    assert region.bbox == (50, 50, 80, 60)
    (alone,), _, _ = significant_regions(values, level=6, low=6)
    assert alone.bbox == (50, 50, 60, 60)


def test_pixels_not_compared_never_hold_a_difference():
    values = blob(blob(noisy(), 20, 20, 40, 40), 100, 20, 120, 40)
    valid = np.ones(values.shape, bool)
    valid[:, 90:] = False
    regions, mask, _ = significant_regions(values, valid)
    assert [r.bbox for r in regions] == [(20, 20, 40, 40)] and not mask[:, 90:].any()


def test_a_mostly_zero_map_keeps_a_spread_above_zero():
    values = np.zeros((50, 50), np.float32)
    values[10:12, 10:12] = 1e-3
    centre, spread = background(values.ravel())
    assert centre == 0.0 and spread > 0
    (region,), _, _ = significant_regions(values, min_size=0)
    assert region.bbox == (10, 10, 12, 12)


def large_and_small_change():
    """A lossless pair's map: zero but for a change over a fifth of the image and a weaker small one."""
    values = np.zeros((100, 150), np.float32)
    values[10:40, 10:60] = 3.0  # 1500 px of 15000
    values[20:25, 30:35] = 5.0
    values[70:80, 110:120] = 2.5  # the mean |map| is 0.32: 7.8 mean deviations, under a level of 10
    return values


def test_a_map_too_small_to_measure_a_background_on_takes_zero_as_it():
    """A one-pixel change smoothed over an 8x8 map is most of it: its median would be the change."""
    yy, xx = np.mgrid[:8, :8]
    values = np.exp(-((yy - 4) ** 2 + (xx - 4) ** 2) / 8.0).astype(np.float32)
    assert background(values.ravel()) == (0.0, pytest.approx(1e-6))
    (found,), mask, _ = significant_regions(values, level=10, relative=0.15, extent=0.1)
    assert found.peak == pytest.approx(1.0) and mask[4, 4]
    assert found.significance is None  # no background measured: no deviations to count
    assert significant_regions(np.zeros((8, 8), np.float32))[0] == []
    assert len(significant_regions(np.ones((1, 1), np.float32))[0]) == 1
    big = np.pad(values, 4)  # 16x16: enough values, the median is the background's again
    assert background(big.ravel())[0] == 0.0 and background(big.ravel())[1] > 1e-3


def test_exact_background_finds_the_small_change_that_a_large_one_hid():
    values = large_and_small_change()
    centre, spread = background(values.ravel())
    assert centre == 0.0 and spread == pytest.approx(0.32, abs=0.001)
    (alone,), _, _ = significant_regions(values, level=10, relative=0.15, extent=0.1)
    assert alone.bbox == (10, 10, 60, 40)
    regions, mask, (_, measured) = significant_regions(values, level=10, relative=0.15, extent=0.1,
                                                       exact_background=True)
    assert [r.bbox for r in regions] == [(10, 10, 60, 40), (110, 70, 120, 80)]
    assert mask.sum() == 1500 + 100
    # the significance is still counted in the spread measured
    assert measured == spread and regions[1].significance == pytest.approx(2.5 / spread, abs=0.01)
    # relative still drops what is weak beside the strongest
    values[70:80, 110:120] = 0.5
    assert len(significant_regions(values, level=10, relative=0.15, exact_background=True)[0]) == 1


def test_exact_background_leaves_a_noisy_map_and_one_drawn_again_alone():
    values = blob(blob(noisy(), 20, 20, 40, 35, 1.0), 100, 70, 130, 100, 2.0)
    assert [r.bbox for r in significant_regions(values, exact_background=True)[0]] == \
        [r.bbox for r in significant_regions(values)[0]]
    flat = large_and_small_change()
    support = np.ones(flat.shape, np.float32)
    support[10:40, 10:60] = 0.2  # a pair drawn again; the faded map alone would hold the small change too
    (alone,), _, _ = significant_regions(flat, level=10, relative=0.15, extent=0.1, support=support,
                                         exact_background=True)
    assert alone.bbox == (10, 10, 60, 40)


def two_changes_a_row_apart(flat=True):
    """Two changes 16 px apart on a 480x640 map (diagonal 800: merge 0.03 is 24 px, 0.015 is 12)."""
    values = np.zeros((480, 640), np.float32) if flat else noisy(480, 640)
    values[100:110, 100:130] += 1.0
    values[126:136, 100:130] += 1.0
    return values


def test_exact_merge_parts_two_changes_of_a_lossless_map_that_merge_would_join():
    rule = {"merge": 0.03, "extent": 0.1, "relative": 0.15, "exact_background": True}
    assert [r.bbox for r in significant_regions(two_changes_a_row_apart(), **rule)[0]] == [(100, 100, 130, 136)]
    apart = significant_regions(two_changes_a_row_apart(), exact_merge=0.015, **rule)[0]
    assert sorted(r.bbox for r in apart) == [(100, 100, 130, 110), (100, 126, 130, 136)]
    # a gap smaller than exact_merge still joins
    assert len(significant_regions(two_changes_a_row_apart(), exact_merge=0.025, **rule)[0]) == 1


def test_rejoin_joins_again_the_parts_exact_merge_parted_that_it_takes_for_one_thing():
    rule = {"merge": 0.03, "extent": 0.1, "relative": 0.15, "exact_background": True, "exact_merge": 0.015}
    asked = []

    def rejoin(parts):
        asked.append(sorted(int(rows.min()) for rows, _ in parts))
        return True

    (joined,) = significant_regions(two_changes_a_row_apart(), rejoin=rejoin, **rule)[0]
    assert joined.bbox == (100, 100, 130, 136) and asked == [[100, 126]]  # image rows, both parts
    assert len(significant_regions(two_changes_a_row_apart(), rejoin=lambda parts: False, **rule)[0]) == 2
    # parts farther apart than merge are never asked about
    far = two_changes_a_row_apart()
    far[126:136] = 0
    far[200:210, 100:130] = 1.0
    asked.clear()
    assert len(significant_regions(far, rejoin=rejoin, **rule)[0]) == 2 and asked == []


def test_pixels_of_is_numpys_nonzero():
    from dfcore.ops.parts import pixels_of

    rng = np.random.default_rng(5)
    for shape in ((0, 5), (1, 1), (37, 53), (300, 200)):
        for share in (0.0, 0.01, 0.5, 1.0):
            mask = rng.random(shape) < share
            for view in (mask, mask[1:, 2:]):  # a window is not contiguous
                for got, expected in zip(pixels_of(view), np.nonzero(view)):
                    np.testing.assert_array_equal(got, expected)
                    assert got.dtype == expected.dtype


def test_rejoined_asks_only_about_parts_the_larger_radius_joins():
    from dfcore.ops.parts import merged, rejoined

    mask = np.zeros((80, 120), dtype=bool)
    mask[10:20, 10:30] = mask[10:20, 90:110] = True  # 60 px apart: no radius below joins them
    fine, coarse = merged(mask, 4.0), merged(mask, 20.0)

    def never(parts):
        raise AssertionError("asked about parts the larger radius keeps apart")

    assert rejoined(fine, coarse, never, (0, 0)) is fine
    mask[26:36, 10:30] = True  # 6 rows below the first: parted by a radius of 4 px, joined by 20
    fine, coarse = merged(mask, 4.0), merged(mask, 20.0)
    assert fine.max() == 3 and coarse.max() == 2
    asked = []

    def rejoin(parts):
        asked.append(sorted(int(rows.min()) for rows, _ in parts))
        return bool(answer)

    answer = False
    assert rejoined(fine, coarse, rejoin, (0, 5)) is fine and asked == [[15, 31]]  # image rows: origin y 5
    answer = True
    joined = rejoined(fine, coarse, rejoin, (0, 5))
    assert len(np.unique(joined[:, :60][mask[:, :60]])) == 1 and len(np.unique(joined[joined > 0])) == 2


def test_exact_merge_leaves_a_noisy_map_and_one_drawn_again_to_merge():
    rule = {"merge": 0.03, "extent": 0.1, "relative": 0.15, "exact_background": True, "exact_merge": 0.015}
    assert len(significant_regions(two_changes_a_row_apart(flat=False), **rule)[0]) == 1
    support = np.ones((480, 640), np.float32)
    support[:50] = 0.5  # a pair drawn again: the support fades somewhere
    assert len(significant_regions(two_changes_a_row_apart(), support=support, **rule)[0]) == 1
    off = {**rule, "exact_background": False}
    assert len(significant_regions(two_changes_a_row_apart(), **off)[0]) == 1


def test_exact_peaks_leaves_another_change_of_a_lossless_map_free_of_absorb():
    values = two_changes_a_row_apart()
    values[110:126, 100:130] = 0.05  # a ridge above absorb of their peak, below extent
    rule = {"merge": 0.0, "extent": 0.1, "absorb": 0.03, "relative": 0.15, "exact_background": True}
    (one,), mask, _ = significant_regions(values, **rule)
    assert one.bbox in ((100, 100, 130, 110), (100, 126, 130, 136)) and mask.sum() == 300
    two = significant_regions(values, exact_peaks=True, **rule)[0]
    assert sorted(r.bbox for r in two) == [(100, 100, 130, 110), (100, 126, 130, 136)]
    noisy_map = two_changes_a_row_apart(flat=False)
    noisy_map[110:126, 100:130] = 0.08
    assert significant_regions(noisy_map, exact_peaks=True, **rule)[0] == significant_regions(noisy_map, **rule)[0]


def change_far_along_a_ridge():
    """A noisy 480x640 map (diagonal 800): a change, another 0.8 as high 100 px to its right, and a
    faint ridge between them above ``absorb`` of the first's peak and below ``extent``."""
    values = noisy(480, 640)
    values[200:230, 100:140] += 3.0
    values[200:230, 240:280] += 2.4
    values[212:218, 140:240] += 0.15
    return values


def test_absorb_within_leaves_a_far_peak_joined_only_through_a_faint_ridge_to_start_its_own():
    rule = {"level": 10, "merge": 0.03, "extent": 0.1, "absorb": 0.03, "relative": 0.15}
    (one,), mask, _ = significant_regions(change_far_along_a_ridge(), **rule)
    assert one.bbox == (100, 200, 140, 230) and not mask[:, 240:280].any()  # the other is reported nowhere
    two = significant_regions(change_far_along_a_ridge(), absorb_within=0.03, **rule)[0]  # 24 px
    assert [r.bbox for r in two] == [(100, 200, 140, 230), (240, 200, 280, 230)]
    assert two[1].peak > 2.3
    # a peak within reach (20 px) is still a bump on the flank: taken in, as before
    near = noisy(480, 640)
    near[200:230, 100:140] += 3.0
    near[200:230, 160:180] += 2.4
    near[212:218, 140:160] += 0.15
    (taken,) = significant_regions(near, absorb_within=0.03, **rule)[0]
    assert significant_regions(near, **rule)[0] == [taken] and taken.bbox == (100, 200, 140, 230)


def test_zero_below_takes_rounding_noise_as_the_background_it_stands_in_for():
    """An FFT smoothing leaves 1e-12 to 1e-6 of the peak where the exact map is zero: with 46% of
    exact zeros and 8% of such noise, the median and MAD would be the noise's."""
    rng = np.random.default_rng(5)
    exact = np.zeros((100, 150), np.float32)
    exact[:, :69] = rng.uniform(0.01, 0.05, (100, 69))  # 46% of the image: a faint, noisy half
    exact[40:60, 100:120] = 1.0
    rounded = exact.copy()
    noise = (exact == 0) & (rng.random(exact.shape) < 0.15)
    rounded[noise] = 10.0 ** rng.uniform(-12, -6, int(noise.sum()))
    assert (rounded == 0).mean() < 0.5 < (exact == 0).mean()
    _, _, (_, noisy_spread) = significant_regions(rounded)
    _, _, (_, exact_spread) = significant_regions(exact)
    assert noisy_spread < 1e-5 < exact_spread  # the rounding decided how the spread was measured
    found, mask, background = significant_regions(rounded, zero_below=1e-6)
    again, same_mask, same_background = significant_regions(exact)
    assert [r.bbox for r in found] == [r.bbox for r in again] and background == same_background
    assert np.array_equal(mask, same_mask)
    # values above the floor stay: 1e-6 of the peak is not 1e-3
    kept = exact.copy()
    kept[0, 140] = 1e-3
    assert significant_regions(kept, zero_below=1e-6)[2] == significant_regions(kept)[2]


def test_signed_maps_count_by_magnitude():
    values = blob(noisy(), 30, 30, 50, 50, -1.0)
    (region,), _, _ = significant_regions(values)
    assert region.bbox == (30, 30, 50, 50) and region.peak > 0.9


def spread_of(values):
    return background(values.ravel())


def test_extent_parts_two_changes_that_a_faint_outline_joins():
    values = blob(blob(noisy(), 20, 50, 40, 70, 2.0), 110, 50, 130, 70, 1.5)
    centre, spread = spread_of(values)
    values[58:60, 40:110] = centre + 5 * spread  # an outline between them, above low, far below both
    assert len(significant_regions(values, merge=0.0)[0]) == 1
    regions, mask, _ = significant_regions(values, merge=0.0, extent=0.1)
    assert [r.bbox for r in regions] == [(20, 50, 40, 70), (110, 50, 130, 70)]
    assert not mask[58:60, 45:105].any()


def test_absorb_keeps_a_bump_on_a_change_s_flank_out_of_its_box():
    values = noisy()
    _, spread = spread_of(values)
    yy, xx = np.mgrid[:120, :160]
    values += (200 * spread * np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 10.0**2))).astype(np.float32)
    values[59:62, 87:90] += 10 * spread  # a bump where the flank is about 4 deviations high
    (grown,), _, _ = significant_regions(values, merge=0.0, extent=0.1, absorb=0.1)
    assert grown.bbox[2] == 90  # the bump started a difference of its own, down the flank, joined to the core
    (core,), _, _ = significant_regions(values, merge=0.0, extent=0.1, absorb=0.01)
    assert core.bbox[2] < 85 and core.area < grown.area


def test_absorb_peaks_false_leaves_another_change_joined_only_through_a_faint_ridge():
    """A change at 30% of the strongest, 50 px from it, joined through a ridge between absorb and
    extent of the strongest's peak (a table's rule on a page drawn again): absorb takes it, and
    with it the change, unless absorb_peaks is off."""
    values = blob(blob(noisy(), 20, 50, 40, 70, 3.0), 90, 50, 100, 60, 0.9)
    centre, spread = spread_of(values)
    values[58:60, 40:90] = centre + 8 * spread  # above absorb x 160 deviations, below extent x 160
    rule = {"merge": 0.0, "extent": 0.1, "absorb": 0.03, "relative": 0.15}
    (alone,), mask, _ = significant_regions(values, **rule)
    assert alone.bbox == (20, 50, 40, 70) and not mask[:, 85:].any()
    strong, weaker = significant_regions(values, absorb_peaks=False, **rule)[0]
    assert strong == alone and weaker.bbox == (90, 50, 100, 60)
    # a peak close enough to merge is joined to the difference again: one difference, as before
    (joined,), _, _ = significant_regions(values, absorb_peaks=False, **{**rule, "merge": 0.5})
    assert joined.bbox == (20, 50, 100, 70)


def test_relative_drops_what_is_faint_next_to_the_strongest_change():
    values = blob(blob(noisy(), 20, 20, 40, 40, 4.0), 100, 70, 110, 80, 0.2)
    assert len(significant_regions(values)[0]) == 2
    (strong,), _, _ = significant_regions(values, relative=0.15)
    assert strong.bbox == (20, 20, 40, 40)


def residue(count=30, height=200, width=300, seed=0):
    """A map holding ``count`` small blobs of like heights (0.8 to 1.2 over a noise of 0.05): what
    a degradation leaves with nothing changed, many candidates and none far above the others."""
    rng = np.random.default_rng(seed)
    values = noisy(height, width, seed=seed)
    for index in range(count):
        y, x = divmod(index, 10)
        blob(values, 10 + 28 * x, 10 + 30 * y, 14 + 28 * x, 14 + 30 * y, float(rng.uniform(0.8, 1.2)))
    return values


def test_typical_drops_a_residue_of_many_like_candidates_and_keeps_a_change_far_above_them():
    values = residue()
    rule = {"level": 6.0, "merge": 0.01, "relative": 0.15}
    assert len(significant_regions(values, **rule)[0]) == 30  # each standing out of the noise
    assert significant_regions(values, **rule, typical=4)[0] == []
    changed = blob(values.copy(), 150, 160, 170, 180, 5.0)
    (change,), _, _ = significant_regions(changed, **rule, typical=4)
    assert change.bbox == (150, 160, 170, 180)
    assert len(significant_regions(changed, **rule, typical=6)[0]) == 0  # 5 is not six times the typical 1


def test_typical_leaves_a_map_with_fewer_candidates_than_typical_count_as_it_is():
    values = residue(count=19)
    rule = {"level": 6.0, "merge": 0.01, "relative": 0.15}
    assert len(significant_regions(values, **rule, typical=4)[0]) == 19  # fewer than 20: no floor
    assert significant_regions(values, **rule, typical=4, typical_count=19)[0] == []
    # parts closer than merge are one candidate: 30 blobs within 0.2 of the diagonal of each other are one
    assert len(significant_regions(residue(), level=6.0, merge=0.2, relative=0.15, typical=4)[0]) == 1


def test_typical_level_is_the_z_of_the_floor_or_no_floor():
    from dfcore.ops.typical import typical_level

    values = residue()
    z = (values - 0.025) / 0.01
    floor = typical_level(z, values, 6.0, 2.0, 4.0, 20, 0.025, 0.01)
    heights = sorted(float(values[10 + 30 * y:14 + 30 * y, 10 + 28 * x:14 + 28 * x].max()) for y in range(3) for x in range(10))
    assert floor == pytest.approx((4 * float(np.median(heights)) - 0.025) / 0.01)
    assert typical_level(z, values, 6.0, 2.0, 4.0, 31, 0.025, 0.01) == -np.inf


def test_typical_is_not_applied_on_an_exact_background():
    """On a lossless pair's map (flat background) every value above it is a change, however many."""
    values = np.zeros((200, 300), np.float32)
    for index in range(30):
        y, x = divmod(index, 10)
        blob(values, 10 + 28 * x, 10 + 30 * y, 14 + 28 * x, 14 + 30 * y, 1.0)
    found = significant_regions(values, level=6.0, merge=0.01, exact_background=True, typical=4)[0]
    assert len(found) == 30


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 1001])
def test_the_background_median_is_numpys_in_float64(size):
    from dfcore.ops.regions import _median

    rng = np.random.default_rng(size)
    for values in (rng.random(size).astype(np.float32), rng.random(size), rng.random((size, 3)).astype(np.float32)):
        values[: values.shape[0] // 2] = 0  # ties, as on a lossless pair's map
        assert _median(values) == float(np.median(values.astype(np.float64)))


def _cases(rng):
    """Large arrays that order_statistics selects by bins, and the cases it leaves to a partition."""
    size = 40_000  # above SELECT_BY_BINS
    for dtype in (np.float32, np.float64):
        uniform = rng.random(size).astype(dtype)
        yield uniform
        yield np.abs(rng.standard_cauchy(size)).astype(dtype)  # many octaves
        mostly_zero = uniform.copy()
        mostly_zero[: size * 9 // 10] = 0  # a lossless pair's map
        yield mostly_zero
        half_zero = uniform.copy()
        half_zero[: size // 2] = 0  # the middle ranks straddle the zeros and the rest
        yield half_zero
        yield np.round(uniform * 7) / 7  # few distinct values, many ties
        denormal = uniform.copy()
        denormal[:100] = np.finfo(dtype).smallest_subnormal * np.arange(1, 101)
        yield denormal
        with_nan = uniform.copy()
        with_nan[::3] = np.nan  # sorted last, as np.partition does
        yield with_nan
        yield rng.standard_normal(size).astype(dtype)  # negative values: partitioned
        yield np.full(size, 0.25, dtype=dtype)
    yield rng.random(size).astype(np.float16)  # another dtype: partitioned


def test_order_statistics_are_numpys_partition():
    from dfcore.ops.regions import order_statistics

    rng = np.random.default_rng(5)
    for values in _cases(rng):
        n = values.size
        for ranks in ((0,), (n - 1,), (n // 2,), (n // 2 - 1, n // 2), (1, n // 3, n - 2), (n // 10, n // 10 + 1)):
            expected = np.partition(values, ranks)[list(ranks)]
            np.testing.assert_array_equal(order_statistics(values, ranks), expected, err_msg=f"{values.dtype} {ranks}")
            assert order_statistics(values, ranks).dtype == values.dtype


def test_regions_found_in_a_window_are_those_of_the_whole_image():
    """Merging and describing run on the box of the mask's pixels; the same as on the whole image."""
    from dfcore.ops.parts import merged
    from dfcore.ops.regions import _described, _grown

    rng = np.random.default_rng(7)
    for seed in range(6):
        values = noisy(240, 320, seed=seed)
        for _ in range(int(rng.integers(1, 6))):
            x, y = int(rng.integers(0, 300)), int(rng.integers(0, 220))
            blob(values, x, y, x + int(rng.integers(2, 20)), y + int(rng.integers(2, 20)), float(rng.uniform(0.2, 3)))
        for merge in (0.0, 0.03, 0.2):
            regions, mask, (centre, spread) = significant_regions(values, merge=merge, extent=0.1, absorb=0.03)
            magnitude = np.abs(values)
            z = (magnitude - centre) / spread
            grown = _grown(z, 6.0, 3.0, 0.1, 0.03)
            groups = merged(grown, merge * float(np.hypot(*values.shape)))  # the whole image
            whole, kept = _described(grown, groups, magnitude, z, max(1, round(2e-5 * values.size)))
            assert regions == whole
            np.testing.assert_array_equal(mask, np.isin(groups, kept) & grown)


def _same_partition(labels, reference):
    """Two labellings (0 = none) group the same pixels alike, whatever their numbers."""
    assert np.array_equal(labels > 0, reference > 0)
    pairs = np.unique(np.stack([labels[labels > 0], reference[labels > 0]]), axis=1)
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


@pytest.mark.parametrize("seed", range(8))
def test_growing_and_merging_in_boxes_equal_the_whole_mask(seed):
    """Growing and merging run in boxes around the map's parts (far apart on a mostly-zero map);
    against the one-window form and a merge written out on the whole mask."""
    import cv2

    from dfcore.ops.parts import merged
    from dfcore.ops.regions import _grown, _grown_in, label_regions
    from dfcore.ops.strips import boxes_around

    rng = np.random.default_rng(seed)
    values = noisy(300, 400, seed=seed) if seed % 2 else np.zeros((300, 400), np.float32)
    for _ in range(int(rng.integers(3, 9))):
        x, y = int(rng.integers(0, 390)), int(rng.integers(0, 290))
        blob(values, x, y, x + int(rng.integers(1, 25)), y + int(rng.integers(1, 25)), float(rng.uniform(0.2, 3)))
    z = (values - 0.02) / 0.01
    judged = label_regions(z > 40, 8)[1] if seed % 3 == 0 else None
    for extent, absorb, peaks in ((0.0, 0.0, True), (0.3, 0.1, False), (0.3, 0.1, True)):
        grown = _grown(z, 6.0, 3.0, extent, absorb, judged, peaks)
        np.testing.assert_array_equal(grown, _grown_in(z, z > 3.0, 6.0, 3.0, extent, absorb, judged, peaks))
    if seed % 2 == 0:
        assert len(boxes_around(z > 3.0, 1)) > 1  # the case this is about
    for radius in (0.0, 1.0, 9.0, 40.0, 200.0):
        near = cv2.distanceTransform((~grown).astype(np.uint8), cv2.DIST_L2, 3) <= radius / 2 if radius >= 1 else grown
        _same_partition(merged(grown, radius), np.where(grown, label_regions(near, 8)[1], 0))


def test_support_reports_only_the_differences_the_faded_map_holds_too():
    values = blob(blob(blob(noisy(), 20, 20, 40, 35, 1.0), 100, 70, 130, 100, 2.0), 60, 90, 80, 110, 1.5)
    support = np.ones_like(values)
    support[65:115, 95:135] = 0.02  # the strongest blob is what the way the pair was made explains
    whole, whole_mask, level = significant_regions(values)
    judged, mask, judged_level = significant_regions(values, support=support)
    assert [r.bbox for r in whole] == [(100, 70, 130, 100), (60, 90, 80, 110), (20, 20, 40, 35)]
    assert judged == whole[1:]  # the others as the map has them: boxes, peaks, significance
    assert judged_level == level and not mask[70:100, 100:130].any()
    assert np.array_equal(mask, whole_mask & ~(np.arange(160) >= 100)[None, :])
    same = significant_regions(values, support=np.ones_like(values))
    assert same[0] == whole and np.array_equal(same[1], whole_mask)
    assert significant_regions(values, support=np.zeros_like(values))[0] == []


def peak_with_a_change_on_its_flank():
    """A strong peak whose flank carries a weaker change 27 px from its centre (the rule's ``absorb`` takes it)."""
    values = noisy()
    _, spread = spread_of(values)
    yy, xx = np.mgrid[:120, :160]
    values += (200 * spread * np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 10.0**2))).astype(np.float32)
    values[59:62, 87:90] += 10 * spread
    return values


def test_judged_by_peak_a_kept_difference_takes_no_other_with_it():
    values = peak_with_a_change_on_its_flank()
    support = np.ones_like(values)
    support[:, 75:87] = 0.02  # the flank between them is what the way the pair was made explains
    rule = {"merge": 0.0, "extent": 0.1, "absorb": 0.01}
    (merged,), _, _ = significant_regions(values, support=support, **rule)
    assert merged.bbox[2] < 85  # the peak took the change with it, and only the peak is reported
    peak, change = significant_regions(values, support=support, judge="peak", **rule)[0]
    assert peak.bbox == merged.bbox and peak.peak == merged.peak
    assert change.bbox[0] >= 85 and change.bbox[2] >= 90 and change.bbox[1] <= 59 and change.bbox[3] >= 62


def test_judged_by_peak_a_dismissed_peak_takes_nothing_the_faded_map_holds():
    values = peak_with_a_change_on_its_flank()
    support = np.ones_like(values)
    support[25:96, 25:87] = 0.0  # the whole peak is explained; the change on its flank is not
    rule = {"merge": 0.0, "extent": 0.1, "absorb": 0.01}
    assert significant_regions(values, support=support, **rule)[0] == []  # dismissed, with what it took
    (change,), mask, _ = significant_regions(values, support=support, judge="peak", **rule)
    assert change.bbox[0] >= 85 and not mask[:, :80].any()


def test_judge_changes_nothing_without_a_support_and_is_checked():
    values = peak_with_a_change_on_its_flank()
    for support in (None, np.ones_like(values)):
        by_difference = significant_regions(values, support=support, extent=0.1, absorb=0.01)
        by_peak = significant_regions(values, support=support, extent=0.1, absorb=0.01, judge="peak")
        assert by_peak[0] == by_difference[0] and np.array_equal(by_peak[1], by_difference[1])
    with pytest.raises(ValueError, match="judge must be one of difference, peak"):
        significant_regions(values, judge="group")

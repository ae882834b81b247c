"""An affine misregistration measured from tiles, B resampled onto A, tones matched (dfcore.ops.register)."""

from __future__ import annotations

import pytest
import torch

from dfcore.ops.register import (
    Affine,
    blank_border,
    fit_affine,
    inner,
    lower_median,
    match_tones,
    measure_affine,
    shear,
    tile_translations,
    two_dimensional,
    warp,
)
from dfcore.testing import rescanned


def scene(height=256, width=320, seed=0):
    """Line art: random dark strokes and filled boxes on white, on a fine enough grid to register."""
    g = torch.Generator().manual_seed(seed)
    image = torch.ones(1, 3, height, width)
    for _ in range(60):
        y, x = int(torch.randint(0, height - 20, (1,), generator=g)), int(torch.randint(0, width - 20, (1,), generator=g))
        h, w = int(torch.randint(3, 18, (1,), generator=g)), int(torch.randint(3, 18, (1,), generator=g))
        image[..., y:y + h, x:x + w] = torch.rand(3, 1, 1, generator=g) * 0.6
    return image


def test_the_affine_field_of_a_turned_and_scaled_page_is_measured():
    a = scene()
    b = rescanned(a, angle_deg=0.6, scale=1.015, offset=(1.3, -2.1))
    (model,) = measure_affine(a, b)
    assert model is not None and model.residual < 0.3
    assert model.beyond_translation(256, 320) > 2.0
    resampled, inside = warp(b, model.displacement(256, 320))
    core = inner(256, 320, 12) & inside
    assert (resampled - a).abs().amax(1, keepdim=True)[core].mean() < 0.02


def test_an_aligned_pair_measures_no_field_beyond_a_translation():
    a = scene(seed=2)
    (model,) = measure_affine(a, a.clone())
    assert model is not None and model.beyond_translation(256, 320) < 0.05


def test_tiles_that_read_a_repeated_pattern_wrong_do_not_pull_the_fit():
    centres = torch.stack(torch.meshgrid(torch.arange(8.0) * 32, torch.arange(10.0) * 32, indexing="ij"), -1)
    centres = centres.reshape(-1, 2).double()
    truth = torch.tensor([[0.01, -0.012], [0.012, 0.01], [1.5, -2.0]], dtype=torch.float64)
    shifts = torch.cat([centres, torch.ones(len(centres), 1, dtype=torch.float64)], 1) @ truth
    wrong = torch.arange(len(centres)) % 3 == 0  # a third of the tiles agree on a shift off by a period
    shifts[wrong] += torch.tensor([-16.0, 0.0], dtype=torch.float64)
    model = fit_affine(centres, shifts, torch.ones(len(centres), dtype=torch.bool))
    assert model is not None and model.tiles == int((~wrong).sum())
    torch.testing.assert_close(model.matrix, truth, atol=1e-6, rtol=0)


def test_too_few_trusted_tiles_give_no_fit():
    centres = torch.rand(20, 2, dtype=torch.float64) * 200
    trusted = torch.zeros(20, dtype=torch.bool)
    trusted[:4] = True
    assert fit_affine(centres, torch.zeros(20, 2, dtype=torch.float64), trusted) is None


def test_tiles_nearly_in_a_row_give_no_fit():
    """Seven tiles along a row and one beside them: the field's tilt across the row rests on that one tile."""
    centres = torch.tensor([[100.0, 32.0 * i] for i in range(7)] + [[150.0, 96.0]], dtype=torch.float64)
    shifts = torch.zeros(8, 2, dtype=torch.float64)
    shifts[-1] = torch.tensor([0.0, 12.0])  # a misread: the row and it agree on a sheared field
    assert fit_affine(centres, shifts, torch.ones(8, dtype=torch.bool)) is None
    beside = torch.cat([centres, centres[:-1] + torch.tensor([96.0, 0.0], dtype=torch.float64)])
    spread = fit_affine(beside, torch.cat([shifts, torch.zeros(7, 2, dtype=torch.float64)]),
                        torch.ones(15, dtype=torch.bool))
    assert spread is not None and spread.tiles == 14  # two rows: the misread tile is the outlier


def test_a_sheared_field_is_no_page_field():
    centres = torch.stack(torch.meshgrid(torch.arange(8.0) * 32, torch.arange(10.0) * 32, indexing="ij"), -1)
    centres = centres.reshape(-1, 2).double()
    points = torch.cat([centres, torch.ones(len(centres), 1, dtype=torch.float64)], 1)
    turned = torch.tensor([[0.01, -0.012], [0.012, 0.01], [1.5, -2.0]], dtype=torch.float64)  # turned and scaled
    sheared = torch.tensor([[0.017, 0.001], [0.066, 0.0], [-18.5, 0.0]], dtype=torch.float64)
    assert shear(turned) == pytest.approx(0.0) and shear(sheared) == pytest.approx(0.084)
    trusted = torch.ones(len(centres), dtype=torch.bool)
    assert fit_affine(centres, points @ turned, trusted) is not None
    assert fit_affine(centres, points @ sheared, trusted) is None


def test_flat_tiles_are_not_trusted():
    a = torch.ones(1, 3, 128, 128)
    _, _, trusted = tile_translations(a, a.clone())
    assert not trusted.any()


def test_a_tile_along_one_straight_edge_is_one_way_and_a_corner_is_not():
    edge = torch.zeros(1, 1, 64, 64)
    edge[..., 32:, :] = 1  # a horizon
    corner = torch.zeros(1, 1, 64, 64)
    corner[..., 32:, 32:] = 1
    diagonal = torch.ones(64, 64).triu()[None, None]
    ratio = two_dimensional(torch.cat([edge, corner, diagonal, torch.ones(1, 1, 64, 64)]))
    assert ratio[0] < 0.01 and ratio[2] < 0.01  # along a line, whatever its direction
    assert ratio[1] > 0.5
    assert ratio[3] == 0  # flat


def test_structure_leaves_the_tiles_along_a_horizon_out():
    """Along a straight edge the correlation is a ridge: such a tile measures the offset across it only."""
    a = torch.full((1, 3, 128, 256), 0.2)
    a[..., 70:, :] = 0.8
    b = torch.roll(a, (2, 3), (-2, -1))
    assert tile_translations(a, b)[2].any()  # trusted by their peak and contrast alone
    assert not tile_translations(a, b, structure=0.05)[2].any()
    assert measure_affine(a, b, structure=0.05) == [None]


def test_a_turned_page_is_measured_with_its_one_way_tiles_left_out():
    a = scene()
    a[..., 150:, :] *= 0.5  # a horizon across the page
    b = rescanned(a, angle_deg=0.6, scale=1.015, offset=(1.3, -2.1))
    for structure in (0.0, 0.1):
        (model,) = measure_affine(a, b, structure=structure)
        assert model is not None and model.residual < 0.3
        resampled, inside = warp(b, model.displacement(256, 320))
        core = inner(256, 320, 12) & inside
        assert (resampled - a).abs().amax(1, keepdim=True)[core].mean() < 0.02


def test_images_smaller_than_two_tiles_are_not_measured():
    assert measure_affine(torch.rand(2, 3, 100, 100), torch.rand(2, 3, 100, 100)) == [None, None]


def test_a_zero_field_resamples_nothing_and_marks_what_falls_outside():
    b = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(3))
    same, inside = warp(b, torch.zeros(20, 30, 2, dtype=torch.float64))
    torch.testing.assert_close(same, b, atol=1e-5, rtol=0)
    assert inside.all()
    moved = torch.zeros(20, 30, 2, dtype=torch.float64)
    moved[..., 1] = 5.0
    _, inside = warp(b, moved)
    assert not inside[..., 25:].any() and inside[..., :25].all()


def dark_page(height=120, width=160, seed=5):
    """A dark noisy page (noise sigma 0.015) with a few light marks: a scanned drawing at night."""
    g = torch.Generator().manual_seed(seed)
    page = torch.full((1, 3, height, width), 0.25) + 0.015 * torch.randn(1, 3, height, width, generator=g)
    page[..., 40:60, 30:70] = 0.8
    page[..., 70:90, 100:140] = 0.6
    return page.clamp(0, 1)


def test_a_scanner_s_blank_band_is_measured_along_each_edge():
    b = dark_page()
    b[..., -7:, :] = 0.8 + 0.01 * torch.randn(1, 3, 7, 160, generator=torch.Generator().manual_seed(1))  # the lid
    b[..., :, :4] = 0.82
    assert blank_border(b) == (0, 7, 4, 0)
    # a flat sky running to the edge, with nothing set off from it, is no band; neither is a page
    # whose edge rows are content
    assert blank_border(dark_page()) == (0, 0, 0, 0)
    assert blank_border(scene()) == (0, 0, 0, 0)


def test_warp_counts_a_counterpart_in_b_s_blank_border_as_outside():
    b = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(3))
    moved = torch.zeros(20, 30, 2, dtype=torch.float64)
    moved[..., 0] = 2.0  # A's row y shows B's row y + 2
    _, inside = warp(b, moved, border=(0, 5, 3, 0))
    assert inside[..., :13, 3:].all() and not inside[..., 13:, :].any() and not inside[..., :3].any()


def test_tones_are_matched_by_a_gain_and_an_offset_per_channel():
    a = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4)) * 0.6 + 0.2
    b = a * torch.tensor([0.9, 0.8, 1.1]).view(1, 3, 1, 1) + torch.tensor([0.05, 0.1, -0.02]).view(1, 3, 1, 1)
    b[..., 5:10, 5:10] = 0.0  # a local change does not bend the fit
    matched = match_tones(a, b, torch.ones(1, 1, 40, 40, dtype=torch.bool))
    outside = torch.ones(40, 40, dtype=torch.bool)
    outside[5:10, 5:10] = False
    torch.testing.assert_close(matched[..., outside], a[..., outside], atol=1e-4, rtol=0)


def test_tones_fit_only_the_compared_pixels_and_a_flat_channel_gets_an_offset():
    a = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(5)) * 0.6 + 0.2
    b = a * 0.8 + 0.1
    a[:, 1], b[:, 1] = 0.5, 0.53  # no contrast to fit a gain: the offset alone, -0.03
    valid = torch.ones(1, 1, 40, 40, dtype=torch.bool)
    valid[..., :, 30:] = False
    b[..., :, 30:] = 1.0  # not compared: does not bend the fit
    matched = match_tones(a, b, valid)
    torch.testing.assert_close(matched[..., :30], a[..., :30], atol=1e-5, rtol=0)


def like_red_scan(seed=6):
    """A sky and a ground of like red with a few dark-red objects, and its scan: off by 2 px (as a
    fit leaves it locally), blurred, tinted, noisy."""
    a = torch.empty(1, 3, 120, 160)
    a[:, :, :60] = torch.tensor([0.70, 0.84, 0.94]).view(1, 3, 1, 1)  # sky
    a[:, :, 60:] = torch.tensor([0.71, 0.76, 0.39]).view(1, 3, 1, 1)  # ground
    for y, x in ((20, 20), (30, 100), (80, 40), (90, 120)):
        a[:, :, y:y + 16, x:x + 24] = torch.tensor([0.15, 0.68, 0.38]).view(1, 3, 1, 1)  # objects
    moved = torch.nn.functional.pad(torch.roll(a, (2, 2), (-2, -1)), (1, 1, 1, 1), mode="replicate")
    blurred = torch.nn.functional.conv2d(moved, torch.full((3, 1, 3, 3), 1 / 9), groups=3)
    noise = torch.randn(a.shape, generator=torch.Generator().manual_seed(seed)) * 0.015
    b = blurred * torch.tensor([1.0, 0.98, 0.92]).view(1, 3, 1, 1) + 0.02 + noise
    return a, b.clamp(0, 1)


def test_a_tone_fit_on_local_means_keeps_the_gain_of_a_channel_with_little_contrast():
    a, b = like_red_scan()
    valid = torch.ones(1, 1, 120, 160, dtype=torch.bool)
    inside = (0, slice(None), slice(24, 32), slice(26, 38))  # an object's inside, away from its edges
    pixelwise, means = (match_tones(a, b, valid, window=w)[inside].mean((-2, -1)) for w in (1, 7))
    torch.testing.assert_close(means, a[inside].mean((-2, -1)), atol=0.01, rtol=0)
    # single pixels: the edges off and the noise, errors in the fit's variable, bend the red gain
    assert float(pixelwise[0] - 0.15) > 0.1


def test_the_tone_window_is_an_odd_number_of_pixels_and_needs_room():
    a, b = like_red_scan()
    valid = torch.ones(1, 1, 120, 160, dtype=torch.bool)
    for window in (0, 2, -3):
        with pytest.raises(ValueError, match="odd number of pixels"):
            match_tones(a, b, valid, window=window)
    few = torch.zeros_like(valid)
    few[..., 10:14, 10:14] = True  # no 7x7 block wholly inside: the fit reads the pixels
    torch.testing.assert_close(match_tones(a, b, few, window=7), match_tones(a, b, few))


@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_the_lower_median_is_torch_s(n):
    values = torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(n)).double()  # ties included
    assert lower_median(values) == float(values.median())


def test_the_inner_mask_leaves_out_a_band_along_the_edge():
    mask = inner(10, 12, 2)
    assert mask.sum() == 6 * 8 and not mask[..., :2, :].any() and not mask[..., :, -2:].any()
    assert not inner(10, 12, 5).any()


def test_an_affine_reports_its_corners():
    model = Affine(torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, -1.0]], dtype=torch.float64), 10, 0.1)
    assert model.corners(5, 7).tolist() == [[2.0, -1.0]] * 4 and model.beyond_translation(5, 7) == pytest.approx(0)

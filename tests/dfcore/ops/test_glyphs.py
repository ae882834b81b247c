"""Glyph-sized marks (``dfcore.ops.glyphs``): where the ``difference`` strategy's windows judge."""

from __future__ import annotations

import pytest
import torch

from dfcore.ops.glyphs import GLYPH_CONTRAST, check_glyph_height, glyph_mask, marks


def page(height=60, width=80):
    return torch.ones(1, 3, height, width)


def test_a_short_mark_is_a_glyph_and_a_tall_line_is_not():
    a = page()
    a[..., 10:17, 10] = 0.1  # a glyph's stroke, 7 rows high; with its 1-px reach 9
    a[..., 5:55, 40] = 0.1  # a line 50 rows high
    mask = glyph_mask(a, a.clone(), 9)[0, 0]
    assert mask.dtype == torch.bool and mask.shape == (60, 80)
    assert mask[9:18, 9:12].all() and mask.sum() == 9 * 3  # the stroke and its reach, nothing else
    assert not mask[:, 38:43].any()
    assert not glyph_mask(a, a.clone(), 8)[0, 0].any()  # one row lower than the glyph's: none


def test_the_marks_of_either_image_count_and_each_sample_is_its_own():
    a, b = page(), page()
    b[..., 30:34, 60:62] = 0.0  # only in B: a stroke 2 px wide
    mask = glyph_mask(torch.cat([a, b]), torch.cat([b, a]), 10)
    assert mask.shape == (2, 1, 60, 80)
    assert mask[0, 0, 29:35, 59:63].all() and mask[1, 0, 29:35, 59:63].all()
    tall = page()
    tall[..., 2:58, 5:7] = 0.0
    both = glyph_mask(torch.cat([a, tall]), torch.cat([b, tall]), 10)
    assert both[0].sum() == 24 and not both[1].any()  # the tall mark of sample 1 does not touch sample 0


def test_gentle_shading_is_no_mark():
    ramp = torch.linspace(0, 1, 80).view(1, 1, 1, 80).expand(1, 3, 60, 80).contiguous()  # 1/79 a pixel
    assert not marks(ramp).any()
    step = ramp.clone()
    step[..., 20:24, 30:34] += GLYPH_CONTRAST  # a step just as large is one
    assert marks(step).any()


@pytest.mark.parametrize("bad", [-0.1, 1.0, "tall", None])
def test_a_bad_glyph_height_is_refused(bad):
    with pytest.raises(ValueError, match="window_glyphs must be"):
        check_glyph_height(bad)


def test_a_glyph_height_is_read_from_text():
    assert check_glyph_height("0.02") == 0.02 and check_glyph_height(0) == 0.0

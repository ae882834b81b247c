"""Parameter checks shared by stages (dfcore.ops.params)."""

from __future__ import annotations

import math

import pytest

from dfcore.ops.params import check_fraction


def test_a_fraction_comes_back_as_a_float():
    assert check_fraction(0, "merge", "the image diagonal") == 0.0
    assert isinstance(check_fraction(0, "merge", "the image diagonal"), float)
    assert check_fraction(0.499, "frame", "the image diagonal", high=0.5) == 0.499


@pytest.mark.parametrize("value", [1.0, -0.01, math.nan, math.inf, True, "0.1", None])
def test_anything_else_is_one_line_naming_the_knob_and_its_range(value):
    with pytest.raises(ValueError, match=r"^merge must be a fraction of the image diagonal in \[0, 1\), got "):
        check_fraction(value, "merge", "the image diagonal")


def test_the_upper_bound_is_written_as_given():
    with pytest.raises(ValueError, match=r"in \[0, 0.01\), got 0.5$"):
        check_fraction(0.5, "zero_below", "the map's largest value", high=0.01)

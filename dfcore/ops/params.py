"""Parameter checks that several stages share: one rule, one wording.

A stage checks its parameters when it is built, so a bad value is a one-line error before any
pair is read. Checks that only one stage makes stay beside the code they guard
(:func:`dfcore.ops.filters.check_sigma`, :func:`dfcore.ops.shift.check_radius`...).

>>> check_fraction(0.03, "merge", "the image diagonal")
0.03
>>> check_fraction(0.7, "frame", "the image diagonal", high=0.5)
Traceback (most recent call last):
...
ValueError: frame must be a fraction of the image diagonal in [0, 0.5), got 0.7
"""

from __future__ import annotations

import math


def check_fraction(value: float, name: str, of: str, high: float = 1.0) -> float:
    """``value`` as a float in ``[0, high)``, a fraction of ``of``; else a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value)
                                                                               and 0 <= value < high):
        raise ValueError(f"{name} must be a fraction of {of} in [0, {high:g}), got {value!r}")
    return float(value)


__all__ = ["check_fraction"]

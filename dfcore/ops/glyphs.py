"""Where a pair holds glyph-sized marks: text, digits, small icons (the ``difference`` strategy's
``window_glyphs``).

A page drawn again with other hinting moves each glyph by a fraction of a pixel, and a digit
changed into another lies within a pixel of the old strokes; matching whole windows under one
displacement (:func:`dfcore.ops.shift.window_tolerant`) tells the two apart. A line drawn again
without anti-aliasing jumps by a whole pixel here and there along its length, which no one
displacement of a small window explains either. :func:`glyph_mask` marks the pixels of the
marks no taller than a line of text, so that the windows judge glyphs and the range judges
the rest.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from dfcore.ops.params import check_fraction
from dfcore.ops.shift import neighbourhood_range

#: A pixel is part of a mark when some channel of A or of B spans at least this much (values in
#: [0, 1]) within 1 px around it: the strokes of text and their anti-aliased edges, not a
#: photograph's gentle shading.
GLYPH_CONTRAST = 0.15


def check_glyph_height(value: float | str, name: str = "window_glyphs") -> float:
    """A glyph height as a fraction of the image's diagonal: a number in [0, 1) (0: off)."""
    try:
        height = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    return check_fraction(height, name, "the image diagonal")


def marks(x: Tensor, contrast: float = GLYPH_CONTRAST) -> Tensor:
    """Nx1xHxW bool: the pixels where some channel of ``x`` spans at least ``contrast`` within 1 px."""
    low, high = neighbourhood_range(x, 1)
    return high.sub_(low).amax(1, keepdim=True) >= contrast


def glyph_mask(a: Tensor, b: Tensor, height_px: int, contrast: float = GLYPH_CONTRAST) -> Tensor:
    """Nx1xHxW bool on the images' device: the pixels of the marks of A or B (:func:`marks`, joined
    8-connected) whose box is at most ``height_px`` rows high.

    A mark is judged whole, over the whole image (a line of text is as high as its tallest
    glyph, a plot's curve as high as its swing), so the mask is computed once, before a map is cut
    into strips. The components are labelled on the host (OpenCV); one bool mask comes back.
    """
    ink = (marks(a, contrast) | marks(b, contrast)).to(torch.uint8)
    host = ink.cpu().numpy()
    out = np.zeros_like(host, dtype=bool)
    for index in range(host.shape[0]):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(host[index, 0], connectivity=8)
        small = stats[:, cv2.CC_STAT_HEIGHT] <= height_px
        small[0] = False  # the background
        if count > 1 and small.any():
            out[index, 0] = small[labels]
    return torch.from_numpy(out).to(a.device)


__all__ = ["GLYPH_CONTRAST", "check_glyph_height", "glyph_mask", "marks"]

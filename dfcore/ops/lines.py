"""Differences on one line of text joined into one (the ``regions`` stage's ``line_merge``).

A word changed in a line of text, or a longer word that moves the rest of its line, differs
glyph by glyph; :func:`dfcore.ops.regions.significant_regions` joins parts closer than its
``merge``, but the gap between two words can be wider than that. :func:`joined_along_lines`
joins, after the rest of the rule, the differences that lie on one line and close along it.
"""

from __future__ import annotations

from dfcore.contracts import Region
from dfcore.ops.parts import joined_where

#: Two differences lie on one line when their rows overlap by at least this fraction of the
#: lower one's height, and neither is more than :data:`LINE_HEIGHTS` times as high as the other
#: (:func:`joined_along_lines`).
LINE_OVERLAP = 0.5
LINE_HEIGHTS = 1.5


def joined_along_lines(regions: list[Region], distance: float, height: float = 0.0) -> list[Region]:
    """The differences with those that lie on one line and at most ``distance`` px apart along it
    joined into one, strongest first.

    Two differences lie on one line when their rows overlap by :data:`LINE_OVERLAP` of
    the lower one's height and their heights are alike (:data:`LINE_HEIGHTS`); with
    ``height``, neither may be taller than that many px (a line of text, not a larger thing). A joined
    difference spans their boxes and sums their areas; its peak and significance are the
    strongest part's, its mean and centroid the parts' by area. A thing that moved (``move``)
    is one difference already and is left as it is.
    """
    if distance <= 0 or len(regions) < 2:
        return regions
    return joined_where(regions, lambda i, j: regions[i].move is None and regions[j].move is None
                        and _on_one_line(regions[i].bbox, regions[j].bbox, distance, height))


def _on_one_line(p: tuple[int, int, int, int], q: tuple[int, int, int, int], distance: float,
                 height: float = 0.0) -> bool:
    """Whether boxes ``p`` and ``q`` lie on one line (neither taller than ``height`` px, when it is
    given), at most ``distance`` px apart along it."""
    high_p, high_q = p[3] - p[1], q[3] - q[1]
    if max(high_p, high_q) > LINE_HEIGHTS * min(high_p, high_q) or (height > 0 and max(high_p, high_q) > height):
        return False
    if min(p[3], q[3]) - max(p[1], q[1]) < LINE_OVERLAP * min(high_p, high_q):
        return False
    return max(p[0], q[0]) - min(p[2], q[2]) <= distance


__all__ = ["LINE_HEIGHTS", "LINE_OVERLAP", "joined_along_lines"]

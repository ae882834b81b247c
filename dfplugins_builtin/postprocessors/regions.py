"""``regions``: the differences a map holds, counted and ranked, with the map left as it is.

The number of differences is decided by the map itself, not fixed in advance: a region
starts where the map stands far above its own background (measured robustly over the
compared pixels), grows by hysteresis, joins fragments of one object, and drops specks
(:func:`dfcore.ops.regions.significant_regions`). Each region reports its box, area, centroid,
peak, mean and ``significance`` (its peak above the background, in robust standard
deviations), strongest first; the mask holds their pixels. Identical images give none.
With ``nonzero``, every pixel where the map is not zero counts, whatever the background:
on an exact map (``difference`` without tolerance), every changed pixel cluster is a
difference -- the ``strict`` preset's rule, for checks where any change must count.
When the strategy hands over a ``support`` (``difference:rendered_fade=regions`` on a pair
drawn again), a difference is reported only where ``map x support`` holds one too: the
edges a re-rendering moved drop out of the list, the map keeps them. ``judge=peak`` judges
each peak as it is grown instead of each difference once merged: a peak that overlaps none of
the faded map's differences is dismissed, and no peak takes with it a difference of the faded
map that it does not overlap, so a change on another's flank is still found.
With ``frame``, a difference that lies along the image's edge -- inside a band that fraction
of the diagonal wide, spanning at least ``frame_span`` (0.4) of the edge, and, given the pair, differing evenly
along it as a line does -- is the border of a page scanned or drawn again, and is not
reported (:func:`dfcore.ops.frame.off_the_frame`); the map keeps it.
With ``moves``, a thing that left one place and appeared at another is one difference, not
two: two differences pair when what A shows at one is what B shows at the other and the other
way round (:func:`dfcore.ops.moves.paired_moves`; ``move_match`` is how close, as a fraction
of the two places' own differences; ``move_tolerance`` matches within the other image's
range over that many px, off by default: it also pairs different words of like size;
``rendered_move_tolerance`` replaces it on a pair drawn again, whose moved thing is drawn again
too, a fraction of a pixel off, while a lossless pair's matches value for value; ``move_plain``
also asks, with a tolerance, a value-for-value match within that fraction at some shift); the
region spans both places and its ``move`` says where from, where to and by how much. This
needs the pair the map was made from, which the pipeline hands to its postprocessors; on a
map alone (no images) nothing is paired.
With ``recolours``, the differences over which one colour of A became one colour of B, neither
the background around them, are one: a plot's series drawn in another colour, found in pieces
along its line and at its legend's swatch (:func:`dfcore.ops.recolours.joined_recolours`; needs
the pair, as ``moves`` does).
With ``drift``, on a pair drawn again (where the strategy hands over a support), a difference
that moving B by at most 2 px, by fractions of a pixel, explains but for ``drift`` of it, while
the pair differs around it too, is the layout drifting and is not reported: rows and badges a
page laid out again puts a pixel or two off (:func:`dfcore.ops.drift.drifted`; needs the pair).
A thing that moved leaves its surroundings identical and is kept.
``rendered_relative`` replaces ``relative`` on a pair drawn again (where the strategy hands over
a support): there the support and ``drift`` already leave out what re-rendering moved, and a
changed digit stands lower beside a changed heading than a photograph's faint edit beside its
strongest.
With ``typical``, on a map holding ``typical_count`` candidates or more (areas standing ``level``
above the background, parts within ``merge`` joined), a difference's peak must also be that many
times the median candidate's: where nothing changed, a degradation's residue (a texture moved by
a fraction of a pixel, stars a resampling blurred) is many like blobs that ``relative`` measures
only against the strongest of themselves (:mod:`dfcore.ops.typical`; not on an exact map). Many
real changes of like height are dropped as well: a knob for comparisons that expect few changes.
With ``line_merge``, differences that lie on one line (rows overlapping by half the lower
one's height, heights alike) and closer than that fraction of the diagonal along it are one
difference: the words of a line of text an edit changed or moved
(:func:`dfcore.ops.lines.joined_along_lines`); a thing that moved is left as it is. With
``lines=rendered``, only on a pair drawn again (where the strategy hands over a support): on a
photograph, two changes side by side are two; with ``line_height``, only parts no taller than
that fraction of the diagonal (a line of text, not a larger thing).
With ``exact_background``, a map equal to its background over more than half its pixels, of a
pair not drawn again (a lossless pair: every value above that background is a change), has no
spread to measure: any value above it is significant, and ``relative``, ``extent`` and
``min_size`` decide, so a large change does not hide the small ones beside it. ``zero_below``
takes the values at most that fraction of the map's largest as zero: a float FFT's rounding.
``absorb_peaks=false`` leaves another peak that reaches ``extent`` of a difference's peak, but
joins it only lower down, to start a difference of its own (``absorb`` takes it by default);
``absorb_within`` leaves it so only when it lies farther than that fraction of the diagonal from
the difference (a bump on a flank is near; a change 100 px off is not), with
``absorb_within_on=not-rendered`` only on a pair not drawn again (on a page or plot drawn
again a far peak is as often the re-rendering's residue as a change), with ``confirmed`` on a
pair drawn again too, but there only for a peak that the faded map holds as a difference (a
changed digit of a table drawn again, joined to a recoloured badge through the rows' residue);
``exact_peaks`` does so only where ``exact_background`` applies (on a lossless pair two changes
side by side are two, not one and its flank), and ``exact_merge`` joins parts there only when
closer than that fraction of the diagonal instead of ``merge``; with ``exact_moves``, two parts
it parts that ``merge`` would join are one difference again when B is A moved by at most that
many px over both (both ways, within ``move_match``): the strips an element moved by less than its
width leaves where it was and where it went (:func:`dfcore.ops.moves.one_move`).
With ``push_merge``, differences one above the other (or side by side), aligned across and closer
than that fraction of the diagonal, are one difference when B is A moved along their column (or
row) by one shift over both, both ways within ``move_match``: a change that pushed what lies
beyond it (a stacked bar grown lifts the segments above it) leaves a strip at each pushed edge
(:func:`dfcore.ops.pushes.joined_pushes`); a thing that moved is left as it is.
The ``default`` preset ends with this stage (docs/quality.md says how its knobs were chosen).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dfcore.contracts import StageOutput
from dfcore.ops.drift import REACH as DRIFT_REACH
from dfcore.ops.drift import drifted
from dfcore.ops.frame import FRAME_SPAN, off_the_frame
from dfcore.ops.lines import LINE_HEIGHTS, LINE_OVERLAP, joined_along_lines
from dfcore.ops.moves import Crop, one_move, paired_moves
from dfcore.ops.params import check_fraction
from dfcore.ops.parts import Rejoin
from dfcore.ops.pushes import ALIGNED, joined_pushes
from dfcore.ops.recolours import joined_recolours
from dfcore.ops.regions import JUDGES, TYPICAL_COUNT, fades, significant_regions


def _crops(images: tuple[torch.Tensor, torch.Tensor], index: int) -> Crop:
    """Windows of sample ``index`` of the pair as hxwxC float arrays on the host (copied there from a GPU)."""
    a, b = images

    def crop(rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:  # a view, on the CPU
        return tuple(image[index, :, rows, cols].detach().float().cpu().numpy().transpose(1, 2, 0) for image in (a, b))

    return crop


_DIAGONAL = "the image diagonal"
#: The farthest ``exact_moves`` looks, in px: a move of more than this many px is not tried as one thing.
MOVE_REACH = 16
#: Where ``line_merge`` joins: on every pair, or only on a pair drawn again.
LINES = ("all", "rendered")
#: Where ``absorb_within`` applies: every pair, only a pair not drawn again (no support fades it),
#: or every pair but, on one drawn again, only to a peak the faded map holds as a difference.
ABSORB_PAIRS = ("all", "not-rendered", "confirmed")


def _pixels(value: int, name: str, high: int) -> int:
    """``value`` as a whole number of pixels from 0 to ``high``; else a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name} must be a whole number of pixels from 0 to {high}, got {value!r}")
    return value


class Regions:
    """Find the differences of each map: see the module docstring; every knob is a parameter."""

    def __init__(self, level: float = 6.0, low: float = 3.0, merge: float = 0.01, min_size: float = 2e-5,
                 extent: float = 0.0, absorb: float = 0.0, relative: float = 0.0, nonzero: bool = False,
                 judge: str = "difference", moves: bool = False, move_match: float = 0.35, move_tolerance: int = 0,
                 frame: float = 0.0, line_merge: float = 0.0, lines: str = "all",
                 line_height: float = 0.0, exact_background: bool = False, zero_below: float = 0.0,
                 absorb_peaks: bool = True, exact_merge: float = 0.0, exact_peaks: bool = False,
                 exact_moves: int = 0, absorb_within: float = 0.0, recolours: bool = False,
                 frame_span: float = FRAME_SPAN, drift: float = 0.0, rendered_relative: float | None = None,
                 absorb_within_on: str = "all", rendered_move_tolerance: int | None = None,
                 move_plain: float = 0.0, push_merge: float = 0.0, typical: float = 0.0,
                 typical_count: int = TYPICAL_COUNT) -> None:
        for name, value in (("level", level), ("low", low)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of standard deviations, got {value!r}")
        if low > level:
            raise ValueError(f"low ({low}) must not exceed level ({level}): regions grow from their peaks downwards")
        merge, min_size = check_fraction(merge, "merge", _DIAGONAL), check_fraction(min_size, "min_size", "the image area")
        extent, absorb, relative = (check_fraction(value, name, "a peak's height")
                                    for name, value in (("extent", extent), ("absorb", absorb), ("relative", relative)))
        if absorb > extent:
            raise ValueError(f"absorb ({absorb}) must not exceed extent ({extent}): a difference takes in at least "
                             "its own extent")
        self.level, self.low, self.merge, self.min_size = float(level), float(low), float(merge), float(min_size)
        self.extent, self.absorb, self.relative = float(extent), float(absorb), float(relative)
        self.rendered_relative = (self.relative if rendered_relative is None else
                                  float(check_fraction(rendered_relative, "rendered_relative", "a peak's height")))
        self.absorb_peaks = bool(absorb_peaks)
        self.absorb_within = check_fraction(absorb_within, "absorb_within", _DIAGONAL)
        if absorb_within_on not in ABSORB_PAIRS:
            raise ValueError(f"absorb_within_on must be one of {', '.join(ABSORB_PAIRS)}, got {absorb_within_on!r}")
        self.absorb_within_on = absorb_within_on
        if judge not in JUDGES:
            raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
        if not (math.isfinite(move_match) and 0 < move_match < 1):
            raise ValueError(f"move_match must be a fraction of the places' own differences in (0, 1), got "
                             f"{move_match!r}")
        self.nonzero, self.judge, self.exact_background = bool(nonzero), judge, bool(exact_background)
        self.moves, self.move_match = bool(moves), float(move_match)
        self.move_tolerance = _pixels(move_tolerance, "move_tolerance", 4)
        self.rendered_move_tolerance = (self.move_tolerance if rendered_move_tolerance is None else
                                        _pixels(rendered_move_tolerance, "rendered_move_tolerance", 4))
        if not (math.isfinite(move_plain) and move_plain >= 0):
            raise ValueError(f"move_plain must be a fraction of a place's own difference >= 0 (0: off), "
                             f"got {move_plain!r}")
        self.move_plain = float(move_plain)
        self.frame = check_fraction(frame, "frame", _DIAGONAL, high=0.5)
        self.frame_span = check_fraction(frame_span, "frame_span", "the edge's length", high=1.0)
        if lines not in LINES:
            raise ValueError(f"lines must be one of {', '.join(LINES)}, got {lines!r}")
        self.line_merge, self.lines = check_fraction(line_merge, "line_merge", _DIAGONAL), lines
        self.line_height = check_fraction(line_height, "line_height", _DIAGONAL)
        self.zero_below = check_fraction(zero_below, "zero_below", "the map's largest value", high=0.01)
        self.exact_merge = check_fraction(exact_merge, "exact_merge", _DIAGONAL)
        self.exact_peaks = bool(exact_peaks)
        self.exact_moves = _pixels(exact_moves, "exact_moves", MOVE_REACH)
        self.recolours = bool(recolours)
        self.drift = check_fraction(drift, "drift", "a difference")
        self.push_merge = check_fraction(push_merge, "push_merge", _DIAGONAL)
        if not (math.isfinite(typical) and (typical == 0 or typical >= 1)):
            raise ValueError(f"typical must be 0 (off) or a factor of at least 1 over the median candidate, got "
                             f"{typical!r}")
        if isinstance(typical_count, bool) or int(typical_count) != typical_count or typical_count < 2:
            raise ValueError(f"typical_count must be a whole number of candidates >= 2, got {typical_count!r}")
        self.typical, self.typical_count = float(typical), int(typical_count)

    def __call__(self, out: StageOutput) -> StageOutput:
        maps = out.map[:, 0].detach().float().cpu().numpy()  # labelling is a host step (dfcore.ops.regions)
        valid = out.valid[:, 0].detach().cpu().numpy() if out.valid is not None else None
        support = out.support[:, 0].detach().float().cpu().numpy() if out.support is not None else None
        regions, masks, infos = [], [], []
        for index, values in enumerate(maps):
            compared = None if valid is None else valid[index]
            crop = _crops(out.images, index) if out.images is not None else None
            drawn_again = fades(None if support is None else support[index])
            relative = self.rendered_relative if drawn_again else self.relative
            within = self.absorb_within if self.absorb_within_on != "not-rendered" or not drawn_again else 0.0
            found, mask, (centre, spread) = significant_regions(
                values, compared, level=self.level, low=self.low, merge=self.merge, min_size=self.min_size,
                extent=self.extent, absorb=self.absorb, relative=relative, nonzero=self.nonzero,
                support=None if support is None else support[index], judge=self.judge,
                exact_background=self.exact_background, zero_below=self.zero_below, absorb_peaks=self.absorb_peaks,
                exact_merge=self.exact_merge, exact_peaks=self.exact_peaks, rejoin=self._rejoin(crop, values.shape),
                absorb_within=within, within_confirmed=self.absorb_within_on == "confirmed", typical=self.typical,
                typical_count=self.typical_count)
            if self.frame > 0:
                found, mask = off_the_frame(found, mask, self.frame, crop, self.frame_span)
            if self.moves and crop is not None and len(found) > 1:
                found = paired_moves(found, mask, crop, match=self.move_match,
                                     tolerance=self.rendered_move_tolerance if drawn_again else self.move_tolerance,
                                     plain=self.move_plain)
            if self.drift > 0 and crop is not None and found and drawn_again:
                found, mask = drifted(found, mask, crop, self.drift)
            if self.recolours and crop is not None and len(found) > 1:
                found = joined_recolours(found, mask, crop)
            diagonal = math.hypot(*values.shape)
            if self.push_merge > 0 and crop is not None and len(found) > 1:
                found = joined_pushes(found, mask, crop, distance=self.push_merge * diagonal, match=self.move_match)
            if self.line_merge > 0 and (self.lines == "all" or drawn_again):
                found = joined_along_lines(found, self.line_merge * diagonal, self.line_height * diagonal)
            regions.append(found)
            masks.append(torch.from_numpy(mask))
            infos.append({"differences": len(found), "background": round(centre, 6), "spread": round(spread, 6)})
        mask = torch.stack(masks)[:, None].to(out.map.device)
        return out.replace(mask=mask, regions=regions, info=infos)

    def _rejoin(self, crop: Crop | None, shape: tuple[int, int]) -> Rejoin | None:
        """``exact_moves``' test of two parts that ``exact_merge`` parted, on the pair's pixels (none without them)."""
        if not self.exact_moves or crop is None:
            return None
        return lambda parts: one_move(parts, crop, shape, reach=self.exact_moves, match=self.move_match) is not None

    def conventions(self) -> dict[str, object]:
        if self.nonzero:
            return {
                "differences": "every compared pixel where the map is not zero, whatever the background",
                "merge": f"{self.merge} of the image diagonal",
                "min_size": f"{self.min_size} of the image area",
                "significance": "peak above the background (median and 1.4826 x MAD of |map|), in robust standard "
                                "deviations",
                "regions_sorted_by": "peak, then area",
            }
        return {
            "background": "median and 1.4826 x MAD of |map| over the compared pixels",
            "level": self.level,
            "low": self.low,
            "merge": f"{self.merge} of the image diagonal",
            "min_size": f"{self.min_size} of the image area",
            "extent": f"a difference covers the connected pixels above {self.extent} of its peak (0: down to low)",
            "absorb": f"weaker bumps above {self.absorb} of a difference's peak are part of it"
                      + ("" if self.absorb_peaks else f"; another peak above {self.extent} of it starts its own")
                      + (f"; another peak above {self.extent} of it only when within {self.absorb_within} of the "
                         "diagonal of it" + {"all": "", "not-rendered": ", on a pair not drawn again",
                                             "confirmed": ", on a pair drawn again only when the faded map holds "
                                                          "that peak as a difference"}[self.absorb_within_on]
                         if self.absorb_peaks and self.absorb_within else ""),
            "relative": f"a difference stands at least {self.relative} of the strongest one's height above the background"
                        + (f"; {self.rendered_relative} on a pair drawn again"
                           if self.rendered_relative != self.relative else ""),
            "significance": "peak above the background, in robust standard deviations",
            "regions_sorted_by": "peak, then area",
            **({"frame": f"differences inside a band {self.frame} of the diagonal wide along an edge, spanning at "
                         f"least {self.frame_span} of it and differing evenly along it, are the frame and not reported"} if self.frame > 0 else {}),
            **({"moves": f"two differences are one thing that moved when the pair's pixels swapped between "
                         f"them within {self.move_match} of their own differences"
                         + (f", each matched within the other image's range over {self.move_tolerance} px"
                            if self.move_tolerance else "")
                         + (f"; within the range over {self.rendered_move_tolerance} px on a pair drawn again"
                            if self.rendered_move_tolerance != self.move_tolerance else "")
                         + (f"; within a range only when some shift also matches the thing value for value "
                            f"within {self.move_plain} of its place's difference" if self.move_plain else "")}
               if self.moves else {}),
            **({"recolours": "differences over which one colour of A became one colour of B (neither the "
                             "background) are one difference"} if self.recolours else {}),
            **({"push_merge": f"differences one above the other (or side by side), their columns (rows) overlapping "
                              f"by {ALIGNED} of the wider, closer than {self.push_merge} of the diagonal, are one "
                              f"difference when B is A moved along them by one shift over both, within "
                              f"{self.move_match} of their own differences both ways: a push"}
               if self.push_merge else {}),
            **({"typical": f"on a map holding {self.typical_count} candidate differences or more (areas standing "
                           f"level above the background, parts closer than merge joined), a difference's peak is at "
                           f"least {self.typical:g} times the median candidate's (not on an exact background)"}
               if self.typical else {}),
            **({"drift": f"on a pair drawn again, a difference that moving B by at most {DRIFT_REACH} px leaves at "
                         f"most {self.drift} of, the pair differing around it too, is layout drift and not reported"}
               if self.drift > 0 else {}),
            **({"line_merge": f"differences on one line (rows overlapping by {LINE_OVERLAP} of the lower one's "
                              f"height, heights within {LINE_HEIGHTS}x) closer than {self.line_merge} of the "
                              "diagonal along it are one difference"
                              + (f", neither taller than {self.line_height} of the diagonal" if self.line_height else "")
                              + (" on a pair drawn again" if self.lines == "rendered" else "")}
               if self.line_merge > 0 else {}),
            **({"exact_background": "on a map equal to its background over more than half the compared pixels "
                                    "and not faded by a support (a pair not drawn again), any value above the "
                                    "background by more than a millionth of the largest is significant; relative, "
                                    "extent and min_size decide"
                                    + (f"; parts closer than {self.exact_merge} of the diagonal are one difference "
                                       "there" if self.exact_merge else "")
                                    + (f"; two parts it parts are one difference when B is A moved by at most "
                                       f"{self.exact_moves} px over both, within {self.move_match} of their own "
                                       "differences both ways" if self.exact_merge and self.exact_moves else "")
                                    + ("; another peak above extent of a difference's starts its own there"
                                       if self.exact_peaks else "")} if self.exact_background else {}),
            **({"zero_below": f"values of |map| at most {self.zero_below} of its largest are zero (rounding)"}
               if self.zero_below else {}),
            "support": "where the strategy hands one over, a difference is kept only where the same rule finds one "
                       "in map x support too",
            "judge": "each difference once merged" if self.judge == "difference" else
                     "each peak as it is grown: none takes with it a difference that map x support holds apart",
        }

"""The ``redrawn`` preset: the default with what re-rendering leaves faded (docs/quality.md, round eight).

A page is drawn here with Pillow as a screenshot is (flat colours, anti-aliased text, an
outlined card, a button), and drawn again at a device scale of 1.5 and area-resampled back, as
a browser at another zoom or on another screen draws it: its flat areas stay identical, every
glyph and outline is drawn again a fraction of a pixel off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from dfcore import Finder, ParameterError
from dfcore.testing import fresh_registry

LABEL = (218, 145, 252, 163)  # x0, y0, x1, y1 of the button's label, at scale 1 (end-exclusive)


def page(scale: float = 1.0, label: str = "Save") -> np.ndarray:
    """A 320x200 screenshot-like page drawn at ``scale`` and brought back to 320x200, HxWx3 uint8."""
    def s(v: float) -> int:
        return round(v * scale)

    font = ImageFont.truetype("DejaVuSans.ttf", s(12))
    heading = ImageFont.truetype("DejaVuSans-Bold.ttf", s(16))
    image = Image.new("RGB", (s(320), s(200)), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, s(320) - 1, s(28) - 1), fill="#24292f")
    draw.text((s(10), s(6)), "Pipelines overview", font=heading, fill="#ffffff")
    draw.rounded_rectangle((s(10), s(38), s(309), s(189)), radius=s(5), fill="#ffffff", outline="#d0d7de")
    for row, line in enumerate(("Deployments start when checks pass.", "Last run: 14 minutes ago, 3 jobs.",
                                "Owners: platform team, release team.")):
        draw.text((s(20), s(50 + 20 * row)), line, font=font, fill="#1f2328")
    draw.rounded_rectangle((s(200), s(140), s(280), s(168)), radius=s(4), fill="#1f883d")
    draw.text((s(218), s(147)), label, font=font, fill="#ffffff")
    if scale != 1.0:
        image = image.resize((320, 200), Image.BOX)
    return np.asarray(image)


#: The default's map (round fourteen), its differences, and re-rendering's fading judging them (round eleven).
MAP = ("shift=auto,sigma=1,reduce=l2,scale=1,octaves=4,background=64,exact=auto,lossless=clustered,antialias=1,"
       "overshoot=0.15,rendered_overshoot=0.3,register=auto,edge_margin=auto")
DIFFERENCES = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15"
JUDGED = "rendered_contrast=0.04,rendered_motion=1.5,rendered_fade=regions"


def judged_finder(postprocessor=DIFFERENCES):
    return Finder(metric="mse", strategy=f"difference:{MAP},{JUDGED}", postprocessor=postprocessor,
                  registry=fresh_registry(), device="cpu")


@pytest.fixture(scope="module")
def results():
    a, b = page(), page(1.5, label="Sent")
    found = {preset: Finder(registry=fresh_registry(), device="cpu", preset=preset).run(a, b)
             for preset in ("default", "redrawn")}
    found["unjudged"] = Finder(metric="mse", strategy=f"difference:{MAP}", postprocessor=DIFFERENCES,
                               registry=fresh_registry(), device="cpu").run(a, b)
    return found


def test_redrawn_reports_the_changed_label_alone_on_a_page_drawn_again(results):
    (change,) = results["redrawn"].regions
    x0, y0, x1, y1 = change.bbox
    assert x0 < LABEL[2] and LABEL[0] < x1 and y0 < LABEL[3] and LABEL[1] < y1
    assert results["redrawn"].info["difference"]["contrast_floor"] == 0.04  # counted as re-rendered
    assert len(results["unjudged"].regions) > 1  # without the fading, a word drawn again counts too


def test_redrawn_only_fades_the_default_s_map(results):
    faded, default = np.asarray(results["redrawn"].map), np.asarray(results["default"].map)
    assert (faded <= default + 1e-6).all()
    x0, y0, x1, y1 = LABEL
    assert faded[y0:y1, x0:x1].max() == pytest.approx(default[y0:y1, x0:x1].max(), rel=1e-5)
    assert faded.sum() < 0.8 * default.sum()


def test_redrawn_leaves_a_pair_on_one_grid_as_the_default_does():
    a, b = page(), page(label="Sent")  # lossless: not re-rendered, nothing to fade
    found = {preset: Finder(registry=fresh_registry(), device="cpu", preset=preset).run(a, b)
             for preset in ("default", "redrawn")}
    np.testing.assert_array_equal(np.asarray(found["redrawn"].map), np.asarray(found["default"].map))
    assert [r.bbox for r in found["redrawn"].regions] == [r.bbox for r in found["default"].regions]


def test_the_default_keeps_its_map_whole_and_lets_the_fading_judge_its_differences(results):
    judged = results["default"]  # rendered_fade=regions
    np.testing.assert_array_equal(np.asarray(judged.map), np.asarray(results["unjudged"].map))  # not faded
    (change,) = judged.regions  # the re-drawn words drop out of the list, the label stays as the map has it
    assert change in results["unjudged"].regions
    x0, y0, x1, y1 = change.bbox
    assert x0 < LABEL[2] and LABEL[0] < x1 and y0 < LABEL[3] and LABEL[1] < y1
    assert judged.info["difference"]["contrast_floor"] == 0.04
    assert judged.info["regions"]["differences"] == 1


def test_the_support_passes_down_the_chain_and_is_none_on_a_pair_not_re_rendered():
    a, b = page(), page(1.5, label="Sent")
    finder = judged_finder(["identity", DIFFERENCES])
    computed = finder.compute(*finder.load_pair(a, b)[:2])
    support = computed.output.support
    assert support is not None and support.shape == computed.output.map.shape
    assert float(support.min()) < 0.5 and float(support.max()) == 1.0
    assert len(computed.output.regions[0]) == 1  # identity returned a bare map; the support went on
    lossless = finder.compute(*finder.load_pair(page(), page(label="Sent"))[:2]).output
    assert lossless.support is None


def test_a_bad_rendered_fade_is_a_one_line_error():
    with pytest.raises(ParameterError, match="rendered_fade"):
        Finder(metric="mse", strategy="difference:rendered_fade=both", registry=fresh_registry(), device="cpu")


def test_in_a_batch_only_the_re_rendered_pair_is_judged():
    finder = judged_finder()
    drawn_again = finder.load_pair(page(), page(1.5, label="Sent"))[:2]
    lossless = finder.load_pair(page(), page(label="Sent"))[:2]
    batch = finder.compute(*(torch.cat(pair) for pair in zip(drawn_again, lossless))).output
    assert torch.equal(batch.support[1], torch.ones_like(batch.support[1]))  # the lossless pair: all content
    for index, pair in enumerate((drawn_again, lossless)):
        alone = finder.compute(*pair).output
        assert [r.bbox for r in batch.regions[index]] == [r.bbox for r in alone.regions[0]]
    assert len(batch.regions[0]) == 1

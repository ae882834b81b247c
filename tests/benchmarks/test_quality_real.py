"""The real-content tracks: deterministic, exact truth, per-edit boxes, disjoint splits, and a run."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.quality import real
from benchmarks.quality import run as R

SIDE = 160
#: A small source of each family besides screens (rendered once per session, below).
OFFLINE = {"figures": "line", "drawn": "garden", "photos": "china"}


@pytest.fixture(scope="module")
def screen_pairs(screens_renderer):
    """The dashboard page's pristine and degraded pairs at 160 px, rendered once."""
    return {track: real.make_pair(track, "dashboard", 0, max_side=SIDE) for track in ("screens-pristine", "screens")}


def fresh(track: str, source: str, variant: int):
    """The pair made from scratch, not from a module's per-process cache."""
    from benchmarks.quality import drawn, figures

    drawn._edited.cache_clear()
    figures._edited.cache_clear()
    return real.make_pair(track, source, variant, max_side=SIDE)


def check_edits(pair) -> None:
    """Every edit has a mask inside its box, the masks are disjoint and add up to the truth."""
    assert pair.edits and pair.truth.any()
    total = np.zeros_like(pair.truth)
    for edit in pair.edits:
        x0, y0, x1, y1 = edit.box
        assert edit.mask.any() and edit.mask[y0:y1, x0:x1].sum() == edit.mask.sum()
        assert not (total & edit.mask).any()
        total |= edit.mask
    np.testing.assert_array_equal(total, pair.truth)


@pytest.mark.parametrize("family", sorted(OFFLINE))
def test_offline_tracks_give_the_same_bytes_and_exact_truth(family):
    source = OFFLINE[family]
    pristine = real.make_pair(f"{family}-pristine", source, 1, max_side=SIDE)
    degraded = real.make_pair(family, source, 1, max_side=SIDE)
    assert fresh(family, source, 1).digest() == degraded.digest()
    assert real.make_pair(family, source, 2, max_side=SIDE).digest() != degraded.digest()
    for pair in (pristine, degraded):
        assert pair.a.dtype == np.uint8 and pair.a.shape == pair.b.shape and max(pair.a.shape) <= SIDE
        check_edits(pair)
    # The pristine B is made exactly as A is: the truth is every pixel that differs.
    np.testing.assert_array_equal(pristine.truth, (pristine.a != pristine.b).any(2))
    assert not np.array_equal(degraded.b, pristine.b)
    if family == "figures":  # B re-rendered: the truth adds what the edits change under B's settings
        assert (degraded.truth >= pristine.truth).all()
        np.testing.assert_array_equal(degraded.a, pristine.a)
    else:  # B degraded after the edit: the truth stays the edits' pixels on A's grid
        np.testing.assert_array_equal(degraded.truth, pristine.truth)


def test_a_screen_renders_deterministically_and_exactly(screen_pairs, screens_renderer, tmp_path):
    pristine, degraded = screen_pairs["screens-pristine"], screen_pairs["screens"]
    for pair in (pristine, degraded):
        assert pair.a.shape == (120, SIDE, 3)
        check_edits(pair)
    np.testing.assert_array_equal(pristine.truth, (pristine.a != pristine.b).any(2))
    assert (degraded.truth >= pristine.truth).all() and not np.array_equal(degraded.b, pristine.b)
    assert degraded.info["b_setting"] == "dsf2"
    # From the cache: no page is rendered again, and the bytes are the same.
    renders = screens_renderer.renders
    assert real.make_pair("screens", "dashboard", 0, max_side=SIDE).digest() == degraded.digest()
    assert screens_renderer.renders == renders
    # Rendered again from scratch by the same Chromium: the same bytes.
    from benchmarks.quality import screens

    fresh = screens.Renderer(cache=tmp_path)
    fresh._browser = screens_renderer.browser()  # share the running browser; its pages are new
    again = screens.make_pair("dashboard", 0, True, max_side=SIDE, render=fresh)
    assert fresh.renders > 0 and again.digest() == degraded.digest()


@pytest.mark.parametrize("family", real.FAMILIES)
def test_dev_and_test_sources_are_disjoint_and_licensed(family):
    dev, test = set(real.sources_of(family, "dev")), set(real.sources_of(family, "test"))
    assert dev and test and not dev & test
    assert dev | test == set(real.sources_of(family, "all"))
    assert all(real.licence_of(family, s) for s in dev | test)
    with pytest.raises(ValueError, match="unknown split"):
        real.sources_of(family, "fresh")


@pytest.mark.parametrize(("family", "source"), [("figures", "panels"), ("figures", "stacked"), ("drawn", "dusk"),
                                              ("drawn", "village"), ("drawn", "ranch")])
def test_the_sources_added_to_the_development_split_make_exact_pairs(family, source):
    """Round fifty's and fifty-two's development sources (appended: the older sources keep their pairs)."""
    assert source in real.sources_of(family, "dev")
    pristine = real.make_pair(f"{family}-pristine", source, 0, max_side=SIDE)
    check_edits(pristine)
    np.testing.assert_array_equal(pristine.truth, (pristine.a != pristine.b).any(2))
    check_edits(real.make_pair(family, source, 0, max_side=SIDE))


def test_a_stacked_bar_grown_lifts_the_segments_above_it():
    """The ``stacked`` plot's bar edit: its truth is strips one above the other in the bar's column."""
    from scipy import ndimage

    pairs = [real.make_pair("figures-pristine", "stacked", v, seed=1) for v in range(3)]
    grown = [e for pair in pairs for e in pair.edits if e.kind == "bar"]
    assert grown
    parts = [ndimage.label(e.mask)[1] for e in grown]
    assert max(parts) >= 2  # apart along the column: the segments between them matched themselves


def test_photo_sources_are_not_the_photograph_tracks_images():
    from benchmarks.quality.pairs import SOURCES

    assert not set(real.sources_of("photos", "all")) & set(SOURCES)


def test_unknown_tracks_and_sources_are_refused():
    with pytest.raises(ValueError, match="unknown track 'posters'"):
        real.make_pair("posters", "line")
    with pytest.raises(ValueError, match="unknown figures source 'pie'"):
        real.make_pair("figures", "pie")
    with pytest.raises(SystemExit, match="no 'fresh' split"):
        list(R.pairs_of("fresh", 1, ["drawn"]))


def test_assign_splits_the_truth_by_nearest_footprint():
    truth = np.zeros((20, 30), bool)
    truth[2:6, 2:6] = truth[12:15, 20:28] = truth[8, 8] = True
    left, right = np.zeros_like(truth), np.zeros_like(truth)
    left[2:6, 2:6] = True
    right[12:15, 20:28] = True
    edits = real.assign(truth, [("a", left), ("b", right), ("c", np.zeros_like(truth))])
    assert [e.kind for e in edits] == ["a", "b"]  # "c" changed nothing
    assert edits[0].mask[8, 8] and edits[0].box == (2, 2, 9, 9) and edits[1].box == (20, 12, 28, 15)


def test_a_scene_with_no_edit_placed_makes_no_pair(monkeypatch, capsys):
    def make_pair(track, source, variant, seed, max_side):
        if variant == 1:
            return real.assign(np.zeros((4, 4), bool), [])  # no footprint: nothing could be placed
        return variant

    monkeypatch.setattr(real, "make_pair", make_pair)
    assert list(real.generate("dev", 3, ["drawn"], seed=2, sources=["garden"])) == [0, 2]
    assert "garden-1-drawn, seed 2: no edit could be placed; no pair" in capsys.readouterr().err
    with pytest.raises(real.NoEdits):
        real.assign(np.zeros((4, 4), bool), [])


def test_a_small_run_scores_every_new_track(screen_pairs, tmp_path):
    out = tmp_path / "results"
    tracks = ",".join(real.FAMILIES)
    result = R.main(["--split", "dev", "--tracks", tracks, "--images", "dashboard," + ",".join(OFFLINE.values()),
                     "--variants", "1", "--max-side", str(SIDE), "--methods", "abs-diff,pixelmatch,dfind:default",
                     "--out", str(out), "--quiet"])
    assert list(result["summary"]) == list(real.FAMILIES)
    for track in real.FAMILIES:
        for scores in result["summary"][track].values():
            assert scores["pairs"] == 1
            assert 0.0 <= scores["region_f1"] <= 1.0 and scores["count_error_abs"] >= 0
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["regions_by"] for r in rows if r["method"] == "pixelmatch"} == {"components"}
    assert {r["regions_by"] for r in rows if r["method"] == "abs-diff"} == {"otsu"}
    assert {r["regions_by"] for r in rows if r["method"] == "dfind:default"} == {"own"}  # it reports its regions
    table = (out / "table.md").read_text()
    assert "**region F1**" in table and "dfind:default minus each method, region F1" in table


def test_pairs_are_written_with_their_licence(tmp_path):
    import json

    from PIL import Image

    real.main([str(tmp_path), "--split", "dev", "--tracks", "photos-pristine", "--variants", "1"])
    records = json.loads((tmp_path / "pairs.json").read_text())
    assert [r["image"] for r in records] == real.sources_of("photos", "dev")
    assert all(r["licence"] == real.licence_of("photos", r["image"]) and r["edits"] for r in records)
    truth = np.asarray(Image.open(tmp_path / f"{records[0]['name']}.truth.png"))
    assert set(np.unique(truth)) == {0, 255}


def test_an_unchanged_pair_is_the_degraded_pair_less_its_edits(screen_pairs, screens_renderer):
    from benchmarks.quality import figures, screens

    degraded = real.make_pair("figures", "line", 1, max_side=SIDE)
    a, b, setting = figures.unchanged_pair("line", 1, max_side=SIDE)
    assert setting == figures.B_SETTINGS[1] and setting == degraded.info["b_setting"]
    np.testing.assert_array_equal(a, degraded.a)
    untouched = ~degraded.truth  # away from the edits, B is the degraded pair's B
    np.testing.assert_array_equal(b[untouched], degraded.b[untouched])
    assert not np.array_equal(a, b)  # drawn again: not the same pixels
    a, b, setting = screens.unchanged_pair("dashboard", 0, max_side=SIDE, render=screens_renderer)
    np.testing.assert_array_equal(a, screen_pairs["screens"].a)
    assert setting == screen_pairs["screens"].info["b_setting"] and not np.array_equal(a, b)


def test_the_photograph_and_scene_unchanged_pairs_are_their_degraded_pairs_less_the_edits():
    """photos: the photograph saved by both encoders; drawn: the scene and its rescan; degraded: a
    photograph degraded as each track degrades A and B, one track per variant."""
    from benchmarks.quality import drawn, pairs, photos

    a, b, setting = photos.unchanged_pair("china", 1, max_side=SIDE)
    pair = photos.make_pair("china", 1, True, max_side=SIDE)
    np.testing.assert_array_equal(a, pair.a)  # A holds no edit: A's encoding of the same photograph
    assert setting == f"{pair.info['a']} / {pair.info['b']}" and not np.array_equal(a, b)
    a, b, setting = drawn.unchanged_pair("park", 0, max_side=SIDE)
    pair = drawn.make_pair("park", 0, True, max_side=SIDE)
    np.testing.assert_array_equal(a, pair.a)
    assert setting == "scanned" and a.shape == b.shape and not np.array_equal(a, b)
    assert pairs.DEGRADED[:4] == ("jpeg", "noise", "shift", "resample")
    for variant, track in enumerate(pairs.DEGRADED[:4]):
        a, b, setting = pairs.unchanged_pair("camera", variant, max_side=SIDE)
        pair = pairs.make_pair("camera", variant, track, max_side=SIDE)
        assert setting == track and a.shape == b.shape and not np.array_equal(a, b)
        np.testing.assert_array_equal(a, pair.a)
        if track == "noise":  # drawn from the same generator: away from the edits, B is the pair's B
            np.testing.assert_array_equal(b[~pair.truth], pair.b[~pair.truth])
    from benchmarks.quality import unchanged

    assert {"photos", "drawn", "degraded"} <= set(unchanged.MAKERS)
    assert unchanged._pairs_of("degraded", "test", 2) == [(image, v) for image in pairs.images_of("test") for v in (0, 1)]
    assert unchanged._pairs_of("drawn", "dev", 1) == [(scene, 0) for scene in real.sources_of("drawn", "dev")]


def test_the_unchanged_count_records_what_each_preset_reports(monkeypatch, tmp_path):
    from benchmarks.quality import figures, unchanged

    monkeypatch.setattr(unchanged, "MAKERS", {"figures": lambda source, variant, seed, side: figures.unchanged_pair(
        source, variant, seed, SIDE)})
    monkeypatch.setattr(real, "sources_of", lambda family, split: ["line"])
    records = unchanged.main(["--split", "dev", "--variants", "2", "--presets", "strict,default", "--out", str(tmp_path),
                              "--pipeline", "exact=strategy=difference:reduce=max;postprocessor=regions:nonzero=true"])
    assert [(r["source"], r["variant"], r["setting"]) for r in records] == [
        ("line", 0, figures.B_SETTINGS[0]), ("line", 1, figures.B_SETTINGS[1])]
    assert all(r["differences"]["strict"] > 0 for r in records)  # drawn again: pixels differ, strict counts them
    assert all(set(r["differences"]) == {"strict", "default", "exact"} for r in records)
    assert all(r["differences"]["exact"] > 0 for r in records)
    assert unchanged.means(records, "strict") == {"figures": sum(r["differences"]["strict"] for r in records) / 2}
    saved = (tmp_path / "unchanged.md").read_text()
    assert "| figures | `strict` | 2 | 0% |" in saved and "| figures | `exact` | 2 | 0% |" in saved
    assert (tmp_path / "unchanged.json").exists()


def test_the_layout_controls_are_counted_once_each_in_every_split(monkeypatch):
    """The layout-shift page's anti-aliasing-only controls join the pairs drawn again, so a sweep's
    --unchanged guard holds them too (round twenty-eight had raised one from 0 differences to 6)."""
    from benchmarks.quality import unchanged

    assert "layout" in unchanged.MAKERS
    monkeypatch.setattr(unchanged, "MAKERS", {"layout": unchanged.MAKERS["layout"]})
    for split in ("dev", "test"):
        records = unchanged.count(split, 4, ("strict",))
        assert [(r["source"], r["variant"]) for r in records] == [("aa-subpixel", 0), ("aa-supersampled", 0)]
        assert all(r["differences"]["strict"] > 0 for r in records)  # anti-aliasing differs: strict counts it
    a, b, setting = unchanged.layout_pair("aa-subpixel")
    assert a.shape == b.shape == (400, 640, 3) and setting == "aa-subpixel" and (a != b).any()
    assert set(unchanged.means(records, "strict")) == {"layout"}

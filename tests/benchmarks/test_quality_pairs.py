"""The spot-the-difference generator: deterministic, exact truth, one edit of each kind."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.quality import pairs as P

SIDE = 200


def fresh(image: str, variant: int = 0, track: str = "pristine", seed: int = 0) -> P.Pair:
    P._pristine.cache_clear()  # regenerate from scratch, not from the per-process cache
    return P.make_pair(image, variant, track, seed, max_side=SIDE)


@pytest.mark.parametrize("track", P.TRACKS)
def test_same_seed_gives_the_same_bytes(track):
    first, second = fresh("chelsea", 1, track), fresh("chelsea", 1, track)
    assert first.digest() == second.digest()
    assert first.a.tobytes() == second.a.tobytes() and first.b.tobytes() == second.b.tobytes()
    assert [e.box for e in first.edits] == [e.box for e in second.edits]
    assert first.info == second.info


def test_seed_and_variant_change_the_pair():
    base = fresh("camera", 0).digest()
    assert fresh("camera", 0, seed=1).digest() != base
    assert fresh("camera", 1).digest() != base


def test_pristine_truth_is_exactly_the_changed_pixels():
    pair = fresh("coffee", 2)
    assert pair.a.dtype == np.uint8 and pair.a.shape == pair.b.shape and pair.a.shape[2] == 3
    np.testing.assert_array_equal(pair.truth, (pair.a != pair.b).any(2))
    np.testing.assert_array_equal(pair.truth, np.logical_or.reduce([e.mask for e in pair.edits]))
    assert 0 < pair.truth.mean() < 0.2


def test_one_edit_of_every_kind_apart_from_each_other():
    pair = fresh("astronaut", 0)
    assert sorted(e.kind for e in pair.edits) == sorted(P.EDIT_KINDS)
    for i, first in enumerate(pair.edits):
        assert first.mask.any()
        x0, y0, x1, y1 = first.box
        assert first.mask[y0:y1, x0:x1].sum() == first.mask.sum()
        for second in pair.edits[i + 1:]:
            assert not (first.mask & second.mask).any()
            assert not P._overlaps(first.box, second.box)


@pytest.mark.parametrize("track", P.ALL_TRACKS)
def test_every_track_keeps_the_grid_and_degrades_both_or_b(track):
    pristine, pair = fresh("rocket", 0), fresh("rocket", 0, track)
    assert pair.a.shape == pristine.a.shape and pair.truth.shape == pristine.truth.shape
    assert pair.track == track and pair.name.endswith(track)
    if track == "pristine":
        assert pair.digest() == pristine.digest()
        return
    assert not np.array_equal(pair.b, pristine.b)
    # The edits' masks only grow (a shifted B moves them), never lose a pixel.
    assert (pair.truth >= pristine.truth).all()
    if track.startswith("shift"):
        np.testing.assert_array_equal(pair.a, pristine.a)
        assert pair.truth.sum() > pristine.truth.sum()
    else:
        assert not np.array_equal(pair.a, pristine.a)


def test_splits_are_disjoint_and_every_source_has_a_licence():
    splits = [set(P.images_of(split)) for split in P.SPLITS]
    assert all(splits)
    assert sum(len(s) for s in splits) == len(set().union(*splits)) == len(P.SOURCES)
    assert set().union(*splits) == set(P.SOURCES) == set(P.images_of("all"))
    assert all(("CC0" in s.licence or "public domain" in s.licence) for s in P.SOURCES.values())


def test_generate_yields_images_times_variants_times_tracks():
    names = [p.name for p in P.generate("dev", 1, ("pristine", "noise"), images=["clock"], max_side=120)]
    assert names == ["clock-0-pristine", "clock-0-noise"]


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown image 'lena'"):
        P.make_pair("lena")
    with pytest.raises(ValueError, match="unknown track 'blurry'"):
        P.make_pair("coffee", track="blurry")
    with pytest.raises(ValueError, match="unknown split"):
        P.images_of("train")


def test_write_pair_writes_pngs_and_a_record(tmp_path):
    from PIL import Image

    pair = fresh("clock", 0)
    record = P.write_pair(pair, tmp_path)
    for suffix in ("a", "b", "truth"):
        assert (tmp_path / f"{pair.name}.{suffix}.png").is_file()
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"{pair.name}.b.png")), pair.b)
    truth = np.asarray(Image.open(tmp_path / f"{pair.name}.truth.png"))
    assert set(np.unique(truth)) == {0, 255}
    assert record["sha256"] == pair.digest() and len(record["edits"]) == len(P.EDIT_KINDS)


def test_a_silhouette_source_is_loaded_black_and_white():
    image = P.SOURCES["horse"].load(max_side=4000)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert set(np.unique(image).tolist()) == {0, 255}


@pytest.mark.parametrize("track", [2, 3])  # DEGRADED[2] shift, DEGRADED[3] resample
def test_typical_reports_no_residue_of_a_degradation_where_nothing_changed(track):
    """The star field moved by a fraction of a pixel, or resampled, with no edit: the residue is
    dozens of stars that stand out of the map's background, and the default reports them all.
    Its rule with round fifty-three's typical floor (opt-in, not adopted) reports none of them;
    an edit on top is still found."""
    from dfcore import Finder
    from dfplugins_builtin import plugin

    a, b, name = P.unchanged_pair("hubble_deep_field", track, max_side=320)
    assert name == P.DEGRADED[track]
    typical = Finder(postprocessor=f"{plugin._DIFFERENCES},typical=4")
    assert len(Finder().run(a, b).regions) > 20
    assert typical.run(a, b).regions == []
    edited = b.copy()
    edited[100:130, 150:190] = (230, 40, 40)
    (found,) = typical.run(a, edited).regions
    x0, y0, x1, y1 = found.bbox
    assert x0 <= 152 and y0 <= 102 and x1 >= 188 and y1 >= 128

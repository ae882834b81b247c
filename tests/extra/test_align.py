"""``align``: registration of B onto A as a pairwise preprocessor.

The pairs are made here: a real texture (scikit-image's astronaut, slightly blurred, as a
camera would) is rendered twice by exact cubic interpolation of one source, once on A's grid
and once through a known transform, with local edits planted in the source, so the truth is
known on A's grid: the transform to 1e-6 px, the edits' masks to the pixel.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image
from scipy import ndimage

from dfcore import Finder, ParameterError, ShapeError
from dfcore.cli import listing_data, main
from dfcore.io.render import INVALID_HATCH
from dfcore.plugin.registry import get_registry
from dfplugins_extra.preprocessors.align import (
    AUTO_PENALTY,
    Align,
    AlignmentError,
    apply_matrix,
    estimate_transform,
    warp,
)

SIZE = 256
# (y0, x0, y1, x1) on A's grid, and what is done there.
EDITS = (
    ((40, 40, 60, 64), "brighter"),
    ((150, 60, 170, 80), "darker"),
    ((96, 176, 116, 200), "red"),
    ((196, 192, 214, 212), "brighter"),
    ((24, 196, 44, 214), "darker"),
)


# -- the synthetic pairs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    """The 512 px texture both images are rendered from (HxWx3 float64)."""
    from skimage import data

    image = data.astronaut().astype(np.float64) / 255.0
    return np.stack([ndimage.gaussian_filter(image[..., c], 1.0) for c in range(3)], axis=-1)


def edited(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The source with EDITS planted (in source pixels: A's times 2), and their mask on A's grid."""
    out = source.copy()
    truth = np.zeros((SIZE, SIZE), bool)
    for (y0, x0, y1, x1), kind in EDITS:
        truth[y0:y1, x0:x1] = True
        patch = (slice(2 * y0, 2 * y1), slice(2 * x0, 2 * x1))
        if kind == "brighter":
            out[patch] = np.clip(out[patch] + 0.3, 0.0, 1.0)
        elif kind == "darker":
            out[patch] = np.clip(out[patch] - 0.3, 0.0, 1.0)
        else:
            out[patch] = (0.85, 0.15, 0.1)
    return out, truth


def render(source: np.ndarray, matrix: np.ndarray, size: int = SIZE) -> np.ndarray:
    """A size x size image whose pixel p shows the source at A's position matrix^-1 p (HxWx3 float32).

    A's pixel (x, y) is the source at (2x + 0.5, 2y + 0.5): pixel centres of a 2x downscale.
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = apply_matrix(np.linalg.inv(matrix), xs, ys)
    coords = [2.0 * v + 0.5, 2.0 * u + 0.5]
    channels = [ndimage.map_coordinates(source[..., c], coords, order=3, mode="reflect") for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def similarity(scale: float, degrees: float, shift: tuple[float, float], size: int = SIZE) -> np.ndarray:
    """Scale and rotation about A's centre, then ``shift``: a pixel of A -> its place in B."""
    t = np.deg2rad(degrees)
    linear = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.array([(size - 1) / 2.0] * 2)
    out = np.eye(3)
    out[:2, :2] = linear
    out[:2, 2] = centre - linear @ centre + np.asarray(shift)
    return out


#: The transform of the main pair: a sub-pixel shift, 1% scale and 0.5 degree rotation.
KNOWN = similarity(1.01, 0.5, (0.37, -0.61))


def max_error(estimated: np.ndarray | list, known: np.ndarray, size: int = SIZE) -> float:
    """Largest distance (px) between where the two matrices send A's pixels."""
    ys, xs = np.mgrid[0:size:4, 0:size:4].astype(np.float64)
    u1, v1 = apply_matrix(np.asarray(estimated, dtype=np.float64), xs, ys)
    u2, v2 = apply_matrix(known, xs, ys)
    return float(np.hypot(u1 - u2, v1 - v2).max())


def strongest_peaks(map2d: np.ndarray, count: int = 5, radius: int = 24) -> list[tuple[int, int]]:
    """The ``count`` strongest local maxima of the map smoothed over 5x5, with non-maximum suppression."""
    score = ndimage.uniform_filter(map2d.astype(np.float64), 5)
    peaks = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(score)), score.shape)
        peaks.append((int(y), int(x)))
        score[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1] = -np.inf
    return peaks


def edits_found(map2d: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(strongest peaks inside an edit, edits holding one of them), over len(EDITS) peaks."""
    near = ndimage.binary_dilation(truth, iterations=3)
    labels, _ = ndimage.label(near)
    peaks = strongest_peaks(map2d, len(EDITS))
    inside = [labels[y, x] for y, x in peaks if near[y, x]]
    return len(inside), len(set(inside))


@pytest.fixture(scope="module")
def scene(source: np.ndarray) -> dict[str, np.ndarray]:
    changed, truth = edited(source)
    return {"a": render(source, np.eye(3)), "b": render(changed, KNOWN), "truth": truth}


@pytest.fixture(scope="module")
def aligned(scene: dict[str, np.ndarray]):
    return Finder(preprocessor="align", metric="mse", strategy="difference", device="cpu").run(scene["a"], scene["b"])


def grey(image: np.ndarray) -> np.ndarray:
    return image.mean(axis=2).astype(np.float32)


# -- the estimate -----------------------------------------------------------------------------------


def test_estimate_matches_the_known_transform(aligned):
    info = aligned.info["align"]
    assert info["status"] == "ok"
    assert info["model"] == "similarity"
    assert max_error(info["matrix"], KNOWN) < 0.1
    assert info["scale"] == pytest.approx(1.01, abs=0.001)
    assert info["rotation_deg"] == pytest.approx(0.5, abs=0.02)
    assert info["shift"] == pytest.approx([0.37, -0.61], abs=0.1)
    assert info["residual"] < 0.2 * info["residual_before"]
    assert 0.0 < info["outlier_fraction"] < 0.2
    assert set(info["candidates"]) == {"translation", "similarity", "affine", "homography"}


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("translation", similarity(1.0, 0.0, (2.6, -1.3))),
        ("similarity", similarity(0.995, -1.5, (1.2, 0.4))),
        ("affine", np.array([[1.01, 0.006, 0.5], [-0.004, 0.995, 1.2], [0.0, 0.0, 1.0]])),
        ("homography", np.array([[1.0, 0.004, 0.5], [0.003, 1.0, -0.8], [4e-5, -3e-5, 1.0]])),
    ],
)
def test_auto_picks_the_simplest_model_that_fits(source, name, known):
    changed, _ = edited(source)
    a, b = grey(render(source, np.eye(3))), grey(render(changed, known))
    automatic = estimate_transform(a, b, "auto")
    assert automatic.model == name
    assert max_error(automatic.matrix, known) < 0.1
    costs = {model: values["cost"] for model, values in automatic.candidates.items()}
    assert min(costs, key=costs.get) == name
    for model, values in automatic.candidates.items():
        assert values["cost"] == pytest.approx(values["residual"] * (1 + AUTO_PENALTY * {
            "translation": 2, "similarity": 4, "affine": 6, "homography": 8}[model]))


def test_a_requested_model_is_used_as_it_is(source):
    known = np.array([[1.0, 0.004, 0.5], [0.003, 1.0, -0.8], [4e-5, -3e-5, 1.0]])
    a, b = grey(render(source, np.eye(3))), grey(render(source, known))
    homography = estimate_transform(a, b, "homography")
    assert homography.model == "homography" and not homography.candidates
    assert max_error(homography.matrix, known) < 0.1
    affine = estimate_transform(a, b, "affine")
    assert affine.model == "affine" and np.allclose(affine.matrix[2], (0.0, 0.0, 1.0))
    assert affine.residual > 2 * homography.residual


def test_a_simpler_model_than_the_truth_is_a_worse_fit(source):
    a, b = grey(render(source, np.eye(3))), grey(render(source, KNOWN))
    translation = estimate_transform(a, b, "translation")
    assert translation.model == "translation"
    assert max_error(translation.matrix, KNOWN) > 1.0
    assert translation.residual > 3 * estimate_transform(a, b, "similarity").residual


def test_estimation_is_refined_on_a_larger_copy(source):
    """A 512 px pair: guesses on 256 px copies, refinement at full size; the error stays sub-0.1 px."""
    known = similarity(1.01, 0.5, (0.74, -1.22), size=512)
    ys, xs = np.mgrid[0:512, 0:512].astype(np.float64)
    u, v = apply_matrix(np.linalg.inv(known), xs, ys)
    b = ndimage.map_coordinates(grey(source.astype(np.float32)), [v, u], order=3, mode="reflect")
    found = estimate_transform(grey(source.astype(np.float32)), b.astype(np.float32), "similarity")
    assert found.size == (512, 512)
    assert max_error(found.matrix, known, size=512) < 0.1
    half = estimate_transform(grey(source.astype(np.float32)), b.astype(np.float32), "similarity", max_size=256)
    assert half.size == (256, 256)
    assert max_error(half.matrix, known, size=512) < 0.2


# -- the map ----------------------------------------------------------------------------------------


def test_aligned_map_shows_the_edits_and_little_else(scene, aligned):
    truth, near = scene["truth"], ndimage.binary_dilation(scene["truth"], iterations=3)
    outside, inside = aligned.map[~near], aligned.map[truth]
    assert np.percentile(outside, 99) < 0.15 * np.median(inside)
    assert edits_found(aligned.map, truth) == (len(EDITS), len(EDITS))


def test_unaligned_map_is_dominated_by_edges(scene):
    plain = Finder(metric="mse", strategy="difference", device="cpu").run(scene["a"], scene["b"])
    near = ndimage.binary_dilation(scene["truth"], iterations=3)
    assert np.percentile(plain.map[~near], 99) > np.median(plain.map[scene["truth"]])
    inside, _ = edits_found(plain.map, scene["truth"])
    assert inside < len(EDITS)


def test_gradient_maps_line_up_with_a(scene):
    """Strategies differentiate with respect to the aligned images, which lie on A's grid."""
    truth, near = scene["truth"], ndimage.binary_dilation(scene["truth"], iterations=3)
    mse = Finder(preprocessor="align:model=similarity", metric="mse", strategy="gradient",
                 device="cpu").run(scene["a"], scene["b"])
    assert mse.map.shape == (SIZE, SIZE)
    assert edits_found(mse.map, truth) == (len(EDITS), len(EDITS))
    assert mse.valid is not None and not mse.map[~mse.valid].any()
    # SSIM's gradient weighs structure, so edges keep some weight; alignment still moves it onto the edits.
    ssim = Finder(metric="ssim", strategy="gradient", device="cpu")
    a = torch.from_numpy(scene["a"]).permute(2, 0, 1)[None]
    b = torch.from_numpy(scene["b"]).permute(2, 0, 1)[None]
    paired = Align(model="similarity").pair(a, b)
    aligned = ssim.compute(paired.a, paired.b, paired.valid).output.map[0, 0].numpy()
    plain = ssim.compute(a, b).output.map[0, 0].numpy()
    assert aligned[near].sum() / aligned.sum() > 3 * plain[near].sum() / plain.sum()


def test_a_resampled_pair_is_aligned(scene):
    """B re-saved at half size and scaled back with the other pixel-centre convention: a 0.4% zoom.

    Alignment undoes the zoom; the blur of the round trip stays (shift tolerance is for that).
    """
    a = torch.from_numpy(scene["a"]).permute(2, 0, 1)[None]
    small = F.interpolate(a, scale_factor=0.5, mode="area")
    truth = scene["truth"]
    planted = torch.from_numpy(truth)

    def resaved(align_corners: bool) -> torch.Tensor:
        b = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear", align_corners=align_corners)
        b[0, :, planted] = (b[0, :, planted] + 0.3).clamp(0, 1)
        return b

    b = resaved(align_corners=True)
    zoom = (SIZE - 1) / (SIZE - 2)
    known = np.array([[zoom, 0.0, -0.5 * zoom], [0.0, zoom, -0.5 * zoom], [0.0, 0.0, 1.0]])
    result = Finder(preprocessor="align", metric="mse", strategy="difference", device="cpu").run(a, b)
    info = result.info["align"]
    assert info["scale"] == pytest.approx(zoom, abs=0.001)
    assert max_error(info["matrix"], known) < 0.1
    assert edits_found(result.map, truth) == (len(EDITS), len(EDITS))
    # The same round trip without the convention mismatch: what a perfect registration leaves.
    difference = Finder(metric="mse", strategy="difference", device="cpu")
    ideal, plain = difference.run(a, resaved(align_corners=False)).map, difference.run(a, b).map
    compared = result.valid & ~ndimage.binary_dilation(truth, iterations=3)
    left = np.abs(result.map - ideal)[compared].mean()
    assert left < 0.4 * np.abs(plain - ideal)[compared].mean()


# -- pixels without a counterpart --------------------------------------------------------------------


def test_uncovered_pixels_are_left_out_of_the_score_and_the_map(scene):
    finder = Finder(preprocessor="align:model=similarity", metric="mse", strategy="difference", device="cpu")
    a = torch.from_numpy(scene["a"]).permute(2, 0, 1)[None]
    b = torch.from_numpy(scene["b"]).permute(2, 0, 1)[None]
    computed = finder.compute(a, b)
    valid = computed.output.valid
    assert valid is not None and valid.dtype == torch.bool and tuple(valid.shape) == (1, 1, SIZE, SIZE)
    fraction = float(valid.float().mean())
    assert 0.9 < fraction < 1.0
    # Zoomed by 1% about the centre and moved right, B's content ends before A's right edge.
    assert not valid[0, 0, :, -1].any() and valid[0, 0, SIZE // 2, 2:-2].all()
    squared = ((computed.a - computed.b) ** 2).mean(1, keepdim=True)
    assert float(computed.score) == pytest.approx(float(squared[valid].mean()), rel=1e-5)
    assert not computed.output.map[~valid].any()


def test_heatmap_draws_uncovered_pixels_as_a_hatch(aligned, tmp_path):
    files = aligned.save(tmp_path)
    assert aligned.valid is not None and not aligned.valid.all()
    picture = np.asarray(Image.open(files["heatmap"]))
    assert {tuple(p) for p in picture[~aligned.valid]} == set(INVALID_HATCH)
    assert {tuple(p) for p in picture[aligned.valid]}.isdisjoint(INVALID_HATCH)
    written = np.asarray(Image.open(files["valid"])) > 0
    np.testing.assert_array_equal(written, aligned.valid)
    assert not np.load(files["map"])[~aligned.valid].any()
    data = json.loads(files["json"].read_text())
    assert data["valid_fraction"] == pytest.approx(float(aligned.valid.mean()))
    assert data["files"]["valid"] == files["valid"].name


def test_b_of_another_size_is_resampled_onto_a(scene):
    b = scene["b"][3:-2, 1:-4]  # cropped: 251 x 251, content moved by (-1, -3)
    result = Finder(preprocessor="align", metric="mse", strategy="difference", device="cpu").run(scene["a"], b)
    assert result.map.shape == (SIZE, SIZE)
    shifted = np.array([[1, 0, -1], [0, 1, -3], [0, 0, 1]]) @ KNOWN
    assert max_error(result.info["align"]["matrix"], shifted) < 0.1
    assert result.inputs["b"]["width"] == 251
    with pytest.raises(ShapeError, match="image sizes differ"):
        Finder(metric="mse", strategy="difference", device="cpu").run(scene["a"], b)


# -- the CLI and the JSON ---------------------------------------------------------------------------


def write_png(path, image: np.ndarray) -> None:
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


def test_cli_writes_the_transform_into_the_json(scene, tmp_path):
    write_png(tmp_path / "a.png", scene["a"])
    write_png(tmp_path / "b.png", scene["b"])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-p", "align:model=affine",
                                       "-s", "difference", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "b.json").read_text())
    info = data["info"]["align"]
    assert info["model"] == info["requested"] == "affine"
    assert max_error(info["matrix"], KNOWN) < 0.1
    assert 0.9 < info["valid_fraction"] < 1.0
    assert info["valid_fraction"] == pytest.approx(data["valid_fraction"], abs=1e-6)
    assert data["config"]["preprocessor"][0]["params"]["model"] == "affine"
    assert data["config"]["preprocessor"][0]["conventions"]["interpolation"] == "bicubic"
    assert (out / "b.valid.png").exists()


def test_listed_with_its_parameters():
    entry = next(s for s in listing_data(get_registry())["stages"] if s["name"] == "align")
    assert entry["kind"] == "preprocessor" and entry["plugin"] == "extra"
    assert [p["name"] for p in entry["params"]] == ["model", "interpolation", "max_size", "iterations",
                                                     "max_shift", "on_failure"]
    result = CliRunner().invoke(main, ["--list-plugins"])
    assert result.exit_code == 0 and "align" in result.output


def test_parameter_defaults_match_the_class():
    spec = get_registry().find("preprocessor", "align").spec
    signature = inspect.signature(Align)
    assert {p.name: p.default for p in spec.params} == {
        name: parameter.default for name, parameter in signature.parameters.items()
    }
    model = next(p for p in spec.params if p.name == "model")
    assert set(model.choices) == {"auto", "translation", "similarity", "affine", "homography"}


# -- bad inputs ----------------------------------------------------------------------------------------


def test_too_small_images_fail_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    write_png(tmp_path / "a.png", rng.random((10, 12, 3)))
    write_png(tmp_path / "b.png", rng.random((10, 12, 3)))
    result = CliRunner().invoke(main, [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-p", "align"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "align: images of 10 px on their shorter side are too small" in result.output


def test_featureless_image_fails_or_falls_back(scene):
    flat = np.full_like(scene["a"], 0.5)
    with pytest.raises(AlignmentError, match="^align: image B is featureless"):
        Finder(preprocessor="align", metric="mse", strategy="difference", device="cpu").run(scene["a"], flat)
    fallback = Finder(preprocessor="align:on_failure=identity", metric="mse", strategy="difference",
                      device="cpu").run(scene["a"], flat)
    plain = Finder(metric="mse", strategy="difference", device="cpu").run(scene["a"], flat)
    info = fallback.info["align"]
    assert info["status"] == "failed" and "featureless" in info["reason"] and info["model"] == "identity"
    np.testing.assert_allclose(fallback.map, plain.map, atol=1e-6)
    assert fallback.valid is None and fallback.score == pytest.approx(plain.score)


def test_max_shift_refuses_a_larger_estimate(scene):
    with pytest.raises(AlignmentError, match=r"moves pixels by up to \d+\.\d px, more than max_shift=0.5"):
        Finder(preprocessor="align:model=similarity,max_shift=0.5", metric="mse", strategy="difference",
               device="cpu").run(scene["a"], scene["b"])


def test_unrelated_images_are_refused(scene):
    from skimage import data

    other = np.repeat(data.camera()[::2, ::2, None], 3, axis=2).astype(np.float32) / 255.0
    finder = Finder(preprocessor="align", metric="mse", strategy="difference", device="cpu")
    with pytest.raises(AlignmentError, match=r"^align: the images do not match after a \w+ alignment \(correlation"):
        finder.run(scene["a"], other)
    noise = ndimage.gaussian_filter(np.random.default_rng(3).random((SIZE, SIZE)), 2).astype(np.float32)
    with pytest.raises(AlignmentError, match=r"^align: the affine fit did not converge \(from phase correlation: "
                                             r"The algorithm stopped before its convergence"):
        finder.run(scene["a"], noise)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "rigid"}, "is not one of"),
        ({"interpolation": "nearest"}, "is not one of"),
        ({"max_size": 10}, "max_size must be 0"),
        ({"iterations": 0}, "iterations must be a positive integer"),
        ({"max_shift": -1}, "max_shift must be a positive number"),
    ],
)
def test_bad_parameters_name_the_problem(params, message):
    with pytest.raises(ParameterError, match=message):
        Finder(preprocessor=("align", params), metric="mse", strategy="difference", device="cpu")


# -- the warp ----------------------------------------------------------------------------------------


def test_identity_warp_returns_the_image():
    image = torch.rand(2, 3, 9, 11)
    for mode in ("bilinear", "bicubic"):
        out, valid = warp(image, torch.eye(3), 9, 11, mode)
        torch.testing.assert_close(out, image, atol=1e-5, rtol=0)
        assert valid.all() and valid.shape == (2, 1, 9, 11)


def test_warp_samples_where_the_matrix_points():
    ramp = torch.arange(16.0).repeat(8, 1)[None, None] / 16.0  # value = x / 16
    matrix = torch.tensor([[1.0, 0.0, 2.25], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out, valid = warp(ramp, matrix, 8, 16, "bilinear")
    expected = (torch.arange(16.0) + 2.25) / 16.0
    torch.testing.assert_close(out[0, 0, 3, :13], expected[:13])
    assert valid[0, 0, 0, :13].all() and not valid[0, 0, 0, 13:].any()  # x + 2.25 <= 15


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_warp_is_differentiable_in_the_image(mode):
    image = (torch.rand(1, 1, 7, 8, dtype=torch.float64) * 0.6 + 0.2).requires_grad_(True)
    matrix = torch.tensor([[1.01, 0.02, 0.3], [-0.01, 0.99, -0.2], [0.0, 0.0, 1.0]])
    assert torch.autograd.gradcheck(lambda x: warp(x, matrix, 7, 8, mode)[0], (image,), fast_mode=True)


def test_each_sample_of_a_batch_gets_its_own_transform(source):
    a = render(source, np.eye(3))
    shifts = [(1.5, 0.0), (-0.75, 2.25)]
    batch_a = torch.from_numpy(np.stack([a, a])).permute(0, 3, 1, 2)
    batch_b = torch.from_numpy(np.stack([render(source, similarity(1.0, 0.0, s)) for s in shifts])).permute(0, 3, 1, 2)
    paired = Align(model="translation").pair(batch_a, batch_b)
    assert len(paired.info) == 2
    for info, shift in zip(paired.info, shifts):
        assert info["model"] == "translation"
        assert info["shift"] == pytest.approx(list(shift), abs=0.05)
    assert paired.b.shape == batch_a.shape and paired.valid.shape == (2, 1, SIZE, SIZE)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_like_on_cpu(scene):
    a = torch.from_numpy(scene["a"]).permute(2, 0, 1)[None]
    b = torch.from_numpy(scene["b"]).permute(2, 0, 1)[None]
    on_cpu = Align().pair(a, b)
    on_gpu = Align().pair(a.cuda(), b.cuda())
    assert on_gpu.b.is_cuda and on_gpu.valid.is_cuda
    assert on_gpu.info[0]["matrix"] == pytest.approx(on_cpu.info[0]["matrix"], abs=1e-6)
    torch.testing.assert_close(on_gpu.b.cpu(), on_cpu.b, atol=1e-4, rtol=0)

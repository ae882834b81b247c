"""The ``wavelet`` preprocessor and the torch wavelet transform behind it (reference: PyWavelets)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import torch

from dfcore.errors import ParameterError, ShapeError
from dfcore.testing import fresh_registry
from dfplugins_extra.preprocessors.wavelet import (
    MODES,
    Wavelet,
    dwt2,
    idwt2,
    max_level,
    parse_bands,
    wavedec2,
    waverec2,
)

WAVELETS = ("haar", "db2", "sym4", "bior2.2")
SIZES = ((16, 16), (17, 23), (31, 20))


def _pywt(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pywt warns about boundary effects at deep levels
        return call(*args, **kwargs)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("level", (1, 2, 3))
def test_wavedec2_matches_pywt(wavelet, size, level):
    x = torch.rand(2, 3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(level))
    ours = wavedec2(x, wavelet, level)
    ref = _pywt(pywt.wavedec2, x.numpy(), wavelet, mode="symmetric", level=level, axes=(-2, -1))
    assert len(ours) == len(ref) == level + 1
    np.testing.assert_allclose(ours[0].numpy(), ref[0], atol=1e-10)
    for got, want in zip(ours[1:], ref[1:]):
        for band, ref_band in zip(got, want):  # cH, cV, cD in pywt's order
            np.testing.assert_allclose(band.numpy(), ref_band, atol=1e-10)
    rec = waverec2(ours, wavelet)
    ref_rec = _pywt(pywt.waverec2, ref, wavelet, mode="symmetric", axes=(-2, -1))
    assert rec.shape == ref_rec.shape  # odd sizes come back one larger, as in pywt
    np.testing.assert_allclose(rec.numpy(), ref_rec, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wavelet", ("haar", "db2", "bior2.2"))
def test_every_boundary_mode_matches_pywt(mode, wavelet):
    x = torch.rand(1, 1, 13, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    approx, details = dwt2(x, wavelet, mode)
    ref_approx, ref_details = pywt.dwt2(x.numpy(), wavelet, mode=mode, axes=(-2, -1))
    np.testing.assert_allclose(approx.numpy(), ref_approx, atol=1e-10)
    for band, ref_band in zip(details, ref_details):
        np.testing.assert_allclose(band.numpy(), ref_band, atol=1e-10)
    rec = idwt2(approx, details, wavelet, mode)
    np.testing.assert_allclose(rec.numpy(), pywt.idwt2((ref_approx, ref_details), wavelet, mode=mode, axes=(-2, -1)),
                               atol=1e-10)
    np.testing.assert_allclose(rec[..., :13, :10].numpy(), x.numpy(), atol=1e-10)


def test_horizontal_detail_sees_horizontal_edges():
    # a horizontal edge (rows change) shows in cH, not in cV: the naming follows pywt
    x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    x[..., 7:, :] = 1.0
    _, (ch, cv, cd) = dwt2(x, "db2")
    assert ch.abs().max() > 0.1
    assert cv.abs().max() < 1e-12 and cd.abs().max() < 1e-12


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("size", ((64, 64), (65, 47)))
def test_all_bands_reconstruct_the_input_exactly(wavelet, size):
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    stage = Wavelet(wavelet, level=2, bands="all")
    out = stage(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_detail_and_approx_add_up_to_the_input():
    x = torch.rand(1, 3, 40, 52, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    detail = Wavelet("sym4", level=2, bands="detail", offset=0.0)(x)
    approx = Wavelet("sym4", level=2, bands="approx")(x)
    assert detail.shape == approx.shape == x.shape
    torch.testing.assert_close(detail + approx, x)
    # the approximation alone is smooth: it carries less energy at the finest scale
    assert (approx.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean())


def test_named_subbands_partition_the_image():
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    names = ["a", "h1", "v1", "d1", "detail2"]
    parts = [Wavelet("db2", level=2, bands=name, offset=0.0)(x) for name in names]
    torch.testing.assert_close(sum(parts), x)
    torch.testing.assert_close(Wavelet("db2", 2, "h1+v1", offset=0.0)(x), parts[1] + parts[2])


def test_offset_defaults_to_mid_grey_without_the_approximation():
    x = torch.full((1, 1, 16, 16), 0.3)
    assert Wavelet("haar", 1, "detail").offset == 0.5
    torch.testing.assert_close(Wavelet("haar", 1, "detail")(x), torch.full_like(x, 0.5))
    assert Wavelet("haar", 1, "all").offset == 0.0
    assert Wavelet("haar", 1, "detail", offset=0.25).offset == 0.25


def test_gradients_flow_through_the_transform():
    x = torch.rand(1, 2, 12, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(4), requires_grad=True)
    stage = Wavelet("db2", level=1, bands="h1+d1", offset=0.0)
    assert torch.autograd.gradcheck(stage, (x,), fast_mode=True)
    periodized = Wavelet("sym4", level=1, bands="detail", mode="periodization", offset=0.0)
    assert torch.autograd.gradcheck(periodized, (torch.rand(1, 1, 15, 14, dtype=torch.float64, requires_grad=True),),
                                    fast_mode=True)


def test_keeps_dtype_and_batch_independence():
    x = torch.rand(3, 3, 24, 20, generator=torch.Generator().manual_seed(5))
    stage = Wavelet("bior2.2", level=2)
    out = stage(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[1:2], stage(x[1:2]))


def test_parse_bands():
    assert parse_bands("detail", 2) == {"h1", "v1", "d1", "h2", "v2", "d2"}
    assert parse_bands("approx", 3) == {"a"}
    assert parse_bands("all", 1) == {"a", "h1", "v1", "d1"}
    assert parse_bands("detail2+a", 2) == {"a", "h2", "v2", "d2"}
    assert parse_bands("[h1,v2]", 2) == {"h1", "v2"}
    assert parse_bands(("D1", "h1"), 1) == {"d1", "h1"}


@pytest.mark.parametrize("bands", ["h3", "x1", "detail0", "", "a2b"])
def test_bad_bands_are_rejected(bands):
    with pytest.raises(ValueError, match="band|selects no subband"):
        parse_bands(bands, 2)


def test_max_level_matches_pywt():
    for n in (1, 6, 7, 8, 13, 14, 64, 100, 513):
        for length in (2, 4, 6, 8):
            assert max_level(n, length) == pywt.dwt_max_level(n, length), (n, length)


def test_too_small_image_is_a_one_line_error():
    with pytest.raises(ShapeError, match=r"sym4 at level 2 needs images of at least 28 px on each side; got 20x40"):
        Wavelet("sym4", level=2)(torch.rand(1, 1, 20, 40))


def test_registry_builds_the_stage_and_reports_bad_parameters():
    registry = fresh_registry()
    stage = registry.find("preprocessor", "wavelet")
    built = stage.build({"wavelet": "db2", "level": "2", "bands": "h1+v1"})
    assert built.keep == {"h1", "v1"}
    assert built.conventions()["bands"] == ["h1", "v1"]
    with pytest.raises(ParameterError, match="unknown discrete wavelet 'db99'"):
        stage.build({"wavelet": "db99"})
    with pytest.raises(ParameterError, match="did you mean"):
        stage.build({"wavelet": "sym44"})
    with pytest.raises(ParameterError, match="level must be an integer >= 1"):
        stage.build({"level": 0})

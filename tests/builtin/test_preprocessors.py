"""Built-in preprocessors: FFT filters (complementary, isotropic, batch-safe) and normalize."""

from __future__ import annotations

import math

import pytest
import torch

from dfcore.errors import ParameterError
from dfplugins_builtin.preprocessors.basic import Identity, Normalize
from dfplugins_builtin.preprocessors.fft import HighPass, LowPass, lowpass_mask


@pytest.fixture
def image():
    return torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("profile", ["gaussian", "ideal"])
@pytest.mark.parametrize("pad", ["reflect", "none"])
def test_lowpass_and_highpass_without_offset_add_up_to_the_input(image, profile, pad):
    low = LowPass(cutoff=0.3, profile=profile, pad=pad)(image)
    high = HighPass(cutoff=0.3, profile=profile, pad=pad, offset=0.0)(image)
    assert low.shape == high.shape == image.shape
    assert torch.allclose(low + high, image, atol=1e-5)
    assert not torch.allclose(low, image, atol=1e-2), "the filter does something"


def _sinusoid(height, width, cycles_per_pixel, axis):
    coords = torch.arange(width if axis == "x" else height, dtype=torch.float64)
    wave = torch.sin(2 * math.pi * cycles_per_pixel * coords)
    return (0.5 + 0.25 * (wave[None, :].expand(height, width) if axis == "x" else wave[:, None].expand(height, width))
            )[None, None]


def _amplitude(x):
    return (x - x.mean()).pow(2).mean().sqrt().item()


@pytest.mark.parametrize("cls", [LowPass, HighPass])
@pytest.mark.parametrize("profile", ["gaussian", "ideal"])
def test_fft_filters_are_isotropic_on_a_non_square_image(cls, profile):
    # 1/8 cycle per pixel along x and along y of a 64x96 image: both periodic, same frequency
    height, width, frequency = 64, 96, 1 / 8
    horizontal = _sinusoid(height, width, frequency, "x")
    vertical = _sinusoid(height, width, frequency, "y")
    cutoff = 0.3  # a gaussian mask passes about 0.3 of the amplitude at 0.25 of Nyquist
    kwargs = {"offset": 0.0} if cls is HighPass else {}
    stage = cls(cutoff=cutoff, profile=profile, pad="none", **kwargs)
    gain_x = _amplitude(stage(horizontal)) / _amplitude(horizontal)
    gain_y = _amplitude(stage(vertical)) / _amplitude(vertical)
    assert gain_x == pytest.approx(gain_y, abs=1e-6)
    assert 0.0 <= gain_x <= 1.0 + 1e-6


def test_gaussian_mask_is_one_half_at_the_cutoff():
    mask = lowpass_mask(64, 96, cutoff=0.5)  # rfft grid: 64 x 49
    # 0.5 of Nyquist = 0.25 cycles/pixel: row 16 of 64 along y, column 24 of 96 along x
    assert mask[0, 0].item() == 1.0
    assert mask[16, 0].item() == pytest.approx(0.5, abs=1e-6)
    assert mask[0, 24].item() == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("stage", [LowPass(0.2), HighPass(0.2), LowPass(0.2, pad="none"), Normalize(),
                                   Normalize(per_channel=True)],
                         ids=["lowpass", "highpass", "lowpass-periodic", "normalize", "normalize-per-channel"])
def test_a_batch_of_two_equals_two_single_calls(stage):
    generator = torch.Generator().manual_seed(1)
    batch = torch.rand(2, 3, 30, 44, generator=generator)
    batch[1] *= 0.5
    together = stage(batch)
    apart = torch.cat([stage(batch[:1]), stage(batch[1:])])
    assert torch.allclose(together, apart, atol=1e-6)


@pytest.mark.parametrize("stage", [LowPass(0.2), HighPass(0.2)], ids=["lowpass", "highpass"])
def test_fft_filters_keep_the_grid_dtype_and_gradient(stage):
    x = torch.rand(1, 1, 12, 9, dtype=torch.float64, requires_grad=True)
    y = stage(x)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert torch.autograd.gradcheck(stage, (x,), fast_mode=True)


def test_highpass_offset_moves_a_flat_image_to_mid_grey():
    flat = torch.full((1, 1, 16, 16), 0.8)
    assert torch.allclose(HighPass()(flat), torch.full_like(flat, 0.5), atol=1e-5)
    assert torch.allclose(LowPass()(flat), flat, atol=1e-5)


@pytest.mark.parametrize(("params", "message"), [
    ({"cutoff": 0.0}, r"cutoff must lie in \(0, 1\]"),
    ({"cutoff": 1.5}, r"cutoff must lie in \(0, 1\]"),
    ({"profile": "box"}, "'box' is not one of: gaussian, ideal"),
    ({"pad": "zero"}, "'pad': 'zero' is not one of: reflect, none"),
])
def test_fft_parameter_errors(registry, params, message):
    with pytest.raises(ParameterError, match=message):
        registry.find("preprocessor", "lowpass").build(params)


def test_tiny_images_are_filtered_without_error():
    x = torch.rand(1, 1, 2, 3)
    assert LowPass()(x).shape == x.shape


def test_normalize_stretches_each_image_to_the_unit_range():
    x = torch.stack([torch.linspace(0.2, 0.6, 48).reshape(3, 4, 4), torch.linspace(0.1, 0.3, 48).reshape(3, 4, 4)])
    y = Normalize()(x)
    for sample in y:
        assert sample.min().item() == pytest.approx(0.0) and sample.max().item() == pytest.approx(1.0)
    assert torch.allclose(Normalize()(x * 0.5 + 0.1), y, atol=1e-6), "gain and offset do not matter"
    per_channel = Normalize(per_channel=True)(x)
    assert torch.allclose(per_channel.amin((2, 3)), torch.zeros(2, 3), atol=1e-6)
    assert torch.allclose(per_channel.amax((2, 3)), torch.ones(2, 3), atol=1e-6)


def test_normalize_maps_a_constant_image_to_zero():
    assert torch.equal(Normalize()(torch.full((1, 1, 3, 3), 0.7)), torch.zeros(1, 1, 3, 3))


def test_identity():
    x = torch.rand(1, 3, 4, 4)
    assert Identity()(x) is x

"""Built-in metrics: agreement with independent references, properties, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_msssim
import torch
from scipy.ndimage import correlate1d
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dfcore.errors import ShapeError
from dfcore.testing import planted_pair
from dfplugins_builtin.metrics.lpips import LPIPS
from dfplugins_builtin.metrics.pixel import MSE, PSNR
from dfplugins_builtin.metrics.ssim import MSSSIM, SSIM

MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])  # Wang, Simoncelli, Bovik 2003, Table 1


def channels_last(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).double().numpy()


@pytest.fixture(scope="module")
def pair64():
    a, b, _ = planted_pair(48, 64, boxes=((10, 12, 30, 40),), seed=3)
    return a.double(), b.double()


# -- independent references -------------------------------------------------------------------


def test_psnr_matches_scikit_image(pair64):
    a, b = pair64
    expected = peak_signal_noise_ratio(channels_last(a), channels_last(b), data_range=1.0)
    assert PSNR()(a, b).item() == pytest.approx(expected, abs=1e-10)
    expected = peak_signal_noise_ratio(channels_last(a) * 2, channels_last(b) * 2, data_range=2.0)
    assert PSNR(data_range=2.0)(a * 2, b * 2).item() == pytest.approx(expected, abs=1e-10)


def test_mse_by_hand():
    a = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    b = torch.tensor([[[[0.5, 0.5], [0.0, 0.25]]]])
    assert MSE()(a, b).item() == pytest.approx((0.25 + 1.0) / 4)


def test_ssim_matches_scikit_image(pair64):
    # scikit-image filters with reflection and then crops (win_size - 1) // 2 pixels from each
    # border, which leaves exactly the windows that lie inside the image: our 'valid' filtering
    a, b = pair64
    expected = structural_similarity(
        channels_last(a), channels_last(b), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, channel_axis=2,
    )
    assert SSIM()(a, b).item() == pytest.approx(expected, abs=1e-12)
    grey = structural_similarity(channels_last(a)[..., 0], channels_last(b)[..., 0], gaussian_weights=True,
                                 sigma=1.5, use_sample_covariance=False, data_range=1.0)
    assert SSIM()(a[:, :1], b[:, :1]).item() == pytest.approx(grey, abs=1e-12)


def test_ssim_matches_pytorch_msssim_with_data_range_one(pair64):
    a, b = (x.float() for x in pair64)
    ours = SSIM()(a, b)
    theirs = pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False)
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)
    # pytorch_msssim's default data_range of 255 would nearly hide the change
    default = pytorch_msssim.ssim(a, b, size_average=False).item()
    assert 1 - default < (1 - ours.item()) / 10


def _gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_and_cs(x: np.ndarray, y: np.ndarray, c1: float = 0.01**2, c2: float = 0.03**2) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of two 2-D images, Gaussian windows inside the image."""
    window, r = _gaussian(), 5

    def blur(img):
        out = correlate1d(correlate1d(img, window, axis=0, mode="constant"), window, axis=1, mode="constant")
        return out[r:-r, r:-r]

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    cs = (2 * cov + c2) / (vx + vy + c2)
    luminance = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    return float((luminance * cs).mean()), float(cs.mean())


def ms_ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """MS-SSIM of HxWxC images: contrast-structure at scales 1-4, SSIM at scale 5, 2x2 average pooling."""
    values = []
    for c in range(x.shape[2]):
        xc, yc, terms = x[..., c], y[..., c], []
        for level in range(5):
            ssim_value, cs = _ssim_and_cs(xc, yc)
            if level < 4:
                terms.append(max(cs, 0.0))
                h, w = xc.shape
                xc = xc.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
                yc = yc.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        terms.append(max(ssim_value, 0.0))
        values.append(np.prod(np.array(terms) ** MS_SSIM_WEIGHTS))
    return float(np.mean(values))


def test_ms_ssim_matches_an_independent_computation():
    # sides divisible by 16, so every 2x2 pooling is exact (no padding at odd sizes)
    a, b, _ = planted_pair(176, 192, boxes=((40, 50, 90, 120),), seed=1)
    expected = ms_ssim_reference(channels_last(a), channels_last(b))
    assert MSSSIM()(a.double(), b.double()).item() == pytest.approx(expected, abs=1e-10)
    assert MSSSIM()(a, b).item() == pytest.approx(expected, abs=1e-5)
    assert 0.3 < expected < 0.99


@pytest.mark.parametrize(("size", "win_size"), [((160, 200), 11), ((200, 96), 7), ((32, 40), 3)])
def test_ms_ssim_on_small_images_is_a_clear_error(size, win_size):
    x = torch.rand(1, 3, *size)
    minimum = (win_size - 1) * 16 + 1
    with pytest.raises(ShapeError) as info:
        MSSSIM(win_size=win_size)(x, x)
    message = str(info.value)
    assert message.startswith(f"ms-ssim needs images of at least {minimum}x{minimum} px with win_size={win_size}")
    assert f"got {size[1]}x{size[0]}" in message and "use ssim" in message


def test_ms_ssim_works_from_its_minimum_size():
    x = torch.rand(1, 1, 161, 161, generator=torch.Generator().manual_seed(0))
    assert MSSSIM()(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert MSSSIM(win_size=7)(x[..., :97, :97], x[..., :97, :97]).item() == pytest.approx(1.0, abs=1e-6)


def test_ssim_smaller_than_its_window_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"ssim needs images of at least 11x11 px \(win_size\), got 12x8"):
        SSIM()(torch.rand(1, 1, 8, 12), torch.rand(1, 1, 8, 12))


@pytest.mark.parametrize(("params", "message"), [
    ({"data_range": 0.0}, "data_range must be positive"),
    ({"win_size": 8}, "win_size must be an odd number >= 3, got 8"),
    ({"k1": -0.01}, "must be positive"),
])
def test_ssim_parameter_checks(params, message):
    with pytest.raises(ValueError, match=message):
        SSIM(**params)


def test_ssim_valid_mask_counts_only_windows_inside_it():
    a, b, _ = planted_pair(40, 48, boxes=((5, 30, 35, 45),))
    valid = torch.zeros(1, 1, 40, 48, dtype=torch.bool)
    valid[..., :24] = True  # the change is at x >= 30, outside every valid window
    assert SSIM()(a, b, valid=valid).item() == pytest.approx(1.0, abs=1e-6)
    assert SSIM()(a, b).item() < 0.99
    expected = MSE()(a[..., :24], b[..., :24])
    assert torch.allclose(MSE()(a, b, valid=valid), expected)


# -- properties ---------------------------------------------------------------------------------


BEST = {"mse": 0.0, "psnr": float("inf"), "ssim": 1.0, "ms-ssim": 1.0, "lpips": 0.0}


def make_metric(name: str, weights=None):
    if name == "lpips":
        return LPIPS(weights=str(weights))
    return {"mse": MSE, "psnr": PSNR, "ssim": SSIM, "ms-ssim": MSSSIM}[name]()


def _batch(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    step = size // (2 * n)
    pairs = [planted_pair(size, size, boxes=((step * i, 8, step * i + size // 3, 8 + size // 3),), seed=i)
             for i in range(n)]
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


@pytest.fixture(scope="module")
def batches():
    return {"small": _batch(3, 48), "large": _batch(2, 168)}  # ms-ssim needs 161 px or more


@pytest.fixture
def batch(batches, request):
    return batches["large" if request.node.callspec.params.get("name") == "ms-ssim" else "small"]


@pytest.mark.parametrize("name", ["mse", "psnr", "ssim", "ms-ssim", "lpips"])
def test_metric_properties(name, batch, alexnet_weights):
    metric, best = make_metric(name, alexnet_weights), BEST[name]
    a, b = batch
    n = a.shape[0]
    values = metric(a, b)
    assert values.shape == (n,) and values.dtype == torch.float32
    assert torch.isfinite(values).all()
    same = metric(a, a)
    assert same.tolist() == pytest.approx([best] * n, abs=1e-5)
    worse = (values < same) if metric.higher_is_better else (values > same)
    assert worse.all(), "a changed pair scores worse than identical images"
    assert torch.allclose(metric(b, a), values, rtol=1e-5, atol=1e-6), "symmetric"
    singles = torch.cat([metric(a[i:i + 1], b[i:i + 1]) for i in range(n)])
    assert torch.allclose(singles, values, rtol=1e-5, atol=1e-6), "a batch of N equals N single calls"


@pytest.mark.parametrize("name", ["mse", "psnr", "ssim", "ms-ssim"])
def test_metric_keeps_float64(name, batch):
    metric = make_metric(name)
    a, b = batch
    assert metric(a[:1].double(), b[:1].double()).dtype == torch.float64


@pytest.mark.parametrize("name", ["mse", "psnr", "ssim", "ms-ssim", "lpips"])
def test_gradients_are_finite(name, batch, alexnet_weights):
    metric = make_metric(name, alexnet_weights)
    a, b = batch
    for other in (b, a):  # a changed pair, and identical images (PSNR is infinite there)
        moving = other[:1].clone().requires_grad_(True)
        metric(a[:1], moving).sum().backward()
        assert torch.isfinite(moving.grad).all()
        assert moving.grad.abs().sum() > 0 or other is a


@pytest.mark.parametrize(("metric", "size"), [(MSE(), 8), (PSNR(), 8), (SSIM(), 12), (SSIM(win_size=3), 8)],
                         ids=["mse", "psnr", "ssim", "ssim-win3"])
def test_gradcheck(metric, size):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2, 2, size, size, generator=generator, dtype=torch.float64).requires_grad_(True)
    y = torch.rand(2, 2, size, size, generator=generator, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: metric(t, y), (x,), fast_mode=True)


def test_psnr_gradient_is_zero_not_nan_for_identical_images():
    x = torch.rand(1, 3, 8, 8).requires_grad_(True)
    PSNR()(x, x.detach()).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_metric_records_its_conventions(alexnet_weights):
    ssim = SSIM().conventions()
    assert ssim["data_range"] == 1.0 and ssim["C1"] == pytest.approx(1e-4) and ssim["C2"] == pytest.approx(9e-4)
    ms = MSSSIM().conventions()
    assert ms["weights"] == MS_SSIM_WEIGHTS.tolist() and ms["levels"] == 5
    assert ms["implementation"].startswith("pytorch_msssim")
    assert PSNR(data_range=255.0).conventions() == {"data_range": 255.0}

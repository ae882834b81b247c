"""Time and accuracy of the ``align`` preprocessor against image size and ``max_size``.

Pairs are rendered from one source by exact cubic interpolation (scipy), B through a known
similarity (1% zoom, 0.5 degree, sub-pixel shift) with five local edits, so the error of the
estimate is measured in pixels of the full-size image: the largest distance between where the
estimated and the true transform send A's pixels.

    python benchmarks/align.py                      # sizes 256 512 1024 2048, max_size 512 1024 0
    python benchmarks/align.py --sizes 512 --max-size 512 --repeat 5 --model affine

The source is scikit-image's astronaut (512 px), upsampled for larger sizes, plus a faint
fine-grained noise texture so that every size has detail at its own scale. Timings are the best
of ``--repeat`` runs of ``Align.pair`` (estimation on the host, warp on ``--device``).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from scipy import ndimage

from dfplugins_extra.preprocessors.align import Align, apply_matrix


def texture(size: int, seed: int = 0) -> np.ndarray:
    from skimage import data

    base = data.astronaut().astype(np.float64) / 255.0
    zoom = size / base.shape[0]
    base = np.stack([ndimage.zoom(base[..., c], zoom, order=3) for c in range(3)], axis=-1)[:size, :size]
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((size, size)), 1.0)
    return np.clip(base + 0.05 * noise[..., None] / noise.std(), 0.0, 1.0)


def similarity(size: int, scale: float = 1.01, degrees: float = 0.5, shift=(0.37, -0.61)) -> np.ndarray:
    t = np.deg2rad(degrees)
    linear = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.full(2, (size - 1) / 2.0)
    out = np.eye(3)
    out[:2, :2], out[:2, 2] = linear, centre - linear @ centre + np.asarray(shift) * size / 256
    return out


def render(source: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    size = source.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = apply_matrix(np.linalg.inv(matrix), xs, ys)
    return np.stack([ndimage.map_coordinates(source[..., c], [v, u], order=3, mode="reflect")
                     for c in range(3)], axis=-1).clip(0, 1).astype(np.float32)


def pair(size: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    source = texture(size)
    edited = source.copy()
    rng = np.random.default_rng(1)
    for _ in range(5):
        h, w = rng.integers(size // 16, size // 10, 2)
        y, x = rng.integers(size // 10, size - size // 10 - h), rng.integers(size // 10, size - size // 10 - w)
        edited[y:y + h, x:x + w] = np.clip(edited[y:y + h, x:x + w] + rng.choice([-0.3, 0.3]), 0, 1)
    known = similarity(size)
    return as_tensor(source.astype(np.float32)), as_tensor(render(edited, known)), known


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()


def max_error(estimated: np.ndarray, known: np.ndarray, size: int) -> float:
    ys, xs = np.mgrid[0:size:8, 0:size:8].astype(np.float64)
    u1, v1 = apply_matrix(estimated, xs, ys)
    u2, v2 = apply_matrix(known, xs, ys)
    return float(np.hypot(u1 - u2, v1 - v2).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--max-size", type=int, nargs="+", default=[512, 1024, 0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}, model {args.model}")
    print(f"{'size':>6} {'max_size':>8} {'chosen':>11} {'error_px':>9} {'seconds':>8}")
    for size in args.sizes:
        a, b, known = pair(size)
        a, b = a.to(args.device), b.to(args.device)
        for max_size in args.max_size:
            if max_size and max_size > size and max_size != args.max_size[0]:
                continue
            stage = Align(model=args.model, max_size=max_size)
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = stage.pair(a, b)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            info = out.info[0]
            error = max_error(np.asarray(info["matrix"]), known, size)
            print(f"{size:>6} {max_size or 'full':>8} {info['model']:>11} {error:>9.4f} {best:>8.2f}")


if __name__ == "__main__":
    main()

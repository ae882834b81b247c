"""The separable Gaussian filter: shifted views summed against a depthwise ``conv2d``.

``python benchmarks/filters.py [--device cpu|cuda] [--repeat 5]``

Why :func:`dfcore.ops.filters.separable_filter` sums one shifted view per tap instead of
calling ``conv2d`` with ``groups=channels``: for each image shape, dtype, sigma and stride it
prints the median time of both (a sync included on a GPU) and the largest difference of their
results. Set ``OMP_NUM_THREADS`` on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dfcore.ops.filters import gaussian_kernel, separable_filter

SHAPES = ((1, 3, 480, 640), (1, 1, 1024, 1024), (1, 3, 1024, 1024))


def depthwise_conv(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    channels, size = x.shape[1], kernel.numel()
    x = F.pad(x, (size // 2,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), stride=(stride, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), stride=(1, stride), groups=channels)


def timed(fn, device: torch.device, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"{'shape':>18s} {'dtype':>8s} {'sigma':>5s} {'stride':>6s} {'conv2d ms':>10s} {'views ms':>9s} {'speed-up':>8s} "
          f"{'max diff':>9s}")
    for shape in SHAPES:
        for dtype in (torch.float32, torch.float64):
            x = torch.rand(shape, dtype=dtype, device=device)
            for sigma in (1.0, 2.0, 4.0):
                kernel = gaussian_kernel(sigma, device, dtype)
                for stride in (1, 2):
                    conv = timed(lambda x=x, k=kernel, s=stride: depthwise_conv(x, k, s), device, args.repeat)
                    views = timed(lambda x=x, k=kernel, s=stride: separable_filter(x, k, stride=s), device, args.repeat)
                    diff = (separable_filter(x, kernel, stride=stride) - depthwise_conv(x, kernel, stride)).abs().max()
                    print(f"{'x'.join(map(str, shape)):>18s} {str(dtype)[6:]:>8s} {sigma:5.1f} {stride:6d} "
                          f"{conv * 1e3:10.1f} {views * 1e3:9.1f} {conv / views:7.1f}x {float(diff):9.1e}")


if __name__ == "__main__":
    main()

"""Time the extra stages on one pair: ``python benchmarks/extra_stages.py [--device cpu] [--size 512]``.

Each row is the median of ``--repeat`` runs of ``Finder.compute`` (tensors already on the
device, stages built once, a device sync included), so it measures the stages, not the start
of the process or image decoding. Rows share one process and one machine: compare them with
each other, and rerun the baseline row (``ssim + gradient``) whenever the machine changes. On a
shared CPU set ``OMP_NUM_THREADS`` (torch's threads spin under contention).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dfcore import Finder
from dfcore.testing import planted_pair

PIPELINES = [
    ("ssim + gradient (baseline)", {"metric": "ssim", "strategy": "gradient"}),
    ("wavelet db2/2 + mse + gradient", {"preprocessor": "wavelet:wavelet=db2,level=2", "metric": "mse",
                                         "strategy": "gradient"}),
    ("filterbank + gradient", {"metric": "filterbank", "strategy": "gradient"}),
    ("filterbank + gradcam (both)", {"metric": "filterbank", "strategy": "gradcam"}),
    ("filterbank + gradcam (reference a)", {"metric": "filterbank", "strategy": "gradcam:reference=a"}),
    ("ssim + gradient + clip + otsu", {"metric": "ssim", "strategy": "gradient", "postprocessor": ["clip", "otsu"]}),
    ("dice + difference", {"metric": "dice", "strategy": "difference"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    a, b, _ = planted_pair(args.size, args.size, boxes=((args.size // 3, args.size // 3, args.size // 2,
                                                          args.size // 2),))
    a, b = a.to(device), b.to(device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"pair 1x3x{args.size}x{args.size}")
    for label, stages in PIPELINES:
        finder = Finder(**stages, device=device)
        finder.compute(a, b)  # warm-up: builds networks, caches filters
        times = []
        for _ in range(args.repeat):
            sync()
            start = time.perf_counter()
            finder.compute(a, b)
            sync()
            times.append(time.perf_counter() - start)
        print(f"{label:38} {statistics.median(times) * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()

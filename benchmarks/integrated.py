"""The ``integrated`` strategy: quadrature error per rule, and time and memory per path chunk.

    python benchmarks/integrated.py                   # both parts
    python benchmarks/integrated.py --part rules      # completeness error: Gauss-Legendre vs Riemann vs trapezoid
    python benchmarks/integrated.py --part chunks --size 512 --device cuda

**rules**: the relative completeness error ``|sum(map) - gap| / |gap|`` of four quadrature
rules against the number of path points, for SSIM (smooth), MSE (exact with any rule that
integrates a linear function) and LPIPS (ReLU features: piecewise smooth along the path),
on a 128 px noisy pair (a photograph patch with a planted change and sensor noise on both
images). LPIPS uses an AlexNet with seeded random weights, as pretrained weights may not be
downloadable: the smoothness of the integrand, which is what matters here, is the same kind.

**chunks**: wall time and peak memory of one ``integrated`` map (SSIM, 32 steps) for several
``batch_size`` values on a ``--size`` px RGB pair. Memory is the peak resident set size of a
fresh subprocess on the CPU, or ``torch.cuda.max_memory_allocated`` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import numpy as np
import torch

from dfcore.contracts import Problem
from dfcore.pipeline import BoundMetric
from dfplugins_extra.strategies.integrated import gauss_legendre, integrated_gradients


def left_riemann(steps: int):
    return tuple(k / steps for k in range(steps)), (1.0 / steps,) * steps


def midpoint(steps: int):
    return tuple((k + 0.5) / steps for k in range(steps)), (1.0 / steps,) * steps


def trapezoid(steps: int):
    if steps < 2:
        return (0.0, 1.0), (0.5, 0.5)
    nodes = tuple(k / (steps - 1) for k in range(steps))
    weights = tuple((0.5 if k in (0, steps - 1) else 1.0) / (steps - 1) for k in range(steps))
    return nodes, weights


RULES = {"gauss-legendre": gauss_legendre, "midpoint": midpoint, "trapezoid": trapezoid, "left riemann": left_riemann}


def noisy_pair(size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    from skimage import data
    from skimage.transform import resize

    photo = resize(data.astronaut()[40:296, 150:406] / 255.0, (size, size), anti_aliasing=True)
    changed = photo.copy()
    box = slice(size * 9 // 16, size * 12 // 16), slice(size // 4, size // 2)
    changed[box] = np.clip(changed[box] + 0.2, 0, 1)
    rng = np.random.default_rng(seed)
    a = np.clip(photo + rng.normal(0, 0.03, photo.shape), 0, 1)
    b = np.clip(changed + rng.normal(0, 0.03, photo.shape), 0, 1)
    as_tensor = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float()
    return as_tensor(a), as_tensor(b)


def metrics(weights_dir: str) -> dict[str, tuple[object, bool]]:
    import torchvision

    from dfplugins_builtin.metrics.lpips import LPIPS
    from dfplugins_builtin.metrics.pixel import MSE
    from dfplugins_builtin.metrics.ssim import SSIM

    with torch.random.fork_rng():
        torch.manual_seed(0)
        path = f"{weights_dir}/alexnet-random.pth"
        torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return {"ssim": (SSIM(), True), "mse": (MSE(), False), "lpips (random AlexNet)": (LPIPS(weights=path), False)}


def rules_part(device: torch.device) -> None:
    import tempfile

    a, b = (x.to(device) for x in noisy_pair(128))
    steps_list = (2, 4, 8, 16, 32, 64)
    with tempfile.TemporaryDirectory() as folder:
        for name, (metric, higher) in metrics(folder).items():
            if hasattr(metric, "to"):
                metric = metric.to(device)
            bound = BoundMetric(metric, higher, name=name)
            with torch.no_grad():
                gap = float(bound.distance(a, b) - bound.distance(a, a))
            print(f"\n{name}: gap = {gap:.6g}; relative completeness error |sum - gap| / |gap|")
            print(f"{'steps':>6}" + "".join(f"{rule:>16}" for rule in RULES))
            for steps in steps_list:
                row = []
                for rule in RULES.values():
                    total = float(integrated_gradients(Problem(a, b, bound), steps, rule=rule).double().sum())
                    row.append(abs(total - gap) / abs(gap))
                print(f"{steps:>6}" + "".join(f"{e:>16.2e}" for e in row))


def one_chunk_run(size: int, batch_size: int | None, device: str) -> dict[str, float]:
    """Run in a fresh process: time and peak memory of one map."""
    import resource

    from dfcore import Finder

    a, b = noisy_pair(size)
    finder = Finder(metric="ssim", strategy=("integrated", {"steps": 32, "batch_size": batch_size}), device=device)
    finder.run(a[..., :64, :64], b[..., :64, :64])  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    finder.run(a, b)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": time.perf_counter() - start, "peak_mib": peak}


def chunks_part(size: int, device: str) -> None:
    print(f"\nSSIM, integrated, 32 steps, {size}x{size} RGB on {device}: time and peak memory per batch_size")
    print(f"{'batch_size':>12}{'seconds':>10}{'peak MiB':>10}")
    for batch_size in (1, 4, None, 32):
        code = (f"import json, benchmarks.integrated as m; "
                f"print(json.dumps(m.one_chunk_run({size}, {batch_size!r}, {device!r})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        label = "auto" if batch_size is None else str(batch_size)
        print(f"{label:>12}{data['seconds']:>10.2f}{data['peak_mib']:>10.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("rules", "chunks", "all"), default="all")
    parser.add_argument("--size", type=int, default=512, help="image side for the chunk timings")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, device {args.device}")
    if args.part in ("rules", "all"):
        rules_part(torch.device(args.device))
    if args.part in ("chunks", "all"):
        chunks_part(args.size, args.device)


if __name__ == "__main__":
    main()

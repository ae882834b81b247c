"""Connected components of a change mask: label propagation in torch against OpenCV and SciPy.

``python benchmarks/components.py [--device cpu|cuda] [--sizes 512 2048] [--repeat 3]``

Why ``dfcore.ops.regions`` labels on the host. For each mask (discs,
speckle noise, a thin spiral: the worst case for propagation) and size it prints the median
time of label propagation with pointer jumping in torch on the device (:func:`propagate`,
including a sync), of ``cv2.connectedComponents`` (what the stages use) and of
``scipy.ndimage.label`` on the host (including the device -> host copy of the mask), the
number of propagation rounds, and checks that all three find the same partition. Set
``OMP_NUM_THREADS`` on a shared machine: torch's CPU threads spin under contention.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import torch.nn.functional as F

CHECK_EVERY = 4  # propagation rounds between two convergence checks (each check syncs the device)


def _neighbour_max(labels: torch.Tensor) -> torch.Tensor:
    """Largest label in each pixel's 3x3 neighbourhood; NxHxW int64."""
    padded = F.pad(labels, (1, 1, 1, 1))
    rows = torch.maximum(torch.maximum(padded[:, :, :-2], padded[:, :, 1:-1]), padded[:, :, 2:])
    return torch.maximum(torch.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def propagate(mask: torch.Tensor, rounds: list[int] | None = None) -> torch.Tensor:
    """8-connected labels of an NxHxW bool mask on its device: 0 outside, 1 + the component's largest flat index."""
    n, height, width = mask.shape
    size = height * width
    index = torch.arange(1, size + 1, device=mask.device).view(1, height, width)
    labels = torch.where(mask, index, torch.zeros((), dtype=torch.int64, device=mask.device))
    offset = (torch.arange(n, device=mask.device) * size).view(n, 1, 1)
    while True:
        before = labels
        for _ in range(CHECK_EVERY):
            labels = torch.where(mask, _neighbour_max(labels), labels)
            pointer = (labels - 1).clamp_min(0) + offset  # a label names a pixel of the same component
            labels = torch.where(mask, labels.flatten().gather(0, pointer.flatten()).view_as(labels), labels)
            if rounds is not None:
                rounds.append(1)
        if torch.equal(labels, before):
            return labels


def discs(size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for _ in range(20):
        cy, cx = rng.integers(0, size, 2)
        r = rng.integers(size // 64 + 2, size // 16 + 3)
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return mask


def speckle(size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((size, size)) < 0.05


def spiral(size: int, rng: np.random.Generator) -> np.ndarray:
    """A one-pixel-wide square spiral with a one-pixel gap: one component, path length ~ size^2 / 2."""
    mask = np.zeros((size, size), bool)
    top, left, bottom, right = 0, 0, size - 1, size - 1
    while top <= bottom and left <= right:
        mask[top, left:right + 1] = True
        mask[top:bottom + 1, right] = True
        mask[bottom, left:right + 1] = True
        mask[top + 2:bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
        if top <= bottom:
            mask[top - 1, left] = True
    return mask


def timed(fn, sync, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two label images describe the same components (labels may differ)."""
    fg = a > 0
    if not np.array_equal(fg, b > 0):
        return False
    pairs = np.unique(np.stack([a[fg], b[fg]]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def main() -> None:
    import cv2
    import scipy.ndimage

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-spiral-above", type=int, default=1024, metavar="PX",
                        help="skip the spiral for larger sizes (propagation takes minutes there)")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, opencv {cv2.__version__}")
    print(f"{'mask':8} {'size':>5} {'regions':>8} {'rounds':>6} {'torch ms':>9} {'opencv ms':>9} {'scipy ms':>9} same")
    structure = np.ones((3, 3), bool)
    for size in args.sizes:
        for name, make in (("discs", discs), ("speckle", speckle), ("spiral", spiral)):
            if name == "spiral" and size > args.skip_spiral_above:
                continue
            mask = make(size, rng)
            tensor = torch.from_numpy(mask).to(device)[None, None]
            rounds: list[int] = []
            propagate(tensor[:, 0], rounds)
            t_torch, labels = timed(lambda: propagate(tensor[:, 0]), sync, args.repeat)
            t_cv, (count, cv_labels) = timed(
                lambda: cv2.connectedComponents(tensor[0, 0].cpu().numpy().astype(np.uint8), connectivity=8),
                sync, args.repeat)
            t_sp, (sp_labels, _) = timed(
                lambda: scipy.ndimage.label(tensor[0, 0].cpu().numpy(), structure), sync, args.repeat)
            ours = labels[0].cpu().numpy()
            same = same_partition(ours, cv_labels) and same_partition(ours, sp_labels)
            print(f"{name:8} {size:5d} {count - 1:8d} {len(rounds):6d} {t_torch * 1e3:9.1f} {t_cv * 1e3:9.1f} "
                  f"{t_sp * 1e3:9.1f} {same}")


if __name__ == "__main__":
    main()

"""Connected regions of a batch of change masks.

The masks are made and kept on the device; this module copies each mask and its map to the
host and labels them with OpenCV (``cv2.connectedComponentsWithStats``), which is by nature a
host-side step here: label propagation in torch (every pixel takes the largest label around
it, with pointer jumping) needs as many rounds as a component is long, about a thousand for a
thin 512 px spiral, and was 100 to 1000 times slower than OpenCV on the CPU even for round
blobs (``benchmarks/components.py`` measures both). Only the mask of the regions kept comes
back to the device, and only when ``min_area`` or ``top_k`` dropped some.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from dfcore.contracts import Region


def label_regions(mask: np.ndarray, connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Label an HxW bool mask: ``(count, labels, stats, centroids)`` as OpenCV returns them (0 = background)."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    return cv2.connectedComponentsWithStats(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=connectivity,
                                            ltype=cv2.CV_32S)


def find_regions(mask: np.ndarray, values: np.ndarray, connectivity: int = 8, min_area: int = 1,
                 top_k: int = 0) -> tuple[list[Region], np.ndarray | None]:
    """The regions of one HxW bool mask, strongest peak first, and the labels kept.

    Args:
        mask: HxW bool.
        values: HxW float scores; each region reports their maximum (``peak``) and mean.
        connectivity: 8 (diagonal neighbours connect) or 4.
        min_area: smaller regions are dropped.
        top_k: if > 0, only the ``top_k`` regions with the highest peak are kept.
    Returns:
        The regions, and the HxW bool mask of the kept regions, or ``None`` when every region
        was kept (the input mask is then the answer).
    """
    count, labels, stats, centroids = label_regions(mask, connectivity)
    if count <= 1:
        return [], None
    fg = labels > 0
    ids, vals = labels[fg], values[fg].astype(np.float64)
    sums = np.bincount(ids, weights=vals, minlength=count)
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(1, count))
    peaks = np.r_[-np.inf, np.maximum.reduceat(vals[order], starts)]
    areas = stats[:, cv2.CC_STAT_AREA]
    candidates = [k for k in range(1, count) if areas[k] >= min_area]
    candidates.sort(key=lambda k: (-peaks[k], -areas[k], k))
    if top_k > 0:
        candidates = candidates[:top_k]
    regions = []
    for k in candidates:
        x, y, w, h, area = (int(v) for v in stats[k])
        regions.append(Region(bbox=(x, y, x + w, y + h), area=area, peak=float(peaks[k]), mean=float(sums[k] / area),
                              centroid=(float(centroids[k][0]), float(centroids[k][1]))))
    if len(candidates) == count - 1:
        return regions, None
    keep = np.zeros(count, dtype=bool)
    keep[candidates] = True
    return regions, keep[labels]


def batch_regions(mask: Tensor, values: Tensor, connectivity: int = 8, min_area: int = 1,
                  top_k: int = 0) -> tuple[list[list[Region]], Tensor]:
    """Regions of each Nx1xHxW mask and the mask of the regions kept (on the mask's device)."""
    masks = mask[:, 0].detach().cpu().numpy()
    maps = values[:, 0].detach().float().cpu().numpy()
    regions: list[list[Region]] = []
    kept: list[Tensor | None] = []
    for sample_mask, sample_map in zip(masks, maps):
        found, keep = find_regions(sample_mask, sample_map, connectivity, min_area, top_k)
        regions.append(found)
        kept.append(None if keep is None else torch.from_numpy(keep))
    if any(k is not None for k in kept):
        mask = mask.clone()
        for index, keep in enumerate(kept):
            if keep is not None:
                mask[index, 0] = keep.to(mask.device)
    return regions, mask

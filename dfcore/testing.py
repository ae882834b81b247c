"""Helpers for testing dfind and dfind plugins.

Plugin authors can use them too::

    from dfcore.testing import planted_pair, fake_distribution

* :func:`fresh_registry`: a registry of dfind's own plugins only, built for one test.
* :func:`fake_distribution`: an installed-looking distribution (``*.dist-info`` with entry
  points) plus its modules under a folder, to test discovery without pip.
* :func:`planted_pair`: a textured image and a copy changed inside known boxes;
  :func:`planted_files` writes them as PNG files.
* :func:`rescanned`: an image as a rescan gives it back: turned, scaled, moved and tinted.
* :func:`save_image`: write an image to a file (8 bits per channel).
"""

from __future__ import annotations

import contextlib
import math
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dfcore.plugin.registry import Registry, create_registry, set_registry


def fresh_registry(autoload: bool = False) -> Registry:
    """A new registry; by default only first-party (``dfind``) entry points are loaded."""
    return create_registry(autoload=autoload)


@contextlib.contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the process-wide one inside a ``with`` block."""
    old = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(old)


def fake_distribution(root: Path, name: str, version: str, entry_points: Mapping[str, str],
                      modules: Mapping[str, str]) -> Path:
    """Write ``root/<name>-<version>.dist-info`` and module files, as an installed package would.

    ``entry_points`` maps entry-point names of the ``dfind`` group to ``module:attr`` targets;
    ``modules`` maps module file names (``"acme_plugin.py"``) to their source. Put ``root`` on
    ``sys.path`` (see :func:`on_sys_path`) to make the distribution visible.
    """
    root.mkdir(parents=True, exist_ok=True)
    dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[dfind]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for filename, source in modules.items():
        path = root / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return dist_info


@contextlib.contextmanager
def on_sys_path(path: Path, modules: Sequence[str] = ()) -> Iterator[None]:
    """Prepend ``path`` to ``sys.path`` for a ``with`` block; forget ``modules`` afterwards."""
    import importlib

    sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(path))
        for module in modules:
            sys.modules.pop(module, None)
        importlib.invalidate_caches()


def planted_pair(height: int = 96, width: int = 128, channels: int = 3,
                 boxes: Sequence[tuple[int, int, int, int]] = ((30, 40, 50, 64),),
                 delta: float = 0.35, seed: int = 0) -> tuple[Any, Any, Any]:
    """A smooth textured image ``a``, a copy ``b`` brightened inside ``boxes``, and the truth mask.

    Boxes are ``(y0, x0, y1, x1)``. Returns torch tensors ``(a, b, mask)`` of shapes
    1xCxHxW, 1xCxHxW and HxW (bool).
    """
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, channels, height // 4 + 1, width // 4 + 1, generator=generator)
    a = F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False).clamp(0.1, 0.9)
    b = a.clone()
    mask = torch.zeros(height, width, dtype=torch.bool)
    for y0, x0, y1, x1 in boxes:
        b[..., y0:y1, x0:x1] = (b[..., y0:y1, x0:x1] + delta).clamp(0.0, 1.0)
        mask[y0:y1, x0:x1] = True
    return a, b, mask


def rescanned(image: Any, angle_deg: float = 0.7, scale: float = 1.02, offset: tuple[float, float] = (1.5, -1.0),
              tint: Sequence[float] | None = None) -> Any:
    """``image`` (1xCxHxW tensor) turned by ``angle_deg`` and scaled about its centre, moved by
    ``offset`` ``(dy, dx)`` px and multiplied by ``tint`` per channel: B of a printed and
    rescanned page. Resampled bicubically with :func:`dfcore.ops.register.warp`.
    """
    import torch

    from dfcore.ops.register import warp

    height, width = image.shape[-2:]
    theta = math.radians(angle_deg)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    ys = torch.arange(height, dtype=torch.float64)[:, None].expand(height, width)
    xs = torch.arange(width, dtype=torch.float64)[None, :].expand(height, width)
    source_y = cy + (math.cos(theta) * (ys - cy) - math.sin(theta) * (xs - cx)) / scale - offset[0]
    source_x = cx + (math.sin(theta) * (ys - cy) + math.cos(theta) * (xs - cx)) / scale - offset[1]
    moved, _ = warp(image, torch.stack([source_y - ys, source_x - xs], -1))
    return moved if tint is None else moved * torch.tensor(tint, dtype=moved.dtype).view(1, -1, 1, 1)


def planted_files(directory: Path, **kwargs: Any) -> tuple[Path, Path, Any]:
    """:func:`planted_pair` written as 8-bit ``a.png`` and ``b.png`` in ``directory``, for CLI tests.

    Keyword arguments go to :func:`planted_pair`. Returns the two paths and the truth mask.
    """
    a, b, mask = planted_pair(**kwargs)
    return save_image(directory / "a.png", a), save_image(directory / "b.png", b), mask


def save_image(path: str | Path, image: Any) -> Path:
    """Write an image with values in [0, 1] as 8 bits per channel; the suffix picks the format.

    ``image`` is a torch tensor (1xCxHxW, CxHxW or HxW, channels first) or a numpy array
    (HxW or HxWxC, channels last), C in {1, 3, 4}.
    """
    import numpy as np
    from PIL import Image

    if hasattr(image, "detach"):
        tensor = image.detach().cpu()
        if tensor.ndim == 4:
            if tensor.shape[0] != 1:
                raise ValueError(f"save_image writes one image, got a batch of {tensor.shape[0]}")
            tensor = tensor[0]
        array = tensor.permute(1, 2, 0).numpy() if tensor.ndim == 3 else tensor.numpy()
    else:
        array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    pixels = np.clip(np.rint(np.asarray(array, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path

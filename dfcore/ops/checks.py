"""Shape checks for the public entries of stages: one helper per rule, one wording per message.

Each check raises :class:`~dfcore.errors.ShapeError` with a one-line message that names the
stage, what it needs and what it got, so a metric's size limit reads the same whichever
stage reports it. Stages call these before the libraries they wrap do, so the user sees
dfind's message rather than a library's traceback.

>>> import torch
>>> check_same_shape(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), "ssim")
>>> check_min_side(torch.zeros(1, 3, 8, 12), 11, "ssim", why="win_size")
Traceback (most recent call last):
...
dfcore.errors.ShapeError: ssim needs images of at least 11x11 px (win_size), got 12x8
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfcore.errors import ShapeError

if TYPE_CHECKING:
    from torch import Tensor


def check_batch(x: Tensor, name: str, what: str = "images") -> None:
    """``x`` is an NxCxHxW tensor."""
    if x.ndim != 4:
        raise ShapeError(f"{name} needs {what} as NxCxHxW tensors, got shape {list(x.shape)}")


def check_same_shape(x: Tensor, y: Tensor, name: str) -> None:
    """``x`` and ``y`` have one shape."""
    if x.shape != y.shape:
        raise ShapeError(f"{name} needs images of one shape, got {list(x.shape)} and {list(y.shape)}")


def check_pair(a: Tensor, b: Tensor, name: str) -> None:
    """Two NxCxHxW batches of the same N and C (their sizes may differ)."""
    if a.ndim != 4 or b.ndim != 4 or a.shape[:2] != b.shape[:2]:
        raise ShapeError(f"{name} needs two NxCxHxW batches of equal N and C, got {list(a.shape)} and {list(b.shape)}")


def check_min_side(x: Tensor, minimum: int, name: str, why: str = "", hint: str = "") -> None:
    """Height and width of ``x`` are at least ``minimum``.

    ``why`` is said after the size (``(win_size)``, ``with win_size=11``); ``hint`` after what
    was given (``; use ssim``).
    """
    height, width = int(x.shape[-2]), int(x.shape[-1])
    if min(height, width) < minimum:
        because = f" ({why})" if why and not why.startswith(("with ", "on ")) else (f" {why}" if why else "")
        raise ShapeError(f"{name} needs images of at least {minimum}x{minimum} px{because}, got {width}x{height}{hint}")


def check_channels(x: Tensor, allowed: tuple[int, ...], name: str) -> None:
    """The channel count of ``x`` is one of ``allowed``."""
    if x.shape[1] not in allowed:
        options = " or ".join(str(c) for c in allowed)
        raise ShapeError(f"{name} needs {options} channels, got {x.shape[1]}")

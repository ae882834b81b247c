"""Choosing the device a pipeline runs on."""

from __future__ import annotations

import torch

from dfcore.errors import ParameterError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; an unavailable device is a one-line error."""
    if isinstance(device, torch.device):
        resolved = device
    else:
        text = str(device or "auto").strip().lower()
        if text == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if _mps_available():
                return torch.device("mps")
            return torch.device("cpu")
        try:
            resolved = torch.device(text)
        except RuntimeError:
            raise ParameterError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"device {device!s} requested but CUDA is not available here")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ParameterError(f"device {device!s} requested but only {torch.cuda.device_count()} CUDA devices exist")
    if resolved.type == "mps" and not _mps_available():
        raise ParameterError(f"device {device!s} requested but MPS is not available here")
    return resolved


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())

"""Checking that a metric can drive a difference map: :func:`check_metric` (``dfind check-metric``).

Validation: :func:`check_metric` runs the checks below on a probe pair of different images
(default 2x3x32x32, float32); :func:`dfcore.register_metric` runs it unless ``check=False``:

* ``runs``: the call does not raise;
* ``shape``: a float tensor on the input's device with one value per sample;
* ``finite``: no NaN or infinity;
* ``autograd``: the output depends on both images through autograd, with a finite gradient
  that is not zero everywhere (a detached output, a numpy round-trip or a step function such
  as ``round`` would give an all-zero map);
* ``orientation``: when ``higher_is_better`` is known, identical images score at least as well
  as different ones (catches an inverted ``higher_is_better``);
* ``gradcheck`` (on request): :func:`torch.autograd.gradcheck` in float64 on one probe sample
  cut to 16x16 (at the probe's size for a metric that refuses so small an input).

Every call made through a Finder is checked too, at no extra cost beyond one reduction: a
wrong shape, a NaN, or a detached output while a strategy differentiates raise
:class:`~dfcore.errors.MetricCheckError` naming the metric.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.autograd.gradcheck import GradcheckError

from dfcore.errors import MetricCheckError, ParameterError, ShapeError, one_line
from dfcore.pipeline.custom import DETACHED, CustomMetric, per_sample
from dfcore.plugin.registry import Registry, get_registry
from dfcore.plugin.spec import parse_stage_ref

PROBE_SHAPE = (2, 3, 32, 32)
GRADCHECK_SIDE = 16


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``status`` is ``pass``, ``fail`` or ``skip``."""

    name: str
    status: str
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass
class MetricReport:
    """The checks :func:`check_metric` ran on one metric, in order."""

    metric: str
    probe: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def __getitem__(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def raise_on_failure(self) -> None:
        """Raise :class:`MetricCheckError` naming every failed check, on one line."""
        if self.failures:
            details = "; ".join(f"{c.name}: {c.message}" for c in self.failures)
            raise MetricCheckError(f"metric {self.metric!r} failed {_plural(len(self.failures), 'check')}: {details}")

    def lines(self) -> list[str]:
        """One line per check: ``PASS  shape  one value per sample, shape [2]``."""
        width = max(len(c.name) for c in self.checks)
        return [f"{c.status.upper():4}  {c.name:{width}}  {c.message}" for c in self.checks]

    def __str__(self) -> str:
        return "\n".join([f"metric {self.metric!r} on a {self.probe} probe", *self.lines()])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def check_metric(metric: Any, *, gradcheck: bool = False, shape: Sequence[int] | None = None,
                 device: str | torch.device | None = None, registry: Registry | None = None) -> MetricReport:
    """Check that a metric can drive a difference map, before it produces a misleading one.

    Args:
        metric: a registered metric's name (``"ssim"``, ``"local.l1"``, ``"ssim:win_size=7"``),
            a :class:`~dfcore.pipeline.registration.MetricHandle`, or a callable / ``torch.nn.Module`` (not registered).
        gradcheck: also run :func:`torch.autograd.gradcheck` in float64 (fast mode).
        shape: the probe's NxCxHxW; default :data:`PROBE_SHAPE`, its sides raised to the
            metric's ``min_side`` when it declares one (ms-ssim: 161).
        device: where to run; default: the module's device, else the CPU.
        registry: where names are looked up; the process-wide registry by default.
    Returns:
        A :class:`MetricReport`; ``report.ok`` is true when no check failed.
    """
    obj, label, higher_is_better = _resolve(metric, registry)
    shape = _probe_shape(shape if shape is not None else default_probe(obj))
    device = torch.device(device) if device is not None else _module_device(obj)
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(device)
    evaluate = obj.evaluate if isinstance(obj, CustomMetric) else obj
    probe = f"{'x'.join(map(str, shape))} float32 {device}"
    report = MetricReport(label, probe)
    add = report.checks.append
    x, y = probe_pair(shape, device)

    try:
        with torch.no_grad():
            value = evaluate(x, y)
    except Exception as exc:
        hint = "; give a probe it accepts (shape=, or --shape)" if isinstance(exc, ShapeError) else ""
        add(Check("runs", "fail", f"raised {one_line(exc)}{hint}"))
        for skipped in ("shape", "finite", "autograd", "orientation", "gradcheck"):
            add(Check(skipped, "skip", "the metric does not run"))
        return report
    add(Check("runs", "pass", f"called on two different {report.probe} images"))

    try:
        value = per_sample(value, x, label)
        add(Check("shape", "pass", f"one value per sample, shape [{shape[0]}]"))
    except MetricCheckError as exc:
        add(Check("shape", "fail", _without_prefix(str(exc), label)))
        value = value if isinstance(value, Tensor) and value.is_floating_point() else None

    if value is None:
        add(Check("finite", "skip", "no floating-point tensor to check"))
    elif bool(torch.isfinite(value).all()):
        add(Check("finite", "pass", "every value is finite"))
    else:
        add(Check("finite", "fail", f"returned non-finite values {_values(value)} for two different images"))

    add(_check_autograd(evaluate, x, y))
    add(_check_orientation(evaluate, x, y, higher_is_better, label))
    if gradcheck:
        add(_run_gradcheck(obj, shape, device))
    else:
        add(Check("gradcheck", "skip", "not requested (gradcheck=True, or --gradcheck)"))
    return report


def probe_pair(shape: Sequence[int], device: torch.device, dtype: torch.dtype = torch.float32,
               seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two different, smooth-ish images of ``shape`` in [0.1, 0.9], the same for every call."""
    generator = torch.Generator().manual_seed(seed)
    x = 0.2 + 0.6 * torch.rand(*shape, generator=generator, dtype=torch.float64)
    y = (x + 0.2 * (torch.rand(*shape, generator=generator, dtype=torch.float64) - 0.5)).clamp(0.1, 0.9)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def _check_autograd(evaluate: Callable[..., Any], x: Tensor, y: Tensor) -> Check:
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            value = evaluate(x, y)
    except Exception as exc:
        return Check("autograd", "fail", f"with inputs that require grad it raises {one_line(exc)}")
    if not isinstance(value, Tensor) or not value.requires_grad:
        return Check("autograd", "fail", DETACHED)
    grads = torch.autograd.grad(value.sum(), (x, y), allow_unused=True)
    missing = [label for label, grad in zip(("x", "y"), grads) if grad is None]
    if missing:
        return Check("autograd", "fail", f"the output does not depend on {' or '.join(missing)} through autograd")
    if not all(bool(torch.isfinite(g).all()) for g in grads):
        return Check("autograd", "fail", "the gradient has NaN or infinite values")
    if all(not bool(g.any()) for g in grads):
        return Check("autograd", "fail", "the gradient is zero everywhere: a step such as round, sign, argmax "
                                         "or a comparison blocks it, and the map would be all zero")
    return Check("autograd", "pass", "finite, non-zero gradient with respect to both images")


def _check_orientation(evaluate: Callable[..., Any], x: Tensor, y: Tensor, higher_is_better: bool | None,
                       label: str) -> Check:
    if higher_is_better is None:
        return Check("orientation", "skip", "higher_is_better is not declared")
    try:
        with torch.no_grad():
            same = per_sample(evaluate(x, x), x, label).double()
            different = per_sample(evaluate(x, y), x, label).double()
    except Exception as exc:
        return Check("orientation", "skip", f"not comparable: {one_line(exc)}")
    tolerance = 1e-6 * (1.0 + different.abs())
    worse = same < different - tolerance if higher_is_better else same > different + tolerance
    if bool(worse.any()):
        relation = "<" if higher_is_better else ">"
        return Check("orientation", "fail",
                     f"identical images score worse than different ones ({_values(same)} {relation} "
                     f"{_values(different)}) although higher_is_better={higher_is_better}; is it inverted?")
    best = "highest" if higher_is_better else "lowest"
    return Check("orientation", "pass", f"identical images score {best} (higher_is_better={higher_is_better})")


def _run_gradcheck(obj: Any, shape: Sequence[int], device: torch.device) -> Check:
    _, c, h, w = shape
    try:
        target = copy.deepcopy(obj).double() if isinstance(obj, torch.nn.Module) else obj
    except Exception as exc:
        return Check("gradcheck", "fail", f"cannot make a float64 copy of the module: {one_line(exc)}")
    evaluate = target.evaluate if isinstance(target, CustomMetric) else target
    # Tiny, because a failure makes gradcheck recompute the full Jacobian, one forward call
    # per input value; a metric that refuses a tiny input is checked at the probe's size.
    small = (1, c, min(h, GRADCHECK_SIDE), min(w, GRADCHECK_SIDE))
    try:
        with torch.no_grad():
            evaluate(*probe_pair(small, device, torch.float64))
    except Exception:
        small = (1, c, h, w)
    _, _, h, w = small
    x, y = probe_pair(small, device, torch.float64)
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            # Scaled by the number of values per sample, so that the derivative of a mean with
            # respect to one pixel is of order 1 and gradcheck's absolute tolerance bites.
            torch.autograd.gradcheck(lambda a, b: evaluate(a, b) * (c * h * w),
                                     (x.requires_grad_(True), y.requires_grad_(True)), fast_mode=True)
    except GradcheckError as exc:
        detail = one_line(exc).removeprefix("GradcheckError: ").rstrip(",.")
        return Check("gradcheck", "fail", f"autograd disagrees with finite differences ({detail})")
    except Exception as exc:
        return Check("gradcheck", "fail", f"cannot run in float64: {one_line(exc)}")
    return Check("gradcheck", "pass", f"autograd matches finite differences on a 1x{c}x{h}x{w} float64 probe")


def _values(value: Tensor) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in value.detach().double().cpu().tolist()[:4]) + "]"


def _without_prefix(message: str, label: str) -> str:
    return message.removeprefix(f"metric {label!r} ")


def default_probe(obj: Any) -> tuple[int, int, int, int]:
    """:data:`PROBE_SHAPE`, its height and width raised to the metric's ``min_side`` when it declares a larger one."""
    n, c, h, w = PROBE_SHAPE
    side = getattr(obj, "min_side", None)
    side = int(side) if isinstance(side, int) and not isinstance(side, bool) else 0
    return n, c, max(h, side), max(w, side)


def _probe_shape(shape: Sequence[int]) -> tuple[int, int, int, int]:
    dims = tuple(int(s) for s in shape)
    if len(dims) != 4 or min(dims) < 1:
        raise ParameterError(f"the probe shape must be four positive sizes NxCxHxW, got {list(shape)}")
    return dims  # type: ignore[return-value]


def _module_device(obj: Any) -> torch.device:
    if isinstance(obj, torch.nn.Module):
        for tensor in (*obj.parameters(), *obj.buffers()):
            return tensor.device
    return torch.device("cpu")


def _resolve(metric: Any, registry: Registry | None) -> tuple[Any, str, bool | None]:
    """The object to check, its name for messages and its declared orientation."""
    if isinstance(metric, str):
        registry = registry or get_registry()
        name, params = parse_stage_ref(metric)
        stage = registry.find("metric", name)
        return stage.build(params), stage.qualified_name, stage.spec.higher_is_better
    handle = getattr(metric, "metric", None)
    if isinstance(handle, CustomMetric):  # a MetricHandle: the metric it registered
        return handle, metric.qualified_name, handle.higher_is_better
    if isinstance(metric, CustomMetric):
        return metric, metric.name, metric.higher_is_better
    if not callable(metric):
        raise TypeError(f"check_metric needs a metric name, a callable or a torch.nn.Module, got {type(metric).__name__}")
    source = metric if inspect.isroutine(metric) else type(metric)
    label = getattr(source, "__name__", None) or type(metric).__name__
    higher = getattr(metric, "higher_is_better", None)
    return CustomMetric(metric, label, higher if isinstance(higher, bool) else None), label, higher


__all__ = ["Check", "MetricReport", "check_metric", "default_probe", "probe_pair"]

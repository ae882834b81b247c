"""Metrics registered from Python, without a package: :func:`register_metric` and :func:`check_metric`.

>>> import torch
>>> from dfcore import register_metric
>>> @register_metric(name="l1", higher_is_better=False)
... def l1(x, y):
...     return (x - y).abs().mean(dim=(1, 2, 3))
>>> Finder(metric="l1", strategy="gradient").run("a.png", "b.png")   # doctest: +SKIP

A registered metric is a stage like any other: it is offered by an in-process plugin named
``local`` through the same ``dfind_metrics`` hook that installed plugins implement, so it is
found by name (``"l1"`` or ``"local.l1"``), listed by the registry and recorded in results.

What the callable may return, for inputs x, y of shape NxCxHxW:

* one value per sample: shape ``[N]`` (``[N, 1]`` or ``[N, 1, 1, 1]`` are flattened);
* a scalar (shape ``[]``): for N = 1 it is the sample's value; for N > 1 the callable is
  called once per sample and the values are stacked, so a loss with a batch-mean reduction
  (``torch.nn.L1Loss()``) works and every sample keeps its own value and its own gradient.

A ``torch.nn.Module`` instance is moved to the Finder's device when a Finder is built with it.

Validation: :func:`check_metric` runs the checks below on a probe pair of different images
(default 2x3x32x32, float32) and :func:`register_metric` runs it unless ``check=False``:

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
import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.autograd.gradcheck import GradcheckError

from dfcore.errors import MetricCheckError, ParameterError, ShapeError, StageError
from dfcore.hookspecs import hookimpl
from dfcore.plugins import one_line
from dfcore.registry import _NAME_RE, Registry, StageSpec, get_registry, parse_stage_ref

LOCAL_PLUGIN = "local"
PROBE_SHAPE = (2, 3, 32, 32)
GRADCHECK_SIDE = 16

_DETACHED = (
    "does not depend on its input through autograd (its output is detached, or computed outside "
    "torch, e.g. with numpy): a gradient map would be all zero; compute it with torch operations"
)


class CustomMetric(torch.nn.Module):
    """A callable or module adapted to dfind's metric contract (see the module docstring).

    Args:
        fn: ``fn(x, y) -> Tensor`` or a ``torch.nn.Module`` doing the same.
        name: the stage name, used in messages.
        higher_is_better: whether a larger value means more similar (``None``: unknown).
    """

    def __init__(self, fn: Callable[..., Any], name: str, higher_is_better: bool | None) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self.higher_is_better = higher_is_better
        self.supports_valid = bool(getattr(fn, "supports_valid", False))
        self._scalar_output = False

    def evaluate(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Any:
        """Call the wrapped metric, once per sample if it returns a scalar for a batch; no checks."""
        n = x.shape[0]
        if not (self._scalar_output and n > 1):
            value = self._call(x, y, valid)
            if not (isinstance(value, Tensor) and value.ndim == 0 and n > 1):
                return value
            self._scalar_output = True
        values = []
        for i in range(n):
            value = self._call(x[i : i + 1], y[i : i + 1], None if valid is None else valid[i : i + 1])
            if not (isinstance(value, Tensor) and value.numel() == 1):
                return value
            values.append(value.reshape(()))
        return torch.stack(values)

    def _call(self, x: Tensor, y: Tensor, valid: Tensor | None) -> Any:
        if valid is not None and self.supports_valid:
            return self.fn(x, y, valid=valid)
        return self.fn(x, y)

    def forward(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        value = per_sample(self.evaluate(x, y, valid), x, self.name)
        if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad) and not value.requires_grad:
            raise MetricCheckError(f"metric {self.name!r} {_DETACHED}")
        if bool(torch.isnan(value.detach()).any()):
            raise MetricCheckError(f"metric {self.name!r} returned NaN for a {_shape(x)} input")
        return value

    def conventions(self) -> dict[str, Any]:
        fn = self.fn
        own = getattr(fn, "conventions", None)
        recorded: dict[str, Any] = dict(own()) if callable(own) else {}
        target = fn if inspect.isroutine(fn) else type(fn)
        recorded["callable"] = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
        recorded["registered"] = "in-process (dfcore.register_metric)"
        return recorded

    def extra_repr(self) -> str:
        return f"name={self.name!r}, higher_is_better={self.higher_is_better}"


def per_sample(value: Any, x: Tensor, name: str) -> Tensor:
    """``value`` as a float tensor of shape ``[N]`` on ``x``'s device, or a one-line error."""
    n = x.shape[0]
    if not isinstance(value, Tensor):
        raise MetricCheckError(f"metric {name!r} returned {type(value).__name__}, expected a tensor of shape [{n}]")
    if value.ndim == 0 and n == 1:
        value = value.reshape(1)
    if value.ndim > 1 and value.shape[0] == n and value.numel() == n:
        value = value.reshape(n)
    if tuple(value.shape) != (n,):
        hint = " (a scalar is only taken as the value of a single sample)" if value.ndim == 0 else ""
        raise MetricCheckError(
            f"metric {name!r} returned shape {list(value.shape)} for a {_shape(x)} input, "
            f"expected [{n}] (one value per sample){hint}"
        )
    if not value.is_floating_point():
        raise MetricCheckError(f"metric {name!r} returned a {value.dtype} tensor, expected floating point")
    if value.device != x.device:
        raise MetricCheckError(
            f"metric {name!r} returned a tensor on {value.device} for inputs on {x.device}; "
            "keep every tensor on the input's device"
        )
    return value


def _shape(x: Tensor) -> str:
    return "x".join(str(s) for s in x.shape)


# -- registration ------------------------------------------------------------------------------


class LocalMetrics:
    """The in-process plugin (named ``local``) that offers the metrics registered from Python."""

    def __init__(self) -> None:
        self.specs: dict[str, StageSpec] = {}

    @hookimpl
    def dfind_metrics(self) -> list[StageSpec]:
        return list(self.specs.values())


class MetricHandle:
    """What :func:`register_metric` returns: the registration, and the metric itself.

    Calling the handle calls the original function or module, so a decorated function keeps
    working as a function. :meth:`unregister` (or leaving a ``with`` block) removes the metric.
    """

    def __init__(self, registry: Registry, spec: StageSpec, metric: CustomMetric) -> None:
        self.registry = registry
        self.spec = spec
        self.metric = metric
        if inspect.isroutine(metric.fn):
            functools.update_wrapper(self, metric.fn, updated=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def qualified_name(self) -> str:
        return f"{LOCAL_PLUGIN}.{self.spec.name}"

    @property
    def registered(self) -> bool:
        plugin = self.registry.pm.get_plugin(LOCAL_PLUGIN)
        return isinstance(plugin, LocalMetrics) and plugin.specs.get(self.name) is self.spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.metric.fn(*args, **kwargs)

    def unregister(self) -> None:
        """Remove the metric from the registry; a no-op once removed or re-registered."""
        if not self.registered:
            return
        plugin = self.registry.pm.get_plugin(LOCAL_PLUGIN)
        del plugin.specs[self.name]
        if plugin.specs:
            self.registry.refresh()
        else:
            self.registry.unregister(LOCAL_PLUGIN)

    def __enter__(self) -> MetricHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.unregister()

    def __repr__(self) -> str:
        direction = "higher is better" if self.metric.higher_is_better else "lower is better"
        state = "" if self.registered else ", unregistered"
        return f"<metric {self.qualified_name!r} ({direction}{state})>"


def register_metric(metric: Callable[..., Any] | None = None, /, *, name: str | None = None,
                    higher_is_better: bool | None = None, summary: str | None = None,
                    check: bool = True, registry: Registry | None = None) -> Any:
    """Register a metric from Python so that every strategy can use it by name.

    Use it as a function, ``register_metric(fn, name="l1", higher_is_better=False)``, or as a
    decorator, ``@register_metric(name="l1", higher_is_better=False)``.

    Args:
        metric: ``fn(x, y) -> Tensor`` taking two NxCxHxW images in [0, 1] and returning one
            value per sample (shape ``[N]``) or a scalar (see the module docstring for how a
            scalar is used), or a ``torch.nn.Module`` instance doing the same.
        name: the stage name; default: the function's name, lower-cased, ``_`` written ``-``.
        higher_is_better: whether a larger value means more similar; required unless the
            object has a ``higher_is_better`` attribute.
        summary: one line for listings; default: the first line of the docstring.
        check: run :func:`check_metric` first and refuse a metric that fails.
        registry: where to register; the process-wide registry by default.
    Returns:
        A :class:`MetricHandle` (the decorator form returns it in place of the function; calling
        it still calls the function). Registering a name again replaces the earlier metric.
    Raises:
        MetricCheckError: ``check`` is true and a check failed (every failure on one line).
    """
    if metric is None:
        return functools.partial(register_metric, name=name, higher_is_better=higher_is_better,
                                 summary=summary, check=check, registry=registry)
    if isinstance(metric, MetricHandle):
        metric = metric.metric.fn
    if not callable(metric):
        raise TypeError(f"register_metric needs a callable or a torch.nn.Module, got {type(metric).__name__}")
    name = _metric_name(metric, name)
    if higher_is_better is None:
        higher_is_better = getattr(metric, "higher_is_better", None)
    if not isinstance(higher_is_better, bool):
        raise ParameterError(f"register_metric: give higher_is_better=True or False for metric {name!r}")
    registry = registry or get_registry()
    wrapped = CustomMetric(metric, name, higher_is_better)
    if check:
        check_metric(wrapped).raise_on_failure()
    plugin = _local_plugin(registry)
    others = [s.qualified_name for s in registry.stages("metric") if s.name == name and s.origin.plugin != LOCAL_PLUGIN]
    if others:
        warnings.warn(f"metric {name!r} is also offered as {' and '.join(others)}: the bare name is now ambiguous; "
                      f"refer to yours as {LOCAL_PLUGIN}.{name}", stacklevel=2)
    spec = StageSpec(name, target=lambda: wrapped, summary=summary or _summary(metric), higher_is_better=higher_is_better)
    plugin.specs[name] = spec
    registry.refresh()
    return MetricHandle(registry, spec, wrapped)


def _metric_name(metric: Any, name: str | None) -> str:
    if name is None:
        source = metric if inspect.isroutine(metric) else type(metric)
        name = getattr(source, "__name__", "").lower().replace("_", "-")
    if not _NAME_RE.match(name or ""):
        raise ParameterError(
            f"register_metric: {name!r} is not a valid metric name (lower-case letters, digits, '-', '_'); pass name="
        )
    return name


def _summary(metric: Any) -> str:
    doc = inspect.getdoc(metric if inspect.isroutine(metric) else type(metric)) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first or "Metric registered from Python."


def _local_plugin(registry: Registry) -> LocalMetrics:
    plugin = registry.pm.get_plugin(LOCAL_PLUGIN)
    if plugin is None:
        plugin = LocalMetrics()
        registry.register(plugin, LOCAL_PLUGIN)
    elif not isinstance(plugin, LocalMetrics):
        raise StageError(f"the plugin name {LOCAL_PLUGIN!r} is taken by {plugin!r}; metrics cannot be registered")
    return plugin


# -- validation --------------------------------------------------------------------------------


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


def check_metric(metric: Any, *, gradcheck: bool = False, shape: Sequence[int] = PROBE_SHAPE,
                 device: str | torch.device | None = None, registry: Registry | None = None) -> MetricReport:
    """Check that a metric can drive a difference map, before it produces a misleading one.

    Args:
        metric: a registered metric's name (``"ssim"``, ``"local.l1"``, ``"ssim:win_size=7"``),
            a :class:`MetricHandle`, or a callable / ``torch.nn.Module`` (not registered).
        gradcheck: also run :func:`torch.autograd.gradcheck` in float64 (fast mode).
        shape: the probe's NxCxHxW; metrics with size requirements (ms-ssim) need a larger one.
        device: where to run; default: the module's device, else the CPU.
        registry: where names are looked up; the process-wide registry by default.
    Returns:
        A :class:`MetricReport`; ``report.ok`` is true when no check failed.
    """
    obj, label, higher_is_better = _resolve(metric, registry)
    shape = _probe_shape(shape)
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
        return Check("autograd", "fail", _DETACHED)
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
    if isinstance(metric, MetricHandle):
        return metric.metric, metric.qualified_name, metric.metric.higher_is_better
    if isinstance(metric, CustomMetric):
        return metric, metric.name, metric.higher_is_better
    if not callable(metric):
        raise TypeError(f"check_metric needs a metric name, a callable or a torch.nn.Module, got {type(metric).__name__}")
    source = metric if inspect.isroutine(metric) else type(metric)
    label = getattr(source, "__name__", None) or type(metric).__name__
    higher = getattr(metric, "higher_is_better", None)
    return CustomMetric(metric, label, higher if isinstance(higher, bool) else None), label, higher


__all__ = ["Check", "CustomMetric", "MetricHandle", "MetricReport", "check_metric", "probe_pair", "register_metric"]

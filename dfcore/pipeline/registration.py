"""Metrics registered from Python, without a package: :func:`register_metric`.

>>> import torch
>>> from dfcore import register_metric
>>> @register_metric(name="l1", higher_is_better=False)
... def l1(x, y):
...     return (x - y).abs().mean(dim=(1, 2, 3))
>>> Finder(metric="l1", strategy="gradient").run("a.png", "b.png")   # doctest: +SKIP

A registered metric is a stage like any other: it is offered by an in-process plugin named
``local`` (:class:`~dfcore.plugin.registry.InProcessPlugin`) through the same
``dfind_metrics`` hook that installed plugins implement, so it is found by name (``"l1"`` or
``"local.l1"``), listed by the registry and recorded in results. It goes into the registry
given, or the process-wide default one (:func:`dfcore.get_registry`). What the callable may
return: :mod:`dfcore.pipeline.custom`; the checks run before it is accepted:
:mod:`dfcore.pipeline.metric_check`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from dfcore.errors import ParameterError
from dfcore.pipeline.custom import CustomMetric
from dfcore.pipeline.metric_check import check_metric
from dfcore.plugin.registry import InProcessPlugin, Registry, get_registry
from dfcore.plugin.spec import NAME_RE, StageSpec

LOCAL_PLUGIN = "local"


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
        plugin = self.registry.plugin(LOCAL_PLUGIN)
        return isinstance(plugin, InProcessPlugin) and plugin.get("metric", self.name) is self.spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.metric.fn(*args, **kwargs)

    def unregister(self) -> None:
        """Remove the metric from the registry; a no-op once removed or re-registered."""
        if not self.registered:
            return
        plugin = self.registry.plugin(LOCAL_PLUGIN)
        plugin.remove("metric", self.name)
        if plugin:
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
        registry: where to register; the process-wide default (:func:`dfcore.get_registry`) if not given.
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
    plugin = registry.in_process(LOCAL_PLUGIN)
    others = [s.qualified_name for s in registry.stages("metric") if s.name == name and s.origin.plugin != LOCAL_PLUGIN]
    if others:
        warnings.warn(f"metric {name!r} is also offered as {' and '.join(others)}: the bare name is now ambiguous; "
                      f"refer to yours as {LOCAL_PLUGIN}.{name}", stacklevel=2)
    spec = StageSpec(name, target=lambda: wrapped, summary=summary or _summary(metric), higher_is_better=higher_is_better)
    plugin.add("metric", spec)
    registry.refresh()
    return MetricHandle(registry, spec, wrapped)


def _metric_name(metric: Any, name: str | None) -> str:
    if name is None:
        source = metric if inspect.isroutine(metric) else type(metric)
        name = getattr(source, "__name__", "").lower().replace("_", "-")
    if not NAME_RE.match(name or ""):
        raise ParameterError(
            f"register_metric: {name!r} is not a valid metric name (lower-case letters, digits, '-', '_'); pass name="
        )
    return name


def _summary(metric: Any) -> str:
    doc = inspect.getdoc(metric if inspect.isroutine(metric) else type(metric)) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first or "Metric registered from Python."


__all__ = ["LOCAL_PLUGIN", "MetricHandle", "register_metric"]

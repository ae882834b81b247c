"""Plugin discovery and loading: entry points of the group ``dfind``, each in isolation.

Discovery reads distribution metadata only (name, version, entry points), so it imports
nothing. Loading imports one entry point at a time inside its own ``try``: a plugin whose
module fails to import, or that a newer pluggy rejects, becomes a :class:`BrokenPlugin`
and every other plugin keeps working. dfind's own plugins (``dfplugins_builtin`` and
``dfplugins_extra``) travel this same path; they are "first party" only because their
distribution is ``dfind``.

``DFIND_DISABLE_PLUGIN_AUTOLOAD=1`` (or ``dfind --disable-plugin-autoload``) keeps only the
first-party entry points, as pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` does.
``DFIND_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from dfcore.errors import one_line
from dfcore.plugin import hookspecs

ENTRY_POINT_GROUP = "dfind"
FIRST_PARTY_DISTRIBUTION = "dfind"
AUTOLOAD_ENV = "DFIND_DISABLE_PLUGIN_AUTOLOAD"
TRACE_ENV = "DFIND_TRACE_PLUGINS"


@dataclass(frozen=True)
class Origin:
    """Where a plugin comes from: its plugin name and the distribution that installed it."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def first_party(self) -> bool:
        return _normalize(self.distribution or "") == FIRST_PARTY_DISTRIBUTION

    def describe(self) -> str:
        """``"dfind 0.1.0"``, or ``"(in-process)"`` for a plugin registered from Python."""
        if self.distribution is None:
            return "(in-process)"
        return f"{self.distribution} {self.version}" if self.version else self.distribution


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be used, and why.

    ``phase`` is ``import`` (its module failed to import or register), ``hook`` (a hook
    raised or returned something that is not a record) or ``target`` (a stage's
    implementation failed to import when the stage was first used).
    """

    origin: Origin
    phase: str
    reason: str


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def autoload_enabled(autoload: bool | None = None) -> bool:
    """Whether third-party entry points load: ``autoload`` if given, else the environment."""
    if autoload is not None:
        return autoload
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def discover() -> list[tuple[importlib.metadata.EntryPoint, Origin]]:
    """Entry points of the ``dfind`` group with their origins, without importing them."""
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        origin = Origin(ep.name, dist.name if dist else None, dist.version if dist else None)
        found.append((ep, origin))
    found.sort(key=lambda item: (not item[1].first_party, item[1].plugin))
    return found


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows dfind's hookspecs and holds no plugin yet."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV, "").strip() not in ("", "0"):
        pm.trace.root.setwriter(lambda message: sys.stderr.write(f"dfind trace: {message}"))
        pm.enable_tracing()
    return pm


def register_plugin(pm: pluggy.PluginManager, plugin: object, origin: Origin) -> BrokenPlugin | None:
    """Register one plugin object; a rejection or an unknown hook name makes it broken."""
    try:
        pm.register(plugin, name=origin.plugin)
    except pluggy.PluginValidationError as exc:  # its several lines name the hook and the bad signature
        return BrokenPlugin(origin, "import", f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    except Exception as exc:  # pluggy raises ValueError for a name or object registered twice
        return BrokenPlugin(origin, "import", one_line(exc))
    unknown = sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or ()
        if caller.spec is None
    )
    if unknown:
        pm.unregister(plugin)
        return BrokenPlugin(
            origin,
            "import",
            f"unknown hook {unknown[0]}; dfind's hooks are: {', '.join(hook_names())}",
        )
    return None


def hook_names() -> list[str]:
    return sorted(name for name in vars(hookspecs) if name.startswith("dfind_"))


def load_entry_point_plugins(
    pm: pluggy.PluginManager, autoload: bool | None = None
) -> tuple[dict[str, Origin], list[BrokenPlugin]]:
    """Import and register the ``dfind`` entry points one at a time.

    Returns the origin of every registered plugin by plugin name, and the broken ones.
    With autoload disabled only first-party entry points are loaded.
    """
    load_all = autoload_enabled(autoload)
    origins: dict[str, Origin] = {}
    broken: list[BrokenPlugin] = []
    for ep, origin in discover():
        if not load_all and not origin.first_party:
            continue
        if pm.has_plugin(origin.plugin):
            broken.append(BrokenPlugin(origin, "import", f"plugin name {origin.plugin!r} is already taken"))
            continue
        trace = pm.trace.root.get("load")
        started = time.perf_counter()
        try:
            plugin = ep.load()
        except BaseException as exc:  # a plugin's import may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            broken.append(BrokenPlugin(origin, "import", one_line(exc)))
            trace(f"{origin.plugin} = {ep.value} ({origin.describe()}): {one_line(exc)}")
            continue
        problem = register_plugin(pm, plugin, origin)
        elapsed = f"{(time.perf_counter() - started) * 1000:.1f} ms"
        trace(f"{origin.plugin} = {ep.value} ({origin.describe()}): {problem.reason if problem else 'ok'}, {elapsed}")
        if problem:
            broken.append(problem)
        else:
            origins[origin.plugin] = origin
    return origins, broken


def call_hookimpl(pm: pluggy.PluginManager, hook_name: str, impl: pluggy.HookImpl) -> list[object]:
    """Call one plugin's implementation of a hook (hooks take no arguments): its records, as a list.

    Each implementation is called on its own so that a failure is pinned to its plugin;
    exceptions propagate to the caller. With ``DFIND_TRACE_PLUGINS=1`` the call is printed.
    """
    trace = pm.trace.root.get("hook")
    started = time.perf_counter()
    try:
        result = impl.function()
        if result is not None and not isinstance(result, Iterable):
            raise TypeError(f"returned a {type(result).__name__}; yield the records, or return a list of them")
        records = list(result or ())
    except BaseException as exc:
        trace(f"{impl.plugin_name}.{hook_name}: raised {one_line(exc)}")
        raise
    names = ", ".join(str(getattr(r, "name", r)) for r in records) or "(nothing)"
    trace(f"{impl.plugin_name}.{hook_name}: {names}, {(time.perf_counter() - started) * 1000:.1f} ms")
    return records

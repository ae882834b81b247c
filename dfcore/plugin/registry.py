"""The stage registry: every stage any plugin offers, where it comes from, and how to build it.

A :class:`Registry` holds one pluggy plugin manager and the plugins registered with it. It
calls each plugin's hooks on its own, so one failing hook marks one plugin broken, and
indexes the records by kind and name. Two plugins offering one name are both kept: the bare
name then fails with the choices, and ``plugin.name`` picks one. Presets resolve the same way,
with one rule more: a bare preset name that dfind itself offers (``default``) is dfind's, so a
third-party preset of that name cannot change or break ``dfind A B`` (it is reached as
``plugin.name``).

Registries are values: :func:`create_registry` builds a new one from the installed entry
points (the command line builds one per invocation and passes it down); :func:`get_registry`
is the process-wide default that the Python API uses when none is given. Plugins made in
this process (metrics registered from Python, stages shipped to another process) are
:class:`InProcessPlugin` objects.

Nothing here imports torch; a stage's implementation is imported by :meth:`Stage.build`.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dfcore.errors import AmbiguousStageError, ParameterError, StageError, StageNotFoundError, one_line
from dfcore.plugin import hookspecs
from dfcore.plugin.inprocess import InProcessPlugin
from dfcore.plugin.loading import (
    BrokenPlugin,
    Origin,
    call_hookimpl,
    load_entry_point_plugins,
    make_plugin_manager,
    register_plugin,
)
from dfcore.plugin.spec import KINDS, NAME_RE, PresetSpec, StageSpec, as_chain, split_stage_ref
from dfcore.version import __version__

_MISSING = object()
#: The preset that fills the stages a pipeline does not name.
DEFAULT_PRESET = "default"
#: The preset that fills them instead when a metric is named without a strategy or a preset
#: (when a plugin offers it; dfind's own makes the map the metric's own: the ``own`` strategy).
METRIC_PRESET = "metric"


@dataclass(frozen=True)
class Stage:
    """A registered stage: its kind, its record and the plugin that offers it."""

    kind: str
    spec: StageSpec
    origin: Origin

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def qualified_name(self) -> str:
        return f"{self.origin.plugin}.{self.spec.name}"

    def parse_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """All parameters with defaults filled in; unknown names and bad values raise."""
        known = {p.name: p for p in self.spec.params}
        given = dict(params or {})
        unknown = [k for k in given if k not in known]
        if unknown:
            valid = ", ".join(known) or "(none)"
            raise ParameterError(
                f"{self.kind} {self.name!r} has no parameter {unknown[0]!r}; valid parameters: {valid}"
            )
        resolved = {}
        for name, param in known.items():
            value = given.get(name, _MISSING)
            if value is _MISSING:
                resolved[name] = param.default
                continue
            try:
                resolved[name] = param.parse(value)
            except (ValueError, SyntaxError, TypeError) as exc:
                raise ParameterError(f"{self.kind} {self.name!r}: bad value for {name!r}: {exc}") from None
        return resolved

    def load(self) -> Callable[..., Any]:
        """Import the implementation the record points at."""
        target = self.spec.target
        if not isinstance(target, str):
            return target
        module_name, _, attr = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except Exception as exc:
            raise StageError(
                f"{self.kind} {self.qualified_name!r} cannot be loaded from {target!r}: {one_line(exc)}"
            ) from exc
        return obj

    def build(self, params: Mapping[str, Any] | None = None) -> Any:
        """Instantiate the stage with validated parameters."""
        resolved = self.parse_params(params)
        factory = self.load()
        try:
            return factory(**resolved)
        except (ValueError, TypeError) as exc:
            raise ParameterError(f"{self.kind} {self.name!r}: {exc}") from exc


class Registry:
    """Stages and presets offered by the plugins registered with one plugin manager.

    Build one with :func:`create_registry` (entry points) or :meth:`empty`; most code uses
    the process-wide :func:`get_registry`.
    """

    def __init__(self, pm: Any, origins: Mapping[str, Origin] | None = None,
                 broken: Sequence[BrokenPlugin] = ()) -> None:
        self.pm = pm
        self._origins: dict[str, Origin] = dict(origins or {})
        self._load_broken: list[BrokenPlugin] = list(broken)
        self._lock = threading.RLock()
        self._index: _Index | None = None

    @classmethod
    def empty(cls) -> Registry:
        return cls(make_plugin_manager())

    # -- plugins ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str, origin: Origin | None = None) -> None:
        """Register an in-process plugin object (a class or module with ``@hookimpl``s)."""
        origin = origin or Origin(name)
        with self._lock:
            problem = register_plugin(self.pm, plugin, origin)
            if problem:
                raise StageError(f"plugin {name!r} cannot be registered: {problem.reason}")
            self._origins[name] = origin
            self._index = None

    def unregister(self, name: str) -> None:
        with self._lock:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
            self._origins.pop(name, None)
            self._index = None

    def plugin(self, name: str) -> Any:
        """The plugin object registered under ``name``, or ``None``."""
        return self.pm.get_plugin(name)

    def in_process(self, name: str) -> InProcessPlugin:
        """The :class:`InProcessPlugin` named ``name``, registered now if it is not yet.

        Raises:
            StageError: another kind of plugin holds the name.
        """
        with self._lock:
            plugin = self.plugin(name)
            if plugin is None:
                plugin = InProcessPlugin()
                self.register(plugin, name)
            elif not isinstance(plugin, InProcessPlugin):
                raise StageError(f"the plugin name {name!r} is taken by {plugin!r}; stages cannot be added to it")
            return plugin

    @contextlib.contextmanager
    def temporary_plugin(self, plugin: object, name: str, origin: Origin | None = None) -> Iterator[None]:
        """Register ``plugin`` for the duration of a ``with`` block."""
        self.register(plugin, name, origin)
        try:
            yield
        finally:
            self.unregister(name)

    def refresh(self) -> None:
        """Forget collected records; the next lookup calls the hooks again."""
        with self._lock:
            self._index = None

    # -- records ---------------------------------------------------------------------------

    @property
    def _collected(self) -> _Index:
        with self._lock:
            if self._index is None:
                self._index = _collect(self.pm, self._origins)
            return self._index

    @property
    def broken(self) -> list[BrokenPlugin]:
        return self._load_broken + self._collected.broken

    def mark_broken(self, broken: BrokenPlugin) -> None:
        with self._lock:
            if broken not in self._load_broken:
                self._load_broken.append(broken)

    def stages(self, kind: str | None = None) -> list[Stage]:
        """Registered stages, optionally of one kind, in registration order."""
        return [s for s in self._collected.stages if kind is None or s.kind == kind]

    def presets(self) -> list[tuple[PresetSpec, Origin]]:
        return list(self._collected.presets)

    def conflicts(self) -> dict[tuple[str, str], list[Stage]]:
        """``(kind, name)`` offered by more than one plugin -> the offering stages."""
        by_name: dict[tuple[str, str], list[Stage]] = {}
        for stage in self.stages():
            by_name.setdefault((stage.kind, stage.name), []).append(stage)
        return {key: stages for key, stages in by_name.items() if len(stages) > 1}

    def find(self, kind: str, name: str) -> Stage:
        """The stage ``name`` (or ``plugin.name``) of ``kind``; raises a one-line error."""
        if kind not in KINDS:
            raise ValueError(f"unknown stage kind {kind!r}; kinds are {', '.join(KINDS)}")
        plugin, dot, bare = name.rpartition(".")  # stage names have no dot; plugin names may
        if not dot:
            plugin, bare = "", name
        candidates = [
            s for s in self.stages(kind) if s.name == bare and (not plugin or s.origin.plugin == plugin)
        ]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            choices = " or ".join(s.qualified_name for s in candidates)
            offered = " and ".join(s.origin.plugin for s in candidates)
            raise AmbiguousStageError(f"{kind} {bare!r} is offered by {offered}: use {choices}")
        raise StageNotFoundError(self._not_found_message(kind, name))

    def _not_found_message(self, kind: str, name: str) -> str:
        names = sorted({s.name for s in self.stages(kind)} | {s.qualified_name for s in self.stages(kind)})
        message = f"unknown {kind} {name!r}"
        other_kinds = sorted({s.kind for s in self.stages() if name in (s.name, s.qualified_name)})
        if other_kinds:
            message += f" ({name!r} is a {' and a '.join(other_kinds)})"
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)  # stage names are lower-case
        if close:
            message += f"; did you mean {' or '.join(close)}?"
        else:
            message += f"; available: {', '.join(s.name for s in self.stages(kind)) or '(none)'}"
        if self.broken:
            message += f" (broken plugins: {', '.join(sorted({b.origin.plugin for b in self.broken}))})"
        return message

    def listing(self) -> dict[str, Any]:
        """Every stage, preset and broken plugin as plain data (what ``dfind --list-plugins --json`` prints)."""
        conflicts = self.conflicts()
        stages = []
        for stage in self.stages():
            entry = {
                "kind": stage.kind,
                "name": stage.name,
                "qualified_name": stage.qualified_name,
                **_origin_fields(stage.origin),
                "summary": stage.spec.summary,
                "params": [
                    {"name": p.name, "default": p.default, "help": p.help,
                     **({"choices": list(p.choices)} if p.choices is not None else {}),
                     **({"words": list(p.words)} if p.words else {})}
                    for p in stage.spec.params
                ],
                "conflict": (stage.kind, stage.name) in conflicts,
            }
            if stage.kind == "metric":
                entry["higher_is_better"] = stage.spec.higher_is_better
                entry["layers"] = list(stage.spec.layers)
            stages.append(entry)
        resolution = self.preset_resolution()
        presets = [{"name": spec.name, "qualified_name": f"{origin.plugin}.{spec.name}", "summary": spec.summary,
                    **_origin_fields(origin), "stages": _plain_refs(spec.stages),
                    "conflict": resolution[(origin.plugin, spec.name)][0],
                    "bare": resolution[(origin.plugin, spec.name)][1]} for spec, origin in self.presets()]
        broken = [{**_origin_fields(b.origin), "phase": b.phase, "reason": b.reason} for b in self.broken]
        return {"dfind": __version__, "stages": stages, "presets": presets, "broken": broken}

    def pipeline_refs(self, given: Mapping[str, Any], preset: str | None = None) -> dict[str, Any]:
        """A pipeline's stage references by kind: those ``given``, the preset's for those left ``None``.

        The preset (:meth:`preset_for`) fills the kinds ``given`` as ``None``, except that its
        postprocessors belong to its strategy: a strategy given without postprocessors gets none.
        Every stage named (not an object) is looked up and its parameters parsed, so an unknown
        stage or preset and a bad parameter fail here, before anything is built or torch imported.

        Raises:
            StageNotFoundError, AmbiguousStageError, ParameterError: with one line saying which.
        """
        refs = {kind: given.get(kind) for kind in KINDS}
        if preset is not None or any(value is None for value in refs.values()):
            name = self.preset_for(given, preset)
            stages = self.find_preset(name).stages
            for kind in KINDS:
                if refs[kind] is None and not (kind == "postprocessor" and given.get("strategy") is not None):
                    refs[kind] = stages.get(kind)
            for kind in ("metric", "strategy"):
                if refs[kind] is None:
                    raise ParameterError(f"no {kind} given and preset {name!r} defines none")
        for kind in KINDS:
            for ref in as_chain(refs[kind]) if kind in ("preprocessor", "postprocessor") else [refs[kind]]:
                named = split_stage_ref(kind, ref)
                if named is not None:
                    self.find(kind, named[0]).parse_params(named[1])
        return refs

    def preset_for(self, given: Mapping[str, Any], preset: str | None = None) -> str:
        """The name of the preset that fills the stages not ``given``: ``preset`` when one is named;
        else :data:`METRIC_PRESET` when a metric is given without a strategy (and a plugin offers
        that preset); else :data:`DEFAULT_PRESET`."""
        if preset is not None:
            return preset
        if given.get("metric") is not None and given.get("strategy") is None and any(
                spec.name == METRIC_PRESET for spec, _ in self.presets()):
            return METRIC_PRESET
        return DEFAULT_PRESET

    def find_preset(self, name: str) -> PresetSpec:
        """The preset ``name`` or ``plugin.name``; raises a one-line error.

        A bare name offered by several plugins is dfind's own when dfind offers it (the
        ``default`` preset stays dfind's whatever is installed), else it fails with the choices.
        """
        return self._resolve_preset(name)[0]

    def _resolve_preset(self, name: str) -> tuple[PresetSpec, Origin]:
        plugin, dot, bare = name.rpartition(".")  # preset names have no dot; plugin names may
        if not dot:
            plugin, bare = "", name
        matches = [(spec, origin) for spec, origin in self.presets()
                   if spec.name == bare and (not plugin or origin.plugin == plugin)]
        if len(matches) > 1:
            matches = [match for match in matches if match[1].first_party] or matches
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            choices = " or ".join(f"{origin.plugin}.{spec.name}" for spec, origin in matches)
            offered = " and ".join(origin.plugin for _, origin in matches)
            raise AmbiguousStageError(f"preset {bare!r} is offered by {offered}: use {choices}")
        names = sorted({spec.name for spec, _ in self.presets()} | {f"{o.plugin}.{s.name}" for s, o in self.presets()})
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)  # stage names are lower-case
        hint = (f"; did you mean {' or '.join(close)}?" if close
                else f"; available: {', '.join(spec.name for spec, _ in self.presets()) or '(none)'}")
        raise StageNotFoundError(f"unknown preset {name!r}{hint}")

    def preset_resolution(self) -> dict[tuple[str, str], tuple[bool, bool]]:
        """``(plugin, preset name)`` -> ``(conflict, bare)``: whether another plugin offers the name,
        and whether the bare name selects this preset (see :meth:`find_preset`)."""
        resolved = {}
        for spec, origin in self.presets():
            conflict = sum(other.name == spec.name for other, _ in self.presets()) > 1
            try:
                bare = self._resolve_preset(spec.name)[1] == origin
            except AmbiguousStageError:
                bare = False
            resolved[(origin.plugin, spec.name)] = (conflict, bare)
        return resolved


def _origin_fields(origin: Origin) -> dict[str, Any]:
    return {"plugin": origin.plugin, "distribution": origin.distribution, "version": origin.version}


def _plain_refs(refs: Any) -> Any:
    """Stage references as JSON values (objects in a preset are shown by their ``repr``)."""
    if isinstance(refs, Mapping):
        return {k: _plain_refs(v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)):
        return [_plain_refs(v) for v in refs]
    return refs if isinstance(refs, (str, int, float, bool, type(None))) else repr(refs)


@dataclass
class _Index:
    stages: list[Stage]
    presets: list[tuple[PresetSpec, Origin]]
    broken: list[BrokenPlugin]


def _collect(pm: Any, origins: Mapping[str, Origin]) -> _Index:
    """Call every hook implementation on its own and validate what it returns."""
    stages: list[Stage] = []
    presets: list[tuple[PresetSpec, Origin]] = []
    broken: list[BrokenPlugin] = []
    failed: set[str] = set()
    hooks = [*hookspecs.STAGE_HOOKS, "dfind_presets"]
    for hook_name in hooks:
        kind = hookspecs.STAGE_HOOKS.get(hook_name)
        record_type = StageSpec if kind else PresetSpec
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            origin = origins.get(impl.plugin_name) or Origin(impl.plugin_name)
            if impl.plugin_name in failed:
                continue
            try:
                records = call_hookimpl(pm, hook_name, impl)
                seen: set[str] = set()
                for record in records:
                    if not isinstance(record, record_type):
                        raise TypeError(f"{hook_name} yielded {type(record).__name__}, not {record_type.__name__}")
                    if not NAME_RE.match(record.name):
                        raise ValueError(f"{hook_name} yielded the invalid name {record.name!r}")
                    if record.name in seen:
                        raise ValueError(f"{hook_name} yielded {record.name!r} twice")
                    seen.add(record.name)
                    if kind == "metric" and not isinstance(record.higher_is_better, bool):
                        raise ValueError(f"metric {record.name!r} does not declare higher_is_better")
            except BaseException as exc:  # a plugin's hook may raise anything, even SystemExit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                broken.append(BrokenPlugin(origin, "hook", f"{hook_name}: {one_line(exc)}"))
                failed.add(impl.plugin_name)
                continue
            if kind:
                stages.extend(Stage(kind, spec, origin) for spec in records)
            else:
                presets.extend((spec, origin) for spec in records)
    stages = [s for s in stages if s.origin.plugin not in failed]
    presets = [p for p in presets if p[1].plugin not in failed]
    return _Index(stages, presets, broken)


def create_registry(autoload: bool | None = None) -> Registry:
    """A new registry holding the plugins found through the ``dfind`` entry points."""
    pm = make_plugin_manager()
    origins, broken = load_entry_point_plugins(pm, autoload)
    return Registry(pm, origins, broken)


_default: Registry | None = None
_default_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide default registry, created on first use.

    The Python API (``Finder()``, ``register_metric``, ``check_metric``) uses it when no
    registry is given; the command line never does (it builds its own for each invocation).
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = create_registry()
        return _default


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide default (``None``: rebuild on next use); returns the old one.

    For tests (:func:`dfcore.testing.using_registry`); code that needs another registry passes
    it down instead.
    """
    global _default
    with _default_lock:
        old, _default = _default, registry
        return old

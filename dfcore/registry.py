"""The stage registry: every stage any plugin offers, where it comes from, and how to build it.

Records (:class:`StageSpec`, :class:`Param`, :class:`PresetSpec`) are what hooks yield. The
:class:`Registry` calls each plugin's hooks on its own, so one failing hook marks one plugin
broken, and indexes the records by kind and name. Two plugins offering one name are both
kept: the bare name then fails with the choices, and ``plugin.name`` picks one.

Nothing here imports torch; a stage's implementation is imported by :meth:`Stage.build`.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib
import numbers
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dfcore import hookspecs
from dfcore.errors import AmbiguousStageError, ParameterError, StageError, StageNotFoundError
from dfcore.plugins import (
    BrokenPlugin,
    Origin,
    call_hookimpl,
    load_entry_point_plugins,
    make_plugin_manager,
    one_line,
    register_plugin,
)

KINDS = ("preprocessor", "metric", "strategy", "postprocessor")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_+-]*$")
_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One stage parameter: name, default, one-line help and optional allowed values.

    ``default`` also fixes the type a value given as text (on the command line) is parsed
    to: bool, int, float, str, or a tuple/list written ``[0.01,0.03]``. ``words`` are text
    values accepted besides that type (``shift=auto`` next to ``shift=2``).
    """

    name: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    words: tuple[str, ...] = ()

    def parse(self, value: Any) -> Any:
        """Convert ``value`` (text from the CLI, or a Python value) and check it.

        Text is read according to the default's type (a quoted value is unquoted); any value
        must then have that type: a bool for a bool, an integer for an int, a number for a
        float, text for a str, a list or tuple for a tuple, or be one of ``words``. A ``None``
        default accepts anything.
        """
        if isinstance(value, str) and value.strip().lower() in self.words:
            return value.strip().lower()
        try:
            if isinstance(value, str) and not isinstance(self.default, str):
                value = _parse_text(value, self.default)
            elif isinstance(value, str) and _is_quoted(value):
                value = ast.literal_eval(value.strip())
            value = _check_type(value, self.default)
        except ValueError as exc:
            if not self.words:
                raise
            raise ValueError(f"{exc} (or {', '.join(self.words)})") from None
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise ValueError(f"{value!r} is not one of: {allowed}")
        return value


def _is_quoted(text: str) -> bool:
    text = text.strip()
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


def _parse_text(text: str, default: Any) -> Any:
    stripped = text.strip()
    if isinstance(default, bool):
        lowered = stripped.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(stripped)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if default is None and not stripped.startswith(("[", "(", "{", "'", '"')):
        if stripped.lower() == "none":
            return None
        for convert in (int, float):
            with contextlib.suppress(ValueError):
                return convert(stripped)
        return text
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        raise ValueError(f"cannot read {text!r}; write a list as [a,b] and text in quotes") from None


def _check_type(value: Any, default: Any) -> Any:
    """``value`` checked against the type of ``default``; ints widen to float, lists become tuples."""
    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        return value
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"expected a list such as [a,b], got {value!r}")
        return type(default)(value)
    return value


@dataclass(frozen=True)
class StageSpec:
    """What a plugin says about one stage; the hook it comes from gives its kind.

    Attributes:
        name: lower-case, digits, ``-`` and ``_`` allowed (``ms-ssim``).
        target: ``"package.module:attr"``, imported on first use, or the factory itself; called
            with the parameters as keywords it returns the stage object.
        summary: one line for ``--list-plugins``.
        params: the parameters with their defaults; nothing else is accepted.
        higher_is_better: metrics only: whether a larger value means more similar.
        layers: metrics only: the names of the feature layers a Grad-CAM style strategy can hook,
            shallow to deep (first is default): the keys of the metric's ``feature_layers(device)``.
    """

    name: str
    target: str | Callable[..., Any]
    summary: str = ""
    params: tuple[Param, ...] = ()
    higher_is_better: bool | None = None
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "layers", tuple(self.layers))


@dataclass(frozen=True)
class PresetSpec:
    """A named pipeline: stage references by kind (``{"metric": "ssim", ...}``)."""

    name: str
    summary: str
    stages: Mapping[str, Any] = field(default_factory=dict)


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

    def find_preset(self, name: str) -> PresetSpec:
        matches = [spec for spec, _ in self.presets() if spec.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            offered = " and ".join(o.plugin for s, o in self.presets() if s.name == name)
            raise AmbiguousStageError(f"preset {name!r} is offered by {offered}; remove one of them")
        names = [spec.name for spec, _ in self.presets()]
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)  # stage names are lower-case
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; available: {', '.join(names) or '(none)'}"
        raise StageNotFoundError(f"unknown preset {name!r}{hint}")


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
                    if not _NAME_RE.match(record.name):
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


def parse_stage_ref(text: str) -> tuple[str, dict[str, str]]:
    """Split CLI text ``"highpass:cutoff=0.1,profile=ideal"`` into name and raw parameters.

    Commas inside brackets or quotes do not split (``ssim:k=[0.01,0.03]``).
    """
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ParameterError(f"empty stage name in {text!r}")
    params: dict[str, str] = {}
    for item in _split_top_level(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ParameterError(f"bad parameter {item!r} in {text!r}; write name:key=value,key=value")
        params[key.strip()] = value.strip()
    return name, params


def _split_top_level(text: str) -> list[str]:
    items, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if current or items:
        items.append("".join(current))
    return [item for item in items if item.strip()]


def create_registry(autoload: bool | None = None) -> Registry:
    """A new registry holding the plugins found through the ``dfind`` entry points."""
    pm = make_plugin_manager()
    origins, broken = load_entry_point_plugins(pm, autoload)
    return Registry(pm, origins, broken)


_default: Registry | None = None
_default_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = create_registry()
        return _default


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry (``None``: rebuild on next use); returns the old one."""
    global _default
    with _default_lock:
        old, _default = _default, registry
        return old

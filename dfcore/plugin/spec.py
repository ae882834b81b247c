"""The records plugins hand to dfind, and how stage references are written.

A hook yields :class:`StageSpec` records (one per stage; the hook gives the kind) and
:class:`PresetSpec` records (named pipelines). A record is data: a name, a one-line summary,
:class:`Param` parameters with their defaults, flags such as ``higher_is_better``, and a
``target`` imported only when the stage is built. :func:`parse_stage_ref` reads the text form
of a stage reference (``"highpass:cutoff=0.1"``) used on the command line and in presets.

This module is the bottom of the plugin layer: it imports only the standard library and
:mod:`dfcore.errors`, so plugins can import it without pulling in anything else.
"""

from __future__ import annotations

import ast
import contextlib
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dfcore.errors import ParameterError

#: The four kinds of stage, in pipeline order.
KINDS = ("preprocessor", "metric", "strategy", "postprocessor")
#: What a stage, preset or plugin-registered metric name may look like (``ms-ssim``).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_+-]*$")


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


def parse_stage_ref(text: str) -> tuple[str, dict[str, str]]:
    """Split CLI text ``"highpass:cutoff=0.1,profile=ideal"`` into name and raw parameters.

    Commas inside brackets or quotes do not split (``ssim:k=[0.01,0.03]``). A parameter given
    twice is refused: which of the two was meant cannot be known.
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
        if key.strip() in params:
            raise ParameterError(f"parameter {key.strip()!r} is given twice in {text!r}; give it once")
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

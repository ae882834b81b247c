"""Pairing rules: what a :class:`PairBy` holds, how it is checked, described and applied to a name.

The rules themselves (``path``, ``order``, ``stem``) are described in :mod:`dfcore.io.pairing`,
which applies them to folders; this module is the rule as a value: its options checked once,
recorded in ``summary.json`` (:meth:`PairBy.to_dict`), told in words (:func:`describe_rule`),
and the key a ``stem`` rule gives a file name (:func:`name_key`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dfcore.errors import ParameterError

#: The pairing rules of :class:`PairBy`.
RULES = ("path", "order", "stem")
_STRIPS = ("strip_a", "strip_b", "strip_truth")


@dataclass(frozen=True)
class PairBy:
    """How folders are paired: a rule of :data:`RULES` and its options (the rules: :mod:`dfcore.io.pairing`).

    ``strip_a``, ``strip_b`` (and, for three folders, ``strip_truth``): affixes removed from
    the names of A's (B's, the truth's) images, a text or a sequence of them (the first that
    fits is removed); ``match``: a regular expression with a named group ``key``, searched in
    every name (the file name without its extension); both for ``stem`` only, and not
    together. ``allow_unequal``: for ``order``, pair folders of different lengths.

    >>> PairBy.stem(strip_b="_x4_SR").to_dict()
    {'rule': 'stem', 'strip_b': ['_x4_SR']}

    Raises:
        ParameterError: an unknown rule, an option of another rule, an empty affix, a pattern
            that does not compile or has no group ``key``.
    """

    rule: str = "path"
    strip_a: tuple[str, ...] = ()
    strip_b: tuple[str, ...] = ()
    strip_truth: tuple[str, ...] = ()
    match: str | None = None
    allow_unequal: bool = False

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ParameterError(f"pair_by: unknown rule {self.rule!r}; the rules are {', '.join(RULES)}")
        for name in _STRIPS:
            value = getattr(self, name)
            affixes = (value,) if isinstance(value, str) else tuple(value)
            if not all(isinstance(affix, str) and affix for affix in affixes):
                raise ParameterError(f"{name}: give non-empty text to strip from the names, got {value!r}")
            object.__setattr__(self, name, affixes)
        given = [name for name in (*_STRIPS, "match") if getattr(self, name)]
        if given and self.rule != "stem":
            raise ParameterError(f"{', '.join(given)}: only when pairing by stem (the rule is {self.rule})")
        if self.allow_unequal and self.rule != "order":
            raise ParameterError(f"allow_unequal: only when pairing by order (the rule is {self.rule})")
        if self.match is not None:
            if any(getattr(self, name) for name in _STRIPS):
                raise ParameterError("match: give a pattern or affixes to strip, not both")
            _key_pattern(self.match)

    @classmethod
    def path(cls) -> PairBy:
        """Same relative path (the default)."""
        return cls("path")

    @classmethod
    def order(cls, allow_unequal: bool = False) -> PairBy:
        """Same position in each folder's sorted listing."""
        return cls("order", allow_unequal=allow_unequal)

    @classmethod
    def stem(cls, *, strip_a: str | Sequence[str] = (), strip_b: str | Sequence[str] = (),
             strip_truth: str | Sequence[str] = (), match: str | None = None) -> PairBy:
        """Same key: the name without extension, with affixes stripped or the ``key`` group of ``match``."""
        return cls("stem", strip_a=strip_a, strip_b=strip_b, strip_truth=strip_truth, match=match)  # type: ignore[arg-type]

    @classmethod
    def of(cls, value: PairBy | str | None) -> PairBy:
        """A rule from a :class:`PairBy`, a rule's name, or ``None`` (by path)."""
        if value is None:
            return cls()
        if isinstance(value, PairBy):
            return value
        if isinstance(value, str):
            return cls(value)
        raise ParameterError(f"pair_by: give one of {', '.join(RULES)} or a PairBy, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """The rule and the options it was given, for ``summary.json``."""
        data: dict[str, Any] = {"rule": self.rule}
        data.update({name: list(getattr(self, name)) for name in _STRIPS if getattr(self, name)})
        if self.match is not None:
            data["match"] = self.match
        if self.allow_unequal:
            data["allow_unequal"] = True
        return data


def describe_rule(rule: Mapping[str, Any]) -> str:
    """A rule as ``summary.json`` records it, in words: ``"by stem, B's names without _x4_SR"``."""
    kind = rule.get("rule")
    if kind == "csv":
        return f"as listed in {rule.get('file')}" if rule.get("file") else "as listed in a pairs file"
    if kind == "order":
        return "by sorted position" + (", unequal lengths allowed" if rule.get("allow_unequal") else "")
    if kind == "stem":
        parts = [f"{role}'s names without {' or '.join(map(str, _listed(rule[key])))}"
                 for key, role in (("strip_truth", "the truth"), ("strip_a", "A"), ("strip_b", "B")) if rule.get(key)]
        if rule.get("match"):
            parts.append(f"names matching {rule['match']}")
        return "by stem" + (", " + ", ".join(parts) if parts else "")
    return "by relative path" if kind in (None, "path") else f"by {kind}"


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def name_key(name: str, strip: tuple[str, ...] = (), match: str | None = None) -> str | None:
    """The key of a file name without its extension: ``match``'s group ``key``, or the name with the
    first of the affixes ``strip`` that fits removed (from its end, else from its start); ``None``
    when the pattern does not match or no affix fits."""
    if match is not None:
        found = _key_pattern(match).search(name)
        return found.group("key") if found else None
    if not strip:
        return name
    for affix in strip:
        if name.endswith(affix):
            return name[: -len(affix)]
        if name.startswith(affix):
            return name[len(affix):]
    return None


@functools.lru_cache(maxsize=32)
def _key_pattern(match: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(match)
    except re.error as exc:
        raise ParameterError(f"match {match!r}: not a regular expression ({exc})") from None
    if "key" not in pattern.groupindex:
        raise ParameterError(f"match {match!r}: the pattern needs a named group (?P<key>...) for the part of the "
                             "names that both sides share")
    return pattern


__all__ = ["RULES", "PairBy", "describe_rule", "name_key"]

"""The dfind error tree.

Every error a user can cause (a bad file, a bad stage name, a bad parameter, a broken
plugin) is a :class:`DfindError` whose message fits on one line and names its cause. The
CLI prints ``str(error)`` and exits with :attr:`DfindError.exit_code`; tracebacks are for
``--debug``. :func:`one_line` is how any other exception is shown in such a line.

This module is the leaf of dfcore: it imports nothing of dfind.
"""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """``"ExcType: first line of the message"``: how a failure is shown in a listing or an error line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class DfindError(Exception):
    """Base class: a one-line, user-facing failure."""

    exit_code = 2


class InputError(DfindError):
    """An input image cannot be used: missing, unreadable, corrupt, wrong layout or range."""


class PairingError(InputError):
    """Folders cannot be paired as asked: an ambiguous match, or folders of different lengths paired by order."""


class NoPairsError(PairingError):
    """Two (or three) folders gave no pair at all (raised with ``on_empty="raise"``; else a :class:`NoPairsWarning`)."""


class NoPairsWarning(UserWarning):
    """Two (or three) folders gave no pair at all: the run is empty (see ``on_empty`` to raise instead)."""


class ShapeError(InputError, ValueError):
    """Two inputs (or an input and a stage's requirement) disagree on shape."""


class StageNotFoundError(DfindError, LookupError):
    """No plugin offers a stage of that kind and name."""


class AmbiguousStageError(DfindError, LookupError):
    """Several plugins offer the same stage name; a qualified ``plugin.name`` is needed."""


class ParameterError(DfindError, ValueError):
    """A stage parameter (or an option such as a pairing rule's) is unknown or its value is invalid."""


class StageError(DfindError):
    """A stage failed while being built or run (for example a plugin whose target does not import)."""


class StageRuntimeError(StageError):
    """A stage raised while it ran; the message names the stage, its plugin and distribution, the
    original exception is the cause (its traceback, shown by ``--debug``, is for the plugin's authors)."""


class MetricCheckError(StageError):
    """A metric broke its contract or failed validation (shape, finiteness, autograd dependency, gradcheck)."""


class WeightsError(DfindError):
    """Pretrained weights a stage needs are missing or unreadable."""


class EngineError(DfindError):
    """A folder-run engine cannot run: not installed, no cluster to join, or workers that cannot start."""

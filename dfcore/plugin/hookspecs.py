"""Hook specifications: how a plugin offers stages to dfind.

A plugin is a module (or any object) with functions decorated by :data:`hookimpl`, registered
under the entry-point group ``dfind``::

    [project.entry-points.dfind]
    myplugin = "dfind_myplugin.plugin"

Each hook takes no arguments and returns (or yields) small frozen records: :class:`StageSpec`
for the four stage kinds, :class:`PresetSpec` for named pipelines. The hook a record comes
from gives its kind. Hooks are called once per registry (normally once per process), while
``dfind --list-plugins`` runs, so they must stay cheap: no ``import torch`` here, no work
beyond building the records. The implementation a record points at (its ``target``) is
imported only when the stage is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dfcore.plugin.spec import PresetSpec, StageSpec

PROJECT_NAME = "dfind"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def dfind_preprocessors() -> Iterable[StageSpec]:
    """Offer preprocessor stages.

    A preprocessor is a differentiable torch transform applied to each image of the pair
    (``x -> x'``, NxCxHxW to NxC'xHxW, same height and width). A *pairwise* preprocessor
    (attribute ``pairwise = True``) sees both images at once through ``pair(a, b)`` and may
    return a validity mask; alignment is one. See ``docs/contracts.md``.
    """


@hookspec
def dfind_metrics() -> Iterable[StageSpec]:
    """Offer metric stages.

    A metric maps two NxCxHxW images to one value per sample (shape ``[N]``). Its record
    declares ``higher_is_better`` and, when it has them, the feature ``layers`` that Grad-CAM
    style strategies can hook.
    """


@hookspec
def dfind_strategies() -> Iterable[StageSpec]:
    """Offer strategy stages.

    A strategy turns a :class:`dfcore.contracts.Problem` (the two prepared images and the
    bound metric) into a map Nx1xHxW on the input image's pixel grid, larger = more different.
    """


@hookspec
def dfind_postprocessors() -> Iterable[StageSpec]:
    """Offer postprocessor stages.

    A postprocessor maps a :class:`dfcore.contracts.StageOutput` to a new map, and may attach
    a binary mask and the connected regions found in it.
    """


@hookspec
def dfind_presets() -> Iterable[PresetSpec]:
    """Offer named pipelines (``--preset NAME``).

    ``default`` is the pipeline ``Finder()`` and ``dfind A B`` use when no stage is given.
    """


#: Hook name -> the stage kind its records describe.
STAGE_HOOKS = {
    "dfind_preprocessors": "preprocessor",
    "dfind_metrics": "metric",
    "dfind_strategies": "strategy",
    "dfind_postprocessors": "postprocessor",
}

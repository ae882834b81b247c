"""``identity``: the postprocessor that changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

    from dfcore.contracts import StageOutput


class Identity:
    """Return the map unchanged."""

    def __call__(self, out: StageOutput) -> Tensor:
        return out.map

"""Rebuilding a pipeline in another process, with the same configuration: :class:`FinderRecipe`.

A distributed engine ships the recipe to its workers; each rebuilds the pipeline once from
its own registry, so what it writes resumes and compares as this process's results do.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import torch

from dfcore.pipeline import Pipeline
from dfcore.plugin.loading import Origin
from dfcore.plugin.registry import InProcessPlugin, create_registry
from dfcore.plugin.spec import StageSpec


@dataclass(frozen=True)
class FinderRecipe:
    """What rebuilds a :class:`~dfcore.pipeline.Pipeline` (or a Finder) in another process, with its configuration.

    Stages offered by installed plugins travel as ``(qualified_name, params)`` and are built
    there from that process's registry (so an LPIPS network is loaded once per process, not
    shipped). Stages registered in this process (``register_metric``, an in-process plugin)
    travel with their records and are registered there under the same plugin name; stage
    objects given to the :class:`Finder` directly travel as they are. The rebuilt pipeline's
    :attr:`~dfcore.pipeline.Pipeline.config` equals this one's but for the device, so what it writes resumes
    and compares as this process's results do. The recipe must be picklable the way the
    engine ships it (Ray uses cloudpickle, which also takes functions defined in ``__main__``).
    """

    stages: dict[str, Any]
    shipped: tuple[tuple[Origin, tuple[tuple[str, StageSpec], ...]], ...]
    preset: str
    device: str
    conventions: tuple[bool, int, str]
    autoload: bool

    @classmethod
    def of(cls, finder: Pipeline) -> FinderRecipe:
        """The recipe of ``finder``."""
        shipped: dict[Origin, list[tuple[str, StageSpec]]] = collections.defaultdict(list)
        autoload = False

        def ref(built: Any) -> Any:
            nonlocal autoload
            qualified = built.record.get("qualified_name")
            if not qualified:
                return built.obj
            stage = finder.registry.find(built.kind, qualified)
            if stage.origin.distribution is None:
                shipped[stage.origin].append((built.kind, stage.spec))
            elif not stage.origin.first_party:
                autoload = True
            return (qualified, dict(built.record.get("params") or {}))

        stages = {
            "preprocessor": [ref(s) for s in finder.preprocessors],
            "metric": ref(finder.metric),
            "strategy": ref(finder.strategy),
            "postprocessor": [ref(s) for s in finder.postprocessors],
        }
        conventions = finder.conventions
        return cls(stages, tuple((origin, tuple(specs)) for origin, specs in shipped.items()), finder.preset,
                   str(finder.device), (conventions.y_channel, conventions.crop_border, conventions.size_policy),
                   autoload)

    def build(self, device: str | torch.device | None = None) -> Pipeline:
        """The pipeline, built here: on ``device``, or on the original pipeline's device."""
        registry = create_registry(autoload=self.autoload)
        for origin, specs in self.shipped:
            registry.register(InProcessPlugin(specs), origin.plugin, origin)
        y_channel, crop_border, size_policy = self.conventions
        pipeline = Pipeline(**self.stages, device=self.device if device is None else device, registry=registry,
                            y_channel=y_channel, crop_border=crop_border, size_policy=size_policy)
        pipeline.preset = self.preset  # every stage was given, so the preset only names the origin
        return pipeline


__all__ = ["FinderRecipe"]

"""``difference``: the absolute difference of the preprocessed images."""

from __future__ import annotations

import torch
from torch import Tensor

from dfcore.contracts import Problem
from dfplugins_builtin.strategies.channels import check_reduction, reduce_channels


class Difference:
    """|pre(a) - pre(b)|, channels combined by ``reduce`` (mean by default)."""

    def __init__(self, reduce: str = "mean") -> None:
        self.reduce = check_reduction(reduce)

    def __call__(self, problem: Problem) -> Tensor:
        with torch.no_grad():
            pre = problem.metric.preprocess
            return reduce_channels((pre(problem.a) - pre(problem.b)).abs(), self.reduce)

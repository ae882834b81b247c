"""The pipeline evaluates the score once when the strategy already evaluated it on the pair."""

from __future__ import annotations

import pytest
import torch

from dfcore import Finder
from dfcore.pipeline import BoundMetric
from dfcore.testing import fresh_registry, planted_pair, using_registry


class CountingMSE:
    name = "counting-mse"
    higher_is_better = False

    def __init__(self):
        self.calls = 0

    def __call__(self, x, y):
        self.calls += 1
        return ((x - y) ** 2).flatten(1).mean(1)


@pytest.fixture(autouse=True)
def _registry():
    with using_registry(fresh_registry()):
        yield


def test_gradient_strategy_evaluates_the_metric_once_per_pair():
    a, b, _ = planted_pair(32, 48)
    metric = CountingMSE()
    result = Finder(metric=metric, strategy="gradient", device="cpu").run(a, b)
    assert metric.calls == 1
    assert result.score == pytest.approx(float(((a - b) ** 2).mean()))


def test_a_strategy_that_never_evaluates_the_pair_gets_the_score_computed():
    a, b, _ = planted_pair(32, 48)
    metric = CountingMSE()

    def shifted(problem):  # evaluates the metric, but on other images than the pair
        problem.metric(problem.a, problem.b.roll(1, -1))
        return (problem.a - problem.b).abs().mean(1, keepdim=True)

    result = Finder(metric=metric, strategy=shifted, device="cpu").run(a, b)
    assert metric.calls == 2
    assert result.score == pytest.approx(float(((a - b) ** 2).mean()))


def test_values_of_a_modified_tensor_are_not_taken_for_the_pair():
    a, b, _ = planted_pair(16, 16)
    bound = BoundMetric(CountingMSE(), False, pair=(a, b))
    bound(a.detach(), b.detach())
    assert torch.equal(bound.pair_value, ((a - b) ** 2).flatten(1).mean(1))
    bound.pair_value = None
    changed = b.clone()
    bound(a, changed)  # equal values, other memory
    c = b.detach()
    c.add_(0.0)  # same memory, but written to since
    bound(a, c)
    assert bound.pair_value is None

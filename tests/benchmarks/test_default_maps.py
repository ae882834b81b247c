"""The default-map check's report of which facts a change moved."""

from __future__ import annotations

from benchmarks.default_maps import changed_facts


def test_changed_facts_names_each_stage_s_fact_that_differs_in_any_sample():
    before = [{"difference": {"shift": 0, "register": {"tiles": 77}}, "regions": {"differences": 2}},
              {"difference": {"shift": 1, "register": None}, "regions": {"differences": 0}}]
    after = [{"difference": {"shift": 0, "register": {"tiles": 29}}, "regions": {"differences": 2}},
             {"difference": {"shift": 1, "register": None, "exact": True}, "regions": {"differences": 1}}]
    assert changed_facts(before, after) == ["difference.exact", "difference.register", "regions.differences"]
    assert changed_facts(before, before) == []
    assert changed_facts([{"a": 1}], [{"a": 1}, {"a": 1}]) == ["info"]  # another batch

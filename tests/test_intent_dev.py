"""edge's interpretation on the real third-party development set in ../shared/eval (never trained on).

A regression guard, not evidence: the figures are published by `python -m bench.intent_dev`. The floors sit
below the measured values so a change that costs real sentences fails here first.
"""

from __future__ import annotations

import pytest

from bench import intent_dev

pytestmark = pytest.mark.skipif(
    not intent_dev.DEV_SET.is_file(),
    reason=f"{intent_dev.DEV_SET} absent: the development set lives outside the repository",
)


@pytest.fixture(scope="module")
def scores() -> dict:
    return intent_dev.run()


def test_dev_set_in_scope_and_rejection_floors(scores: dict) -> None:
    edge = scores["edge"]
    assert edge["counts"]["in_scope"] > 400 and edge["counts"]["out_of_scope"] > 500
    assert edge["in_scope_right"] >= 0.88
    assert edge["explicit_right"] >= 0.88
    assert edge["out_of_scope_rejected"] >= 0.97


def test_edge_beats_the_keyword_rules(scores: dict) -> None:
    edge, keywords = scores["edge"], scores["keywords"]
    assert edge["in_scope_right"] > keywords["in_scope_right"]
    assert edge["out_of_scope_rejected"] > keywords["out_of_scope_rejected"]

"""edge's interpretation on the real third-party development sets in ../shared/eval (never trained on).

A regression guard, not evidence: the figures are published by `python -m bench.intent_dev`. The floors sit
below the measured values so a change that costs real sentences fails here first; on the paraphrase and
CLINC150 sets they are the figures before issue 18's grammar (in scope 81.4 %, explicit 85.7 %, out of
scope rejected 79.2 % and 94.65 %), which the issue says must not fall.
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


@pytest.mark.skipif(
    not intent_dev.DEV_SETS["paraphrases"][0].is_file(), reason="the paraphrase development set is absent"
)
def test_paraphrase_set_stays_above_the_figures_before_issue_18() -> None:
    edge = intent_dev.run("paraphrases")["edge"]
    assert edge["counts"]["in_scope"] > 700 and edge["counts"]["out_of_scope"] > 200
    assert edge["in_scope_right"] >= 0.814
    assert edge["explicit_right"] >= 0.857
    assert edge["out_of_scope_rejected"] >= 0.792


@pytest.mark.skipif(
    not intent_dev.DEV_SETS["clinc150"][0].is_file(),
    reason="the CLINC150 development set is absent (../shared/eval)",
)
def test_clinc150_queries_are_refused_at_least_as_often_as_before_issue_18() -> None:
    edge = intent_dev.run("clinc150")["edge"]
    assert edge["counts"]["out_of_scope"] > 20_000
    assert edge["out_of_scope_rejected"] >= 0.9465

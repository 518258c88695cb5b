"""Score ``edge intent`` on the real third-party development sets in ../shared/eval/.

    python -m bench.intent_dev [--errors]

Three sets, relabelled to edge's intents (see ../shared/eval/README.md), measured and never trained on:
- ``ha_tests``: home-assistant/intents' test suite (tests/en/*.yaml, commit aa550032, CC BY 4.0);
- ``paraphrases``: crowd-sourced smart-home paraphrases from stanford-oval/thingpedia-common-devices
  (commit 35592e1f, BSD-3-Clause);
- ``clinc150``: crowd-sourced assistant queries from clinc/oos-eval (commit 828f8093, CC BY 3.0; Larson et
  al., EMNLP 2019), none of them for edge.
Rows per set: in-scope right (``core`` tier), explicit (core rows naming the device kind and an action
word), and out-of-scope rejected (``hard`` and ``ood`` tiers must give ``none``), for edge's full
interpretation (classifier, unsupported cues, slots) as ``edge intent --json`` prints it, and for a
keyword rule set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.config import load_config
from edge.devices.bank import DeviceBank, mock_pin_factory
from edge.understanding.features import tokens
from edge.understanding.handler import Understanding

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = Path(os.environ.get("EDGE_EVAL_DIR", REPO.parent / "shared" / "eval"))
DEV_SET = EVAL_DIR / "intents-dev.jsonl"
# name -> (file, attribution)
DEV_SETS: dict[str, tuple[Path, str]] = {
    "ha_tests": (
        DEV_SET,
        "home-assistant/intents tests/en (commit aa550032, CC BY 4.0), relabelled for edge",
    ),
    "paraphrases": (
        EVAL_DIR / "intents-dev-paraphrases.jsonl",
        "stanford-oval/thingpedia-common-devices (commit 35592e1f, BSD-3-Clause), relabelled for edge",
    ),
    "clinc150": (
        EVAL_DIR / "oos-dev-clinc150.jsonl",
        "clinc/oos-eval data_full.json (commit 828f8093, CC BY 3.0; Larson et al., EMNLP 2019)",
    ),
}


def load_rows(path: Path = DEV_SET) -> list[dict[str, Any]]:
    """The development rows, one dict per JSON line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def keyword_intent(text: str) -> str:
    """A small keyword rule set: the baseline a trained classifier has to beat."""
    words = set(tokens(text))
    light = bool(words & {"light", "lights", "lamp", "lamps", "lighting", "bulb"})
    fan = bool(words & {"fan", "fans"})
    if words & {"cancel", "stop", "nevermind"} and not (light or fan):
        return "stop_cancel"
    if not (light or fan):
        return "none"
    kind = "fan" if fan and not light else "light"
    if words & {"is", "are", "which", "what", "status"}:
        return "status_query"
    if kind == "light" and (words & {"percent", "brightness"} or any(w.isdigit() for w in words)):
        return "light_set_brightness"
    if words & {"off", "deactivate", "disable", "kill"}:
        return f"{kind}_off"
    if kind == "light" and words & {"dim", "dimmer", "darker", "lower", "decrease"}:
        return "light_dimmer"
    if kind == "light" and words & {"brighter", "brighten", "increase", "raise"}:
        return "light_brighter"
    if words & {"on", "activate", "enable", "up", "start"}:
        return f"{kind}_on"
    return "none"


def score(predict: Callable[[str], str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """In-scope right, explicit right, and out-of-scope rejected, with the misses."""
    core: list[bool] = []
    explicit: list[bool] = []
    rejected: dict[str, list[bool]] = {"hard": [], "ood": []}
    misses: list[dict[str, str]] = []
    for row in rows:
        got = predict(row["text"])
        allowed = [
            "none" if label == "other" else label for label in row.get("acceptable_labels") or [row["label"]]
        ]
        right = got in allowed
        if row["tier"] == "core":
            core.append(right)
            if row.get("explicit"):
                explicit.append(right)
        else:
            rejected[row["tier"]].append(right)
        if not right:
            misses.append({"tier": row["tier"], "want": allowed[0], "got": got, "text": row["text"]})
    out = rejected["hard"] + rejected["ood"]
    return {
        "in_scope_right": _share(core),
        "explicit_right": _share(explicit),
        "out_of_scope_rejected": _share(out),
        "hard_rejected": _share(rejected["hard"]),
        "ood_rejected": _share(rejected["ood"]),
        "counts": {"in_scope": len(core), "explicit": len(explicit), "out_of_scope": len(out)},
        "misses": misses,
    }


def _share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run(name: str = "ha_tests") -> dict[str, Any]:
    """edge's and the keyword rules' scores on one set, or a skip message when ../shared/eval is absent."""
    path, attribution = DEV_SETS[name]
    if not path.is_file():
        return {"skipped": f"{path} not found: the development sets live outside the repository"}
    rows = load_rows(path)
    config = load_config(REPO / "edge.yaml", board_override="sim")
    bank = DeviceBank.from_config(config, mock_pin_factory(config.board))
    try:
        understanding = Understanding.from_config(config, bank)
        edge_scores = score(lambda text: understanding.interpret(text).intent, rows)
    finally:
        bank.close()
    return {
        "source": attribution,
        "sentences": len(rows),
        "edge": edge_scores,
        "keywords": score(keyword_intent, rows),
    }


def run_all(errors: bool = False) -> dict[str, Any]:
    """Every development set by name; the lists of misses only when ``errors``."""
    result = {name: run(name) for name in DEV_SETS}
    if not errors:
        for scores in result.values():
            for system in ("edge", "keywords"):
                scores.get(system, {}).pop("misses", None)
    return result


def main(argv: list[str]) -> int:
    """Print the scores as JSON (misses only with --errors)."""
    print(json.dumps(run_all("--errors" in argv), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Checks for .ci/arm64: wheels-only install in the arm64 guest, and arm64 answers against x86's.

Standard library only: it runs with the guest's system python3 and with the host's python3.
Each check prints one line per finding and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# Confidence is printed rounded to 4 decimals (edge intent --json); the same float32 model on NEON and on
# x86 SIMD differs only in summation order, ~1e-6. 1e-3 covers both with a wide margin and still fails on any
# real change (another model or another tokenisation moves confidence by 1e-2 or more).
CONFIDENCE_TOLERANCE = 1e-3

# What pip prints when a package had to be built from source and the build failed (no compiler in the guest,
# as on a fresh Pi): the package is named on these lines.
_BUILD_FAILURES = (
    re.compile(r"Failed to build (\S+)"),
    re.compile(r"Running setup\.py install for (\S+): finished with status 'error'"),
    re.compile(r"Building wheel for (\S+) \(.*\): finished with status 'error'"),
    re.compile(r"Could not build wheels for (\S+),"),
)
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".a", ".o")


def check_install(report_path: Path, site_packages: Path, pip_log: Path, pip_status: int) -> int:
    """Fail on any dependency that came as a source package and built (or tried to build) native code."""
    failed = False
    if pip_status != 0:
        names = sorted(
            {match.group(1) for pattern in _BUILD_FAILURES for match in pattern.finditer(_read(pip_log))}
        )
        for name in names:
            print(
                f"arm64: FAIL: {name} has no aarch64 wheel for this Python and its source failed to build "
                "(a Pi would need a compiler and headers)"
            )
        if not names:
            print(f"arm64: FAIL: pip install failed (exit {pip_status}); see the pip log above")
        return 1
    report = json.loads(report_path.read_text())
    sources = 0
    for item in report["install"]:
        info = item["download_info"]
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if "dir_info" in info or info["url"].endswith(".whl"):
            continue  # the project itself (editable), or a wheel
        sources += 1
        native = _native_files(site_packages, name, version)
        if native is None:
            print(
                f"arm64: FAIL: {name} {version} came as a source package and left no install record to check"
            )
            failed = True
        elif native:
            print(
                f"arm64: FAIL: {name} {version} has no aarch64 wheel: built from source, it installs native "
                f"code ({native[0]})"
            )
            failed = True
        else:
            print(f"arm64: ok: {name} {version} came as a source package; it is pure Python (nothing native)")
    wheels = sum(1 for item in report["install"] if item["download_info"].get("url", "").endswith(".whl"))
    print(f"arm64: {wheels} dependencies came as wheels, {sources} as source packages")
    return 1 if failed else 0


def _native_files(site_packages: Path, name: str, version: str) -> list[str] | None:
    """Native files a source-built package installed (from its wheel tag or its install record)."""
    stem = re.sub(r"[-_.]+", "_", name).lower()
    for meta in site_packages.iterdir():
        meta_stem, _, rest = meta.name.partition("-")
        if re.sub(r"[-_.]+", "_", meta_stem).lower() != stem or not rest.startswith(version):
            continue
        wheel = meta / "WHEEL"
        if wheel.is_file():
            tags = [
                line.split(":", 1)[1].strip()
                for line in wheel.read_text().splitlines()
                if line.startswith("Tag:")
            ]
            return [f"wheel tag {tag}" for tag in tags if not tag.endswith("-none-any")]
        record = meta / "installed-files.txt"
        if record.is_file():
            return [
                line for line in record.read_text().splitlines() if line.strip().endswith(_NATIVE_SUFFIXES)
            ]
    return None


def compare_intents(x86_path: Path, arm_path: Path) -> int:
    """Same intent, device and action for each sentence; confidence within CONFIDENCE_TOLERANCE."""
    x86, arm = _json_lines(x86_path), _json_lines(arm_path)
    if len(x86) != len(arm) or not x86:
        print(f"arm64: FAIL: intent: {len(x86)} answers on x86, {len(arm)} on arm64")
        return 1
    failed = False
    for ours, theirs in zip(x86, arm, strict=True):
        fields = {
            "intent": (ours["intent"], theirs["intent"]),
            "device": (_devices(ours), _devices(theirs)),
            "action": (
                (ours.get("action") or {}).get("description"),
                (theirs.get("action") or {}).get("description"),
            ),
        }
        wrong = [f"{key} {a!r} on x86, {b!r} on arm64" for key, (a, b) in fields.items() if a != b]
        delta = abs(ours["confidence"] - theirs["confidence"])
        if delta > CONFIDENCE_TOLERANCE:
            wrong.append(f"confidence {ours['confidence']} on x86, {theirs['confidence']} on arm64")
        status = "FAIL" if wrong else "ok"
        failed = failed or bool(wrong)
        detail = (
            "; ".join(wrong)
            or f"{ours['intent']} device={fields['device'][0]} confidence {ours['confidence']} (|delta| {delta:.1e})"
        )
        print(f"arm64: {status}: intent {ours['text']!r}: {detail}")
    return 1 if failed else 0


def _devices(answer: dict) -> object:
    """The device slot, or the devices of a command meant for several."""
    return answer["slots"].get("device", answer["slots"].get("devices"))


def compare_replays(x86_path: Path, arm_path: Path, fixtures: list[str]) -> int:
    """The same actions per fixture and the same final device states as x86."""
    x86, arm = _json_lines(x86_path), _json_lines(arm_path)
    failed = False
    x86_actions, arm_actions = _by_file(x86, "action"), _by_file(arm, "action")
    x86_heard, arm_heard = _by_file(x86, "transcript"), _by_file(arm, "transcript")
    for name in [Path(fixture).name for fixture in fixtures]:
        ours, theirs = x86_actions.get(name, []), arm_actions.get(name, [])
        status = "ok" if ours == theirs else "FAIL"
        failed = failed or ours != theirs
        print(f"arm64: {status}: replay {name}: x86 {_describe(ours)}; arm64 {_describe(theirs)}")
        heard = [text for (text,) in x86_heard.get(name, [])], [text for (text,) in arm_heard.get(name, [])]
        if heard[0] != heard[1]:
            # Not a failure by itself: recognition may take another path on a slower CPU (issue 20, part 2).
            print(f"arm64: note: {name}: heard {heard[0]} on x86, {heard[1]} on arm64")
    if not any(x86_actions.values()):
        print("arm64: FAIL: replay: x86 took no action on the fixtures, so the comparison proves nothing")
        failed = True
    x86_final, arm_final = _final_state(x86), _final_state(arm)
    for device in sorted(set(x86_final) | set(arm_final)):
        if x86_final.get(device) != arm_final.get(device):
            print(
                f"arm64: FAIL: final state {device}: {x86_final.get(device)} on x86, "
                f"{arm_final.get(device)} on arm64"
            )
            failed = True
    if not failed:
        print(f"arm64: ok: final device states match x86: {json.dumps(arm_final, sort_keys=True)}")
    return 1 if failed else 0


def _by_file(events: list[dict], kind: str) -> dict[str, list[tuple]]:
    """What each file led to: its actions (intent, device, state) or its transcripts."""
    found: dict[str, list[tuple]] = {}
    for event in events:
        if event.get("type") != kind:
            continue
        if kind == "action":
            item: tuple = (
                event["intent"],
                event.get("device"),
                json.dumps(event.get("state"), sort_keys=True),
            )
        else:
            item = (event.get("text"),)
        found.setdefault(Path(event["file"]).name, []).append(item)
    return found


def _describe(actions: list[tuple]) -> str:
    return ", ".join(f"{intent} {device} -> {state}" for intent, device, state in actions) or "no action"


def _final_state(events: list[dict]) -> dict:
    states = [event["devices"] for event in events if event.get("type") == "state"]
    return states[-1] if states else {}


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in _read(path).splitlines() if line.startswith("{")]


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def main(argv: list[str] | None = None) -> int:
    """Run one check; exit 0 when it passes."""
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="check", required=True)
    install = sub.add_parser("install", help="no dependency built native code from source")
    install.add_argument("report", type=Path)
    install.add_argument("site_packages", type=Path)
    install.add_argument("pip_log", type=Path)
    install.add_argument("pip_status", type=int)
    for name in ("intent", "replay"):
        compare = sub.add_parser(name, help=f"arm64 {name} answers against x86's")
        compare.add_argument("x86", type=Path)
        compare.add_argument("arm64", type=Path)
        if name == "replay":
            compare.add_argument("fixtures", nargs="+", help="the replayed files, in order")
    args = parser.parse_args(argv)
    if args.check == "install":
        return check_install(args.report, args.site_packages, args.pip_log, args.pip_status)
    if args.check == "intent":
        return compare_intents(args.x86, args.arm64)
    return compare_replays(args.x86, args.arm64, args.fixtures)


if __name__ == "__main__":
    sys.exit(main())

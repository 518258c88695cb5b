"""The docs stay true: generated pages are current, every page is linked, and the README's test command
installs every Debian package a test would otherwise skip for."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

from .support import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
# Skips that are not about a missing Debian package: say why here, one line each.
NOT_A_PACKAGE = {
    "piper-tts is installed here",  # the test of the missing-Piper message needs Piper absent
}
REAL_PEOPLE = ("shared/eval", "dev set", "development set", "real recordings")


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_is_current_and_every_key_has_words() -> None:
    generator = _script("make_configuration")
    text = generator.render(*generator.collect())
    committed = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert text == committed, "docs/configuration.md is stale: run python docs/make_configuration.py"
    undocumented = [line for line in text.splitlines() if "no description yet" in line]
    assert not undocumented, f"add these keys to DESCRIPTIONS in docs/make_configuration.py: {undocumented}"
    keys = generator.keys_of(text)
    # The reference lists what the readers ask for, including branches only some configs reach.
    for key in (
        "devices.<name>.pin",
        "wake.step_ms",
        "web.token_file",
        "mqtt.tls.key_file",
        "voice.rate_wpm",
    ):
        assert key in keys


def test_the_wiring_drawing_is_current() -> None:
    assert _script("make_wiring").main(["--check"]) == 0, "run python docs/make_wiring.py"


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_the_readme_is_short_and_links_every_docs_page() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250
    linked = {link.split("#")[0] for link in _links(README)}
    for page in DOCS.glob("*.md"):
        assert f"docs/{page.name}" in linked, f"README.md does not link docs/{page.name}"


def test_every_relative_link_and_anchor_resolves() -> None:
    pages = [README, REPO / "CHANGELOG.md", *DOCS.glob("*.md")]
    for page in pages:
        for link in _links(page):
            if re.match(r"^[a-z]+:", link):
                continue
            target_text, _, anchor = link.partition("#")
            target = (page.parent / target_text).resolve() if target_text else page
            assert target.exists(), f"{page.name}: broken link {link}"
            if anchor and target.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", target.read_text(encoding="utf-8"), flags=re.MULTILINE)
                assert anchor in {_slug(h) for h in headings}, f"{page.name}: no heading for #{anchor}"


def _test_command() -> str:
    """The line after the marker's fence, as .ci/run reads it."""
    lines = README.read_text(encoding="utf-8").splitlines()
    return lines[lines.index("<!-- test-command -->") + 2]


def _apt_packages(command: str) -> set[str]:
    packages: set[str] = set()
    for words in re.findall(r"apt-get install ([^&;\n),]+)", command.replace("\\\n", " ")):
        packages.update(word for word in words.split() if not word.startswith("-"))
    return packages


def _packages_named(reason: str) -> set[str]:
    """Debian packages a skip reason names: after `apt-get install` or `Debian's`."""
    named = _apt_packages(reason.split(", which")[0])
    for first, second in re.findall(
        r"Debian's ([a-z0-9][a-z0-9.+-]*)(?: and ([a-z0-9][a-z0-9.+-]*))?", reason
    ):
        named.update(name for name in (first, second) if name)
    return named


def _reason_text(node: ast.expr) -> str | None:
    """The text of a skip reason: a literal, the literal parts of an f-string, or a module constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        for module in (f"bench.{node.value.id}", node.value.id):
            try:
                return str(getattr(importlib.import_module(module), node.attr))
            except (ImportError, AttributeError):
                continue
    return None


def _skip_reasons() -> list[tuple[str, str]]:
    """(file, reason) of every pytest.skip(...) and skipif(..., reason=...) under tests/."""
    found = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            reason_node: ast.expr | None = None
            if node.func.attr == "skip" and node.args:
                reason_node = node.args[0]
            elif node.func.attr == "skipif":
                reason_node = next((k.value for k in node.keywords if k.arg == "reason"), None)
                if reason_node is None:
                    continue
            else:
                continue
            reason = _reason_text(reason_node)
            if reason is None:  # computed at run time (a bench's own "skipped" message): nothing to read here
                continue
            found.append((f"{path.name}:{node.lineno}", reason))
    return found


def test_every_skip_names_its_debian_package_and_the_readme_installs_it() -> None:
    installed = _apt_packages(_test_command())
    reasons = _skip_reasons()
    assert len(reasons) >= 10  # the walk found the suite's skips
    for where, reason in reasons:
        if any(marker in reason for marker in REAL_PEOPLE) or reason in NOT_A_PACKAGE:
            continue
        named = _packages_named(reason)
        assert named, f"{where}: the skip reason {reason!r} names no Debian package (apt-get install PKG)"
        missing = named - installed
        assert not missing, f"{where}: README's test command does not install {sorted(missing)}"


def test_ci_installs_nothing_the_readme_test_command_lacks() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    extra = _apt_packages(ci) - _apt_packages(_test_command()) - {"sudo"}
    assert not extra, f".ci/run installs {sorted(extra)}, which README's test command does not"
    assert "<!-- test-command -->" in ci

"""The linter, the type checker and the import layering run as part of the suite, so CI enforces them."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .support import REPO


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing() -> None:
    result = run_tool("ruff", "check", "edge", "tests", "bench", "docs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = run_tool("ruff", "format", "--check", "edge", "tests", "bench", "docs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = run_tool("mypy", "edge", "docs")
    assert result.returncode == 0, result.stdout + result.stderr


# The house's layers, top to bottom. A module may import a module of a lower layer, or of its own layer
# and its own package (e.g. edge.speech.* among themselves), never one above: imports flow one way.
# Stages: understanding may use the devices (bank, settings) it drives; devices and speech are peers and
# import neither each other nor understanding. Settings sit below every stage: each stage's
# ``settings`` module (plus the few light files a reader checks, below) imports only other settings and
# the shared bottom, so edge.config can compose them without any stage's runtime code.
# edge.runtime.notify (sd_notify, imports nothing of edge) sits at the bottom so edge.logs may use it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("edge.__main__",),
    ("edge.cli",),
    ("edge.commands",),
    ("edge.integrations",),
    ("edge.runtime",),
    ("edge.config",),
    ("edge.understanding",),
    ("edge.devices", "edge.speech"),
    ("settings",),
    ("edge.yamlfields", "edge.tflite_model", "edge.resources", "edge.logs", "edge.mlp"),
    ("edge.events", "edge.errors", "edge", "edge.runtime.notify"),
)
# Not named settings, but read while the config is checked: board profiles, MQTT's section, a wake head's
# manifest. They import only settings and the bottom, like a settings module.
SETTINGS_MODULES = frozenset(
    {"edge.devices.board", "edge.integrations.mqtt.config", "edge.speech.wake.head_file"}
)


@dataclass(frozen=True)
class Import:
    """One ``import`` statement's target inside the package, wherever it stands (module or function)."""

    source: str  # importing module
    target: str  # imported module
    where: str  # file:line


def package_modules(root: Path, package: str = "edge") -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of ``package`` under ``root``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(root: Path, package: str = "edge") -> list[Import]:
    """Every import of a module of ``package`` by another, module-level, in functions or under TYPE_CHECKING."""
    modules = package_modules(root, package)
    found = []
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                # `from edge.speech import audio` imports the module edge.speech.audio.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            resolved = []
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                resolved.append(target)
            for target in dict.fromkeys(resolved):  # `from edge.config import A, B` is one import
                if target and target != name:
                    found.append(Import(name, target, f"{path.relative_to(root)}:{node.lineno}"))
    return found


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, group) of a module: its most specific entry in LAYERS."""
    if module in SETTINGS_MODULES or module.rpartition(".")[2] == "settings":
        return LAYERS.index(("settings",)), "settings"
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for group in layer:
            inside = module == group or (group != "edge" and module.startswith(group + "."))
            if inside and (best is None or len(group) > len(best[1])):
                best = (index, group)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in tests/test_code_quality.py"
    return best


def upward_imports(found: list[Import]) -> list[str]:
    """One line per import that runs up a layer or sideways into another package of the same layer."""
    wrong = []
    for imp in found:
        (source_layer, source_group), (target_layer, target_group) = (
            layer_of(imp.source),
            layer_of(imp.target),
        )
        if target_layer < source_layer or (target_layer == source_layer and target_group != source_group):
            way = "up" if target_layer < source_layer else "sideways"
            wrong.append(
                f"{imp.where}: {imp.source} imports {imp.target} ({way}: {source_group} -> {target_group})"
            )
    return wrong


def import_cycles(found: list[Import]) -> list[list[str]]:
    """Circles of the graph, one per edge closing a path of a depth-first walk, each as file:line steps."""
    graph: dict[str, dict[str, str]] = {}
    for imp in found:
        graph.setdefault(imp.source, {}).setdefault(imp.target, imp.where)
    cycles = []
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        # Depth-first with an explicit stack; a target on the current path closes a circle.
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, {})))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = todo.pop(0)
            if nxt in on_path:
                loop = [*path[path.index(nxt) :], nxt]
                cycles.append([f"{graph[a][b]} {a} -> {b}" for a, b in itertools.pairwise(loop)])
            elif nxt not in done:
                stack.append((nxt, sorted(graph.get(nxt, {}))))
                path.append(nxt)
                on_path.add(nxt)
    return cycles


def test_the_import_graph_has_no_circles() -> None:
    cycles = import_cycles(imports_of(REPO))
    assert not cycles, "import circles:\n" + "\n\n".join("\n".join(cycle) for cycle in cycles)


def test_no_import_runs_back_up_the_layers() -> None:
    wrong = upward_imports(imports_of(REPO))
    assert not wrong, "imports against the layers (see LAYERS):\n" + "\n".join(wrong)


def test_every_module_has_a_layer() -> None:
    for module in package_modules(REPO):
        layer_of(module)


def test_the_checks_name_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "edge"
    (package / "speech").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "speech" / "__init__.py").write_text("")
    (package / "config.py").write_text("from edge.errors import EdgeError\n")
    (package / "errors.py").write_text("def late():\n    from edge import config\n")
    (package / "speech" / "vad.py").write_text("from .audio import x\nimport edge.config\n")
    (package / "speech" / "audio.py").write_text("x = 1\n")
    found = imports_of(tmp_path)
    assert Import("edge.speech.vad", "edge.speech.audio", "edge/speech/vad.py:1") in found
    assert upward_imports(found) == [
        "edge/errors.py:2: edge.errors imports edge.config (up: edge.errors -> edge.config)",
        "edge/speech/vad.py:2: edge.speech.vad imports edge.config (up: edge.speech -> edge.config)",
    ]
    assert import_cycles(found) == [
        ["edge/config.py:1 edge.config -> edge.errors", "edge/errors.py:2 edge.errors -> edge.config"]
    ]


def test_every_package_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {name for name, path in package_modules(REPO).items() if path.name == "__init__.py"}
    assert on_disk - listed == set(), "add these to pyproject.toml's packages so a wheel install has them"

"""The packages stay walkable: no import cycle (lazy imports included), no module over 500 lines,
and the runtime package leaves the tools (demo, evaluation) to the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "influencer_pipeline", ROOT / "influencer_tools")
SOURCES = sorted(path for package in PACKAGES for path in package.rglob("*.py"))
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SOURCES:
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules ``name`` imports anywhere in its body (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            # a package's own submodule importing a sibling does not re-run the package
            inside = name.startswith(node.module + ".") and all(s in modules for s in subs)
            targets = subs if inside else [node.module, *subs]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for end in range(2, len(parts) + 1):
                parent = ".".join(parts[:end])
                enclosing = name.startswith(parent + ".")
                if parent in modules and parent != name and (end == len(parts) or not enclosing):
                    found.add(parent)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_sees_a_lazy_import_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    modules = _modules()
    assert "influencer_pipeline.media.fetch" in modules
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "influencer_pipeline.definitions" in graph["influencer_pipeline.run_pipeline"]
    assert _cycles(graph) == []


def test_only_the_cli_reaches_the_tools() -> None:
    modules = _modules()
    runtime = {n: p for n, p in modules.items() if n.startswith("influencer_pipeline")}
    reaching = sorted(
        name
        for name, path in runtime.items()
        if any(t.startswith("influencer_tools") for t in _imports(name, path, modules))
    )
    assert reaching == ["influencer_pipeline.cli"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_only_the_dagster_wiring_imports_dagster() -> None:
    """The pure libraries (catalog, media, faces, identities, outro, ranking, ...) stay plain."""
    wiring = ("influencer_pipeline.defs", "influencer_pipeline.definitions")
    wiring += ("influencer_pipeline.run_pipeline", "influencer_pipeline.recovery")
    importing = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            if any(root.startswith("dagster") for root in roots):
                importing.add(name)
    assert importing, "the scan found no Dagster import at all"
    assert sorted(n for n in importing if not n.startswith(wiring)) == []


TESTS = ROOT / "influencer_pipeline_tests"
# Test folders beside the package's own: the tools, the benchmark scripts, whole-pipeline runs,
# shared test helpers.
TEST_ONLY_FOLDERS = {"tools", "benchmarks", "end_to_end", "hostile"}


def test_the_tests_mirror_the_package() -> None:
    """A test folder per package folder, no other (``tests/faces`` tests ``faces/``), and the
    loose test modules test the package's loose modules."""
    package = ROOT / "influencer_pipeline"
    domains = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    folders = {p.name for p in TESTS.iterdir() if (p / "__init__.py").is_file()}
    assert folders - TEST_ONLY_FOLDERS == domains
    loose = {p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py")}
    modules = {p.stem for p in package.glob("*.py")}
    assert loose - {"package_layout"} <= modules, loose - modules

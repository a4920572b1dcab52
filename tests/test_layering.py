"""One import root, arrows one way (cotwatch CLI → reports → classifiers → analytics), no cycles.

The graph is read from the source: every ``import`` and ``from … import`` anywhere in a module
(function-local ones too), relative imports, and string references to modules
(``"cotwatch.analytics.terms.rates"``, ``"module:attr"``) such as lazy-export tables — so an
arrow hidden in a string or inside a function is still an arrow.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
#: each layer may import only itself and the layers before it
LAYERS = ["cotwatch.analytics", "cotwatch.classifiers", "cotwatch.reports", "cotwatch"]
#: named SQL files (no code): read by the SQL layer of analytics
DATA_PACKAGES = {"cotwatch.queries": 0}


def module_files() -> dict[str, Path]:
    """Dotted module name → source file, through the build's package-dir mapping."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIR.items():
        root = REPO / folder
        for path in [*root.rglob("*.py"), *root.rglob("*.c")]:  # .c: compiled extension modules
            rel = path.relative_to(root).with_suffix("")
            if any(part in ("__pycache__",) for part in rel.parts):
                continue
            if package == "cotwatch" and rel.parts[0] in {p.split(".")[1] for p in PACKAGE_DIR if p != "cotwatch"}:
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = module_files()


def _resolve(name: str) -> str | None:
    """The known module a dotted name refers to (itself, or the longest known prefix)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path) -> set[str]:
    if path.suffix == ".c":
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("cotwatch."):
            text = node.value.split(":")[0]
            if text in MODULES:  # a module named in a string (lazy exports, registries)
                targets.add(text)
    out = set()
    for target in targets:
        resolved = _resolve(target) if target.startswith("cotwatch") else None
        if resolved and resolved != module:
            out.add(resolved)
    return out


GRAPH = {module: imports_of(module, path) for module, path in MODULES.items()}


def layer_of(module: str) -> int:
    if module in DATA_PACKAGES:
        return DATA_PACKAGES[module]
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    raise AssertionError(module)


def test_the_graph_sees_function_local_and_string_imports():
    """The reader must see the arrows the old test missed."""
    assert "cotwatch.analytics.terms.rates" in GRAPH["cotwatch.analytics.terms"]            # lazy-export string
    assert "cotwatch.analytics.ingest.inspect" in GRAPH["cotwatch.analytics.ingest.loading"]  # function-local


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down_only(layer):
    rank = LAYERS.index(layer)
    offenders = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.items()) if layer_of(module) == rank
        for target in sorted(targets) if layer_of(target) > rank
    ]
    assert not offenders, "\n".join(offenders)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_folder_is_built():
    """A folder with an __init__.py that the build does not list would be missing from the wheel."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages == listed


def test_cotwatch_imports_from_a_folder_with_its_own_analytics_and_reports(tmp_path):
    """A notebook folder with packages named like the card's folders must not shadow cotwatch's."""
    for name in ("analytics", "reports", "classifiers", "queries"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user\\'s own package was imported')\n")
    code = (
        "import cotwatch, cotwatch.reports, cotwatch.classifiers\n"
        "from cotwatch.analytics.store import Store\n"
        "with Store.open('s.duckdb', read_only=False) as s:\n"
        "    print(s.rows('select count(*) from transcripts')[0][0])\n"
        "print(cotwatch.runs(cotwatch.open_store('s.duckdb')).height)\n"
        "from cotwatch.analytics.sqlapi import list_queries\n"
        "print(len(list_queries()) > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "0", "True"]


@pytest.mark.slow
def test_the_wheel_installs_only_cotwatch(tmp_path):
    """`pip install .` puts one top-level package in site-packages: cotwatch."""
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    [wheel] = tmp_path.glob("cotwatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"cotwatch", next(t for t in tops if t.endswith(".dist-info"))}
    # the card's folders are inside, with their data files
    for needed in ("cotwatch/analytics/store/migrations/0001_core.sql", "cotwatch/queries/step_overview.sql",
                   "cotwatch/classifiers/artifacts/eval_awareness.skops", "cotwatch/reports/drift.toml",
                   "cotwatch/analytics/terms/watchlists/default.toml"):
        assert needed in names
    assert any(n.startswith("cotwatch/analytics/terms/_tokcount") and n.endswith(".so") for n in names)

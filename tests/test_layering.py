"""Dependency arrows point one way: cotwatch → reports → classifiers → analytics."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["analytics", "classifiers", "reports", "cotwatch"]  # each may import only those before it


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down_only(layer):
    forbidden = set(LAYERS[LAYERS.index(layer) + 1:])
    offenders = []
    for path in sorted((REPO / layer).rglob("*.py")):
        bad = imported_packages(path) & forbidden
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {', '.join(sorted(bad))}")
    assert not offenders, "\n".join(offenders)

"""Runnable node code never imports the benchmarks or the tests: `yrd lab run` and the nodes
work from an installed package, and shared set-up lives in `nodes.fixtures`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_core_purity import ROOT, hits, imported_modules, module_name

NODES = ROOT / "nodes"
NOT_FOR_NODES = ("benchmarks", "tests")
NODE_FILES = sorted(p for p in NODES.rglob("*.py") if NODES / "pb" not in p.parents)


def violations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for line, imported in imported_modules(
            source, module_name(path), path.name == "__init__.py"
        )
        if hits(imported, NOT_FOR_NODES)
    ]


def test_the_node_code_is_found() -> None:
    names = {module_name(p) for p in NODE_FILES}
    assert {"nodes.lab.workload", "nodes.lab.runner", "nodes.fixtures.tokens"} <= names


@pytest.mark.parametrize("path", NODE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_node_module_does_not_import_benchmarks_or_tests(path: Path) -> None:
    assert violations(path) == []


def test_the_checker_catches_a_benchmark_import() -> None:
    source = "from benchmarks.case.config import OWNER\nimport tests.conftest\n"
    imported = [name for _, name in imported_modules(source, "nodes.lab.x", False)]
    assert sum(hits(name, NOT_FOR_NODES) for name in imported) >= 2

"""The pure core never imports grpc, protobuf or the network edge; only storage touches drivers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "federation"
STORAGE = CORE / "storage"

EDGE_MODULES = ("grpc", "google.protobuf", "nodes")
DRIVER_MODULES = ("sqlite3", "psycopg", "psycopg_pool", "psycopg2", "asyncpg")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module an AST imports, including `from x import y` as x.y and literal
    `importlib.import_module("x")` / `__import__("x")` calls; relative imports are resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            first = node.args[0]
            is_literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if called in ("import_module", "__import__") and is_literal:
                yield node.lineno, first.value


def hits(imported: str, forbidden: tuple[str, ...]) -> bool:
    return any(imported == f or imported.startswith(f + ".") for f in forbidden)


def violations(path: Path) -> list[str]:
    module = module_name(path)
    source = path.read_text(encoding="utf-8")
    found = []
    for line, imported in imported_modules(source, module, path.name == "__init__.py"):
        where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
        in_storage = STORAGE in path.parents
        if hits(imported, EDGE_MODULES) or (not in_storage and hits(imported, DRIVER_MODULES)):
            found.append(where)
    return found


CORE_FILES = sorted(CORE.rglob("*.py"))


def test_the_core_is_found() -> None:
    names = {module_name(p) for p in CORE_FILES}
    assert {
        "federation.crypto.jose",
        "federation.identity.provider",
        "federation.storage.sqlite",
    } <= names
    assert len(CORE_FILES) >= 15


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports(path: Path) -> None:
    assert violations(path) == []


def test_storage_backends_are_the_ones_using_drivers() -> None:
    # the rule above is not vacuous: the storage package does import the drivers
    storage_imports = {
        imported
        for path in STORAGE.rglob("*.py")
        for _, imported in imported_modules(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
        )
    }
    assert "sqlite3" in storage_imports
    assert any(hits(name, ("psycopg",)) for name in storage_imports)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import grpc", "grpc"),
        ("import grpc.aio as aio", "grpc.aio"),
        ("from google.protobuf import message", "google.protobuf"),
        ("from google import protobuf", "google.protobuf"),
        ("from nodes.pb.v1 import common_pb2", "nodes.pb.v1"),
        ("import nodes", "nodes"),
        ("def f():\n    import sqlite3\n", "sqlite3"),
        ("import importlib\nimportlib.import_module('psycopg_pool')", "psycopg_pool"),
        ("__import__('psycopg')", "psycopg"),
        ("from ... import nodes", "nodes"),
    ],
)
def test_the_checker_catches(source: str, expected: str) -> None:
    imported = {name for _, name in imported_modules(source, "federation.x.y", False)}
    assert any(hits(name, (expected,)) for name in imported)


@pytest.mark.parametrize(
    "source",
    [
        "import grpcio_tools_helper",
        "from federation.nodes_view import x",
        "import sqlite3x",
        "from . import tokens",
        "import googleapis",
    ],
)
def test_the_checker_does_not_overreach(source: str) -> None:
    imported = [name for _, name in imported_modules(source, "federation.x", False)]
    assert not any(hits(name, EDGE_MODULES + DRIVER_MODULES) for name in imported)

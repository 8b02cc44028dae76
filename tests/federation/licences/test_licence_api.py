"""Tests for the licences package's public API and its place in the pure core."""

from __future__ import annotations

import ast
import pathlib

import federation.licences as licences

PACKAGE = pathlib.Path(licences.__file__).parent
FORBIDDEN = ("grpc", "google.protobuf", "nodes", "psycopg", "sqlite3")


def test_all_is_sorted_and_resolves() -> None:
    assert licences.__all__ == sorted(licences.__all__)
    assert len(set(licences.__all__)) == len(licences.__all__)
    for name in licences.__all__:
        assert getattr(licences, name) is not None


def test_all_lists_every_public_name_imported_into_the_package() -> None:
    public = {
        name for name, value in vars(licences).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(
            "federation.licences"
        )
    }
    assert public <= set(licences.__all__)


def test_modules_are_pure_small_and_documented() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        docstring = ast.get_docstring(tree)
        assert docstring and "\n" not in docstring, f"{path.name}: one-line module docstring"
        assert len(source.splitlines()) < 400, f"{path.name} is too long"
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_submodule_all_lists_name_real_objects() -> None:
    import importlib

    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem == "__init__":
            continue
        module = importlib.import_module(f"federation.licences.{path.stem}")
        names = list(module.__all__)
        for name in names:
            assert hasattr(module, name), f"{path.stem}.{name}"
        assert len(set(names)) == len(names)

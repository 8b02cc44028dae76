"""Each package's deliberate public API: a sorted, complete, resolvable `__all__`."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "federation",
    "federation.cases",
    "federation.crypto",
    "federation.identity",
    "federation.licences",
    "federation.storage",
    "federation.trust",
    "nodes.cli",
    "nodes.client",
    "nodes.convert",
    "nodes.demo",
    "nodes.observability",
    "nodes.ops",
    "nodes.peering",
    "nodes.public",
    "nodes.server",
    "simulator",
]


def _all_of(name: str) -> list[str]:
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    if names is None:
        pytest.skip(f"{name} does not define __all__ yet")
    return list(names)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_unique(package: str) -> None:
    names = _all_of(package)
    assert all(isinstance(n, str) for n in names)
    assert names == sorted(names), f"{package}.__all__ is not sorted"
    assert len(names) == len(set(names)), f"{package}.__all__ has duplicates"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_resolves(package: str) -> None:
    names = _all_of(package)
    module = importlib.import_module(package)
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == [], f"{package}.__all__ names what it does not define: {missing}"
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)
    assert set(names) <= set(namespace)


def test_error_tree_is_public_and_complete() -> None:
    from federation import errors

    names = _all_of("federation.errors")
    assert names == sorted(names)
    classes = {
        name: obj
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.FederationError)
    }
    assert set(classes) == set(names), "every domain error class is exported, and only those"
    codes = [cls.code_name for name, cls in classes.items() if name != "FederationError"]
    assert len(codes) == len(set(codes)), "each error maps to its own status code"
    for cls in classes.values():
        err = cls("something went wrong")
        assert err.message == str(err) == "something went wrong"

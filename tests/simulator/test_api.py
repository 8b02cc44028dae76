"""The package exposes a deliberate, sorted and complete public API."""

from __future__ import annotations

import inspect

import simulator


def test_all_is_sorted() -> None:
    assert simulator.__all__ == sorted(simulator.__all__)


def test_all_is_complete_and_resolvable() -> None:
    public = {
        name
        for name, value in vars(simulator).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(simulator.__all__) == public
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None


def test_every_module_has_a_one_line_docstring() -> None:
    import pkgutil

    for info in pkgutil.walk_packages(simulator.__path__, "simulator."):
        module = __import__(info.name, fromlist=["_"])
        doc = module.__doc__
        assert doc and doc.strip(), info.name
        assert len(doc.strip().splitlines()) == 1, f"{info.name}: docstring is not one line"


def test_modules_stay_small() -> None:
    import pkgutil
    from pathlib import Path

    for info in pkgutil.walk_packages(simulator.__path__, "simulator."):
        module = __import__(info.name, fromlist=["_"])
        lines = Path(str(module.__file__)).read_text().count("\n")
        assert lines < 400, f"{info.name} has {lines} lines"

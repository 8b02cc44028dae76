"""The package exposes a deliberate, sorted and complete public API."""

from __future__ import annotations

import inspect

import simulator


def test_all_is_sorted() -> None:
    assert simulator.__all__ == sorted(simulator.__all__)


def test_all_is_complete_and_resolvable() -> None:
    # Names load on first use (PEP 562), so dir(), not vars(), lists them all.
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None
    public = {
        name
        for name in dir(simulator)
        if not name.startswith("_") and not inspect.ismodule(getattr(simulator, name))
    }
    public -= {"annotations", "TYPE_CHECKING", "Any"}  # the lazy loader's own
    assert set(simulator.__all__) == public


def test_a_submodule_never_shadows_a_public_name() -> None:
    import simulator.sweep as _module  # noqa: F401 - sets the package attribute on first import

    assert callable(simulator.sweep) and not inspect.ismodule(simulator.sweep)


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

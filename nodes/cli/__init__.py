"""The `yrd` command: a thin shell that parses, calls the library, prints JSON."""

from nodes.cli.root import main, root

__all__ = ["main", "root"]

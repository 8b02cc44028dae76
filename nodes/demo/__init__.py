"""`yrd demo`: the whole story on five local nodes, printed as a readable trace."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {"run_demo": "story"})

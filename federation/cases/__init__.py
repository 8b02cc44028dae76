"""Remote virtual window cases: the service catalogue, the owner's desk, states, archives."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Catalogue": "catalogue",
        "CatalogueItem": "catalogue",
        "CaseDesk": "desk",
        "CaseState": "states",
        "add_working_days": "workdays",
        "build_archive": "archive",
        "is_overdue": "workdays",
        "next_state": "states",
        "region_stats": "stats",
        "seal_archive": "archive",
        "starter_catalogue": "catalogue",
        "verify_archive": "archive",
    },
)

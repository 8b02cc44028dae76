"""Remote virtual window cases: the service catalogue, the owner's desk, states, archives."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Catalogue": "catalogue",
        "CatalogueItem": "catalogue",
        "CaseDesk": "desk",
        "CaseQuery": "listing",
        "CaseState": "states",
        "ResultIssuer": "results",
        "add_working_days": "workdays",
        "build_archive": "archive",
        "collect_archive": "archive",
        "is_overdue": "workdays",
        "list_cases": "listing",
        "next_state": "states",
        "plan_result": "results",
        "region_stats": "stats",
        "seal_archive": "archive",
        "sealing_department": "departments",
        "starter_catalogue": "catalogue",
        "verify_archive": "archive",
        "verify_face_assertion": "face_assertion",
    },
)

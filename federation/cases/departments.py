"""Which national department a service item's provincial department answers to, for its seal."""

from __future__ import annotations

from federation.errors import FailedPrecondition
from federation.licences.types import MCA, MOHRSS, MPS, NHC, SAMR, Department

# A provincial department's name carries its national counterpart's function (上海市公安局,
# 江苏省公安厅交通警察总队 -> public security); offices of no licence-defining department
# (公积金管理中心, 医疗保障局) answer to none of these and seal nothing here.
FUNCTIONS: tuple[tuple[str, Department], ...] = (
    ("公安", MPS),
    ("市场监督管理", SAMR),
    ("民政", MCA),
    ("卫生健康", NHC),
    ("人力资源和社会保障", MOHRSS),
)


def national_department(department_name: str) -> Department | None:
    """The licence-defining national department behind a provincial department's name."""
    found = {dept for function, dept in FUNCTIONS if function in department_name}
    if len(found) != 1:
        return None  # none, or a name that claims two functions: never guess a sealer
    return found.pop()


def sealing_department(item_code: str, department_name: str) -> Department:
    """The department whose authority seals a case of this item, or a precise refusal."""
    department = national_department(department_name)
    if department is None:
        raise FailedPrecondition(
            f"service item {item_code} belongs to {department_name}, which answers to no "
            "licence-defining department; this region has no authority to seal its case archive"
        )
    return department


__all__ = ["FUNCTIONS", "national_department", "sealing_department"]

"""The licence-type catalogue (GB/T 36903 style): defining department, holder kind, field specs."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass

from federation.codes import make_credit_code
from federation.errors import InvalidArgument, NotFound

FieldValue = str | int | bool
"""A type-specific field value as it travels in JSON (dates are ISO 8601 strings)."""


class HolderKind(enum.Enum):
    """Who can hold a licence of a type: a natural person or a legal person (organisation)."""

    NATURAL = "natural"
    LEGAL = "legal"


class FieldType(enum.Enum):
    """The JSON shape of a type-specific field."""

    STRING = "string"
    DATE = "date"
    INTEGER = "integer"
    BOOLEAN = "boolean"

    def check(self, name: str, value: object) -> FieldValue:
        """Return `value` if it has this shape, else raise InvalidArgument naming the field."""
        if self is FieldType.STRING:
            if isinstance(value, str) and value.strip():
                return value
            raise InvalidArgument(f"field {name!r} must be a non-empty string, got {value!r}")
        if self is FieldType.DATE:
            if isinstance(value, str):
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    pass
                else:
                    if len(value) == 10:
                        return value
            raise InvalidArgument(f"field {name!r} must be a date YYYY-MM-DD, got {value!r}")
        if self is FieldType.INTEGER:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise InvalidArgument(f"field {name!r} must be an integer, got {value!r}")
        if isinstance(value, bool):
            return value
        raise InvalidArgument(f"field {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class FieldSpec:
    """One type-specific field: its JSON name, labels, shape, and whether it is sensitive."""

    name: str
    label_zh: str
    label_en: str
    type: FieldType = FieldType.STRING
    required: bool = True
    sensitive: bool = False


@dataclass(frozen=True)
class Department:
    """A national department that defines licence types, named by its credit code."""

    credit_code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class LicenceType:
    """A catalogued licence type; `code` is the department's credit code plus 3 digits."""

    key: str
    code: str
    name_zh: str
    name_en: str
    holder_kind: HolderKind
    department: Department
    fields: tuple[FieldSpec, ...]

    # computed once per (immutable) type: every licence built or verified asks for them
    @functools.cached_property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @functools.cached_property
    def required_fields(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.fields if spec.required)

    @functools.cached_property
    def sensitive_fields(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.fields if spec.sensitive)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        known = ", ".join(self.field_names)
        raise InvalidArgument(f"licence type {self.key} has no field {name!r}; its fields: {known}")


def _department(body8: str, name_zh: str, name_en: str) -> Department:
    # Central organs register with the establishment authority (1), as organs (1), division 100000.
    return Department(make_credit_code("1", "1", "100000", body8), name_zh, name_en)


MPS = _department("00001434", "中华人民共和国公安部", "Ministry of Public Security")
SAMR = _department("MB014929", "国家市场监督管理总局", "State Administration for Market Regulation")
MCA = _department("00001318", "中华人民共和国民政部", "Ministry of Civil Affairs")
NHC = _department("MB014735", "国家卫生健康委员会", "National Health Commission")
MOHRSS = _department(
    "71782955",
    "中华人民共和国人力资源和社会保障部",
    "Ministry of Human Resources and Social Security",
)

S, D, INT, B = FieldType.STRING, FieldType.DATE, FieldType.INTEGER, FieldType.BOOLEAN


def _f(
    name: str,
    zh: str,
    en: str,
    kind: FieldType = S,
    *,
    required: bool = True,
    sensitive: bool = False,
) -> FieldSpec:
    return FieldSpec(name, zh, en, kind, required, sensitive)


_SEX = _f("sex", "性别", "sex")
_ETHNICITY = _f("ethnicity", "民族", "ethnicity")
_BIRTH = _f("birth_date", "出生日期", "date of birth", D)
_ADDRESS = _f("address", "住址", "address", sensitive=True)

_NATURAL, _LEGAL = HolderKind.NATURAL, HolderKind.LEGAL

CATALOGUE: tuple[LicenceType, ...] = (
    LicenceType(
        "resident_identity_card",
        MPS.credit_code + "001",
        "居民身份证",
        "Resident identity card",
        _NATURAL,
        MPS,
        (
            _SEX,
            _ETHNICITY,
            _BIRTH,
            _ADDRESS,
            _f(
                "photo_digest", "相片摘要", "photo digest (sha-256)", required=False, sensitive=True
            ),
        ),
    ),
    LicenceType(
        "residence_permit",
        MPS.credit_code + "002",
        "居住证",
        "Residence permit",
        _NATURAL,
        MPS,
        (
            _SEX,
            _ETHNICITY,
            _BIRTH,
            _f("residence_address", "居住地住址", "address of residence", sensitive=True),
            _f("household_address", "户籍地址", "registered household address", sensitive=True),
        ),
    ),
    LicenceType(
        "driving_licence",
        MPS.credit_code + "003",
        "机动车驾驶证",
        "Driving licence",
        _NATURAL,
        MPS,
        (
            _SEX,
            _f("nationality", "国籍", "nationality"),
            _BIRTH,
            _ADDRESS,
            _f("first_issue_date", "初次领证日期", "first issued", D),
            _f("vehicle_class", "准驾车型", "permitted vehicle class"),
            _f("file_number", "档案编号", "file number", sensitive=True),
        ),
    ),
    LicenceType(
        "vehicle_licence",
        MPS.credit_code + "004",
        "机动车行驶证",
        "Vehicle licence",
        _NATURAL,
        MPS,
        (
            _f("plate_number", "号牌号码", "plate number"),
            _f("vehicle_type", "车辆类型", "vehicle type"),
            _f("use_character", "使用性质", "use character"),
            _f("brand_model", "品牌型号", "brand and model"),
            _f("vin", "车辆识别代号", "vehicle identification number", sensitive=True),
            _f("engine_number", "发动机号码", "engine number", sensitive=True),
            _f("registration_date", "注册日期", "registration date", D),
            _ADDRESS,
        ),
    ),
    LicenceType(
        "household_register",
        MPS.credit_code + "005",
        "居民户口簿",
        "Household register",
        _NATURAL,
        MPS,
        (
            _f("household_number", "户号", "household number"),
            _f("household_type", "户别", "household type"),
            _f("head_of_household", "户主姓名", "head of household"),
            _f("relationship_to_head", "与户主关系", "relationship to head"),
            _ADDRESS,
        ),
    ),
    LicenceType(
        "business_licence",
        SAMR.credit_code + "001",
        "营业执照",
        "Business licence",
        _LEGAL,
        SAMR,
        (
            _f("entity_type", "类型", "entity type"),
            _f("legal_representative", "法定代表人", "legal representative"),
            # GB 11643 citizen id; FieldSpec has no validator hook, so it is checked only as a
            # string. The registry lists the licence in the representative's aggregation too.
            _f(
                "legal_representative_id",
                "法定代表人身份证件号码",
                "legal representative's citizen id number",
                required=False,
                sensitive=True,
            ),
            _f("registered_capital", "注册资本", "registered capital (CNY)", INT),
            _f("established_date", "成立日期", "date of establishment", D),
            _f("business_scope", "经营范围", "business scope"),
            _f("domicile", "住所", "domicile"),
        ),
    ),
    LicenceType(
        "food_business_licence",
        SAMR.credit_code + "002",
        "食品经营许可证",
        "Food business licence",
        _LEGAL,
        SAMR,
        (
            _f("licence_key", "许可证编号", "permit number"),
            _f("business_items", "经营项目", "business items"),
            _f("premises", "经营场所", "premises"),
            _f("principal", "负责人", "person in charge"),
        ),
    ),
    LicenceType(
        "marriage_certificate",
        MCA.credit_code + "001",
        "结婚证",
        "Marriage certificate",
        _NATURAL,
        MCA,
        (
            _f("registration_date", "登记日期", "date of registration", D),
            _f("spouse_name", "配偶姓名", "spouse name", sensitive=True),
            _f("spouse_id_number", "配偶身份证件号", "spouse id number", sensitive=True),
            _f("registry", "登记机关", "registry office"),
        ),
    ),
    LicenceType(
        "birth_medical_certificate",
        NHC.credit_code + "001",
        "出生医学证明",
        "Birth medical certificate",
        _NATURAL,
        NHC,
        (
            _f("child_sex", "新生儿性别", "sex of the newborn"),
            _f("birth_date", "出生日期", "date of birth", D),
            _f("birth_place", "出生地点", "place of birth"),
            _f("gestational_weeks", "出生孕周", "gestational age (weeks)", INT, required=False),
            _f(
                "birth_weight_g",
                "出生体重",
                "birth weight (g)",
                INT,
                required=False,
                sensitive=True,
            ),
            _f("mother_name", "母亲姓名", "mother's name", sensitive=True),
            _f("mother_id_number", "母亲身份证件号", "mother's id number", sensitive=True),
            _f("father_name", "父亲姓名", "father's name", required=False, sensitive=True),
            _f(
                "father_id_number",
                "父亲身份证件号",
                "father's id number",
                required=False,
                sensitive=True,
            ),
            _f("institution", "接生机构", "delivering institution"),
        ),
    ),
    LicenceType(
        "social_security_card",
        MOHRSS.credit_code + "001",
        "社会保障卡",
        "Social security card",
        _NATURAL,
        MOHRSS,
        (
            _SEX,
            _ETHNICITY,
            _f("card_number", "卡号", "card number", sensitive=True),
            _f("bank", "发卡银行", "issuing bank"),
            _f("financial_account", "金融账户", "bank account", required=False, sensitive=True),
            _f("electronic", "电子社保卡", "has an electronic card", B, required=False),
        ),
    ),
    LicenceType(
        "pension_record",
        MOHRSS.credit_code + "002",
        "养老保险参保缴费凭证",
        "Pension insurance contribution record",
        _NATURAL,
        MOHRSS,
        (
            _f("insured_since", "参保日期", "insured since", D),
            _f("contribution_months", "累计缴费月数", "months contributed", INT),
            _f(
                "account_balance_cny",
                "个人账户余额",
                "personal account balance (CNY)",
                INT,
                sensitive=True,
            ),
            _f("insured_place", "参保地", "place of insurance"),
        ),
    ),
)

_BY_CODE = {t.code: t for t in CATALOGUE}
_BY_KEY = {t.key: t for t in CATALOGUE}


def licence_type_by_code(code: str) -> LicenceType:
    """The catalogued type with this 21-character type code, or NotFound."""
    found = _BY_CODE.get(code.strip().upper()) if isinstance(code, str) else None
    if found is None:
        raise NotFound(f"no licence type with type code {code!r} in the catalogue")
    return found


def licence_type_by_key(key: str) -> LicenceType:
    """The catalogued type with this short key (e.g. "driving_licence"), or NotFound."""
    found = _BY_KEY.get(key) if isinstance(key, str) else None
    if found is None:
        raise NotFound(f"no licence type {key!r}; known: {', '.join(sorted(_BY_KEY))}")
    return found


def get_licence_type(code_or_key: str) -> LicenceType:
    """Look a type up by short key or by type code."""
    if isinstance(code_or_key, str) and code_or_key in _BY_KEY:
        return _BY_KEY[code_or_key]
    return licence_type_by_code(code_or_key)


__all__ = [
    "CATALOGUE",
    "MCA",
    "MOHRSS",
    "MPS",
    "NHC",
    "SAMR",
    "Department",
    "FieldSpec",
    "FieldType",
    "FieldValue",
    "HolderKind",
    "LicenceType",
    "get_licence_type",
    "licence_type_by_code",
    "licence_type_by_key",
]

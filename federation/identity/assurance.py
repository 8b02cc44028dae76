"""Levels of assurance (acr): low (password), substantial, high (password plus face at the hub)."""

from __future__ import annotations

import enum

from federation.errors import InvalidArgument

ACR_PREFIX = "urn:yrd:loa:"


class Assurance(enum.IntEnum):
    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3

    @property
    def acr(self) -> str:
        return _ACR[self]

    @classmethod
    def parse(cls, text: str) -> Assurance:
        key = text.strip().lower().removeprefix(ACR_PREFIX)
        level = _BY_NAME.get(key)
        if level is None:
            raise InvalidArgument(
                f"unknown level of assurance {text!r}; use low, substantial or high"
            )
        return level


# looked up, not built, on every VerifyToken (parse twice, acr twice): enum member names are
# read through a descriptor, and iterating the class builds its member list each time
_BY_NAME: dict[str, Assurance] = {level.name.lower(): level for level in Assurance}
_ACR: dict[Assurance, str] = {level: ACR_PREFIX + name for name, level in _BY_NAME.items()}

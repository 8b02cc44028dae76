"""Levels of assurance (acr): low (password), substantial, high (password plus face at the hub)."""

from __future__ import annotations

import enum

from federation.errors import InvalidArgument


class Assurance(enum.IntEnum):
    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3

    @property
    def acr(self) -> str:
        return f"urn:yrd:loa:{self.name.lower()}"

    @classmethod
    def parse(cls, text: str) -> Assurance:
        key = text.strip().lower().removeprefix("urn:yrd:loa:")
        for level in cls:
            if level.name.lower() == key:
                return level
        raise InvalidArgument(f"unknown level of assurance {text!r}; use low, substantial or high")

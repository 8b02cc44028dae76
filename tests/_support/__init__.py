"""Helpers shared by test packages, imported as `tests._support.<name>` (never from conftest)."""

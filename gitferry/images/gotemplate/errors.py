"""The errors of the template package: TemplateError for callers, Fail inside the executor."""

from __future__ import annotations


class TemplateError(ValueError):
    """A template that does not parse, or fails to execute; the message names line and column."""


class Fail(Exception):
    """An execution error, located by the executor at the node it was evaluating."""


def error(src: str, pos: int, message: str) -> TemplateError:
    line, column = src.count("\n", 0, pos) + 1, pos - src.rfind("\n", 0, pos)
    return TemplateError(f"template line {line}, column {column}: {message}")

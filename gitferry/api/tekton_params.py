"""Tekton parameters and results: the values that flow into and out of Tasks and Pipelines.

A value is a string, an array of strings or an object of strings. Tekton decodes anything else
(a number, a boolean, a list of numbers) as the string of its JSON text; ``param_value`` does the
same, so ``value: 3`` is the string ``"3"`` here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from gitferry.api.meta import Model
from gitferry.api.tekton_meta import Problem, raise_problems, repeated

ParamType = Literal["string", "array", "object"]
ParamValue = str | list[str] | dict[str, str]

# Tekton's name formats: string and array params may contain dots, object params and their keys may not.
_PARAM_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9.-]*$")
_OBJECT_PARAM_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9-]*$")
_RESULT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def param_value(raw: Any) -> Any:
    """A YAML value as Tekton's ParamValue decodes it: strings, arrays and objects of strings as they
    are, null as "", anything else as its JSON text."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    if isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        return raw
    return json.dumps(raw, separators=(",", ":"))


def value_type(value: ParamValue) -> ParamType:
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


TektonValue = Annotated[ParamValue, BeforeValidator(param_value)]


class PropertySpec(Model):
    """The type of one key of an object param or result: Tekton allows only string."""

    type: ParamType = "string"


class ParamSpec(Model):
    """A parameter a Task or Pipeline declares. Without ``type``, Tekton infers it: object when
    ``properties`` are given, else the type of ``default``, else string."""

    name: str = Field(min_length=1)
    type: ParamType = "string"
    description: str = ""
    properties: dict[str, PropertySpec] | None = None
    default: TektonValue | None = None
    enum: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("type"):
            return data
        if data.get("properties") is not None:
            return {**data, "type": "object"}
        if data.get("default") is not None:
            return {**data, "type": value_type(param_value(data["default"]))}
        return data

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        raise_problems("ParamSpec", self._problems(), self.name)
        return self

    def _problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.type == "object":
            if not _OBJECT_PARAM_NAME.match(self.name):
                out.append((("name",), f"object param name {self.name!r} must match {_OBJECT_PARAM_NAME.pattern}"))
            bad_keys = sorted(key for key in self.properties or {} if not _OBJECT_PARAM_NAME.match(key))
            if bad_keys:
                out.append((("properties",), f"property names {bad_keys} must match {_OBJECT_PARAM_NAME.pattern}"))
        elif not _PARAM_NAME.match(self.name):
            out.append(
                (
                    ("name",),
                    f"param name {self.name!r} must start with a letter or '_' and hold letters, digits, '_', '-', '.'",
                )
            )
        not_string = sorted(key for key, spec in (self.properties or {}).items() if spec.type != "string")
        if not_string:
            out.append((("properties",), f"properties {not_string} must have type string"))
        if self.default is not None and value_type(self.default) != self.type:
            out.append(
                (("default",), f"a default of type {value_type(self.default)} does not fit a param of type {self.type}")
            )
        if self.enum:
            if self.type != "string":
                out.append((("enum",), "enum applies to string params only"))
            out += [(("enum", i), f"enum value {self.enum[i]!r} appears more than once") for i in repeated(self.enum)]
            if isinstance(self.default, str) and self.default and self.default not in self.enum:
                out.append((("default",), f"default {self.default!r} is not one of the enum values {self.enum}"))
        return out

    @property
    def has_default(self) -> bool:
        return self.default is not None


class Param(Model):
    """A value given to a declared parameter."""

    name: str = Field(min_length=1)
    value: TektonValue

    @property
    def value_type(self) -> ParamType:
        return value_type(self.value)


class TaskResult(Model):
    """A result a Task writes (to ``$(results.<name>.path)``)."""

    name: str
    type: ParamType = "string"
    properties: dict[str, PropertySpec] | None = None
    description: str = ""
    value: TektonValue | None = None  # taken from a step's result: parsed, not implemented

    @field_validator("type", mode="before")
    @classmethod
    def _empty_is_string(cls, value: Any) -> Any:
        # Results written before Tekton had types carry none.
        return value or "string"

    @model_validator(mode="after")
    def _check(self) -> TaskResult:
        problems: list[Problem] = []
        if not _RESULT_NAME.match(self.name):
            problems.append(
                (
                    ("name",),
                    f"result name {self.name!r} must be letters, digits, '-', '_', '.', from a letter or digit to one",
                )
            )
        if self.type == "object" and self.properties is None:
            problems.append((("properties",), "an object result needs properties"))
        not_string = sorted(key for key, spec in (self.properties or {}).items() if spec.type != "string")
        if not_string:
            problems.append((("properties",), f"properties {not_string} must have type string"))
        raise_problems("TaskResult", problems, self.name)
        return self


class PipelineResult(Model):
    """A result of a Pipeline, usually ``$(tasks.<task>.results.<name>)``."""

    name: str = Field(min_length=1)
    type: ParamType = "string"
    description: str = ""
    value: TektonValue


def param_list_problems(field: str, params: Sequence[Param | ParamSpec], *, ignore_case: bool = False) -> list[Problem]:
    """Names given more than once (runs compare them ignoring case, as Tekton does)."""
    names = [p.name for p in params]
    return [
        ((field, i, "name"), f"param {names[i]!r} is given more than once")
        for i in repeated(names, ignore_case=ignore_case)
    ]

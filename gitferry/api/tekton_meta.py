"""What the four Tekton kinds share: metadata that may carry ``generateName`` instead of a name,
Tekton's name and duration rules, and the way a model reports several problems at once.

Tekton's admission webhook answers with every problem it finds, each under its field path. The
models here do the same: a check collects ``(path, message)`` problems and ``raise_problems``
raises them as one pydantic ``ValidationError``, so pydantic prefixes the path of the enclosing
fields and ``meta.validation_message`` names each one (``field spec.tasks.1.runAfter.0: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from gitferry.api.meta import Model, parse_duration, validation_message
from gitferry.errors import InvalidObjectError

API_VERSION = "tekton.dev/v1"

# Tekton's config-defaults ``default-timeout-minutes``: a PipelineRun's timeouts.pipeline and a
# TaskRun's timeout when unset.
DEFAULT_TIMEOUT = "60m"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

Location = tuple[str | int, ...]
Problem = tuple[Location, str]

M = TypeVar("M", bound=BaseModel)


def invalid(message: str) -> PydanticCustomError:
    """An error for a field validator to raise: the message as written, without pydantic's prefix."""
    return PydanticCustomError("tekton", "{message}", {"message": message})


def raise_problems(title: str, problems: Sequence[Problem], value: Any) -> None:
    """Raise all ``problems`` as one ValidationError, each at its path relative to the model checked."""
    if problems:
        details = [InitErrorDetails(type=invalid(message), loc=loc, input=value) for loc, message in problems]
        raise ValidationError.from_exception_data(title, details)


def dns_label_problem(value: str, what: str) -> str | None:
    """Why ``value`` is not a DNS-1123 label (how Tekton names pipeline tasks and steps), or None."""
    if len(value) <= 63 and _DNS_LABEL.match(value):
        return None
    return (
        f"{what} {value!r} must be a DNS-1123 label: at most 63 lower-case letters, digits and '-', "
        "starting and ending with a letter or digit"
    )


def repeated(names: Sequence[str], *, ignore_case: bool = False) -> list[int]:
    """The positions of names that already appeared earlier in ``names``."""
    seen: set[str] = set()
    out = []
    for index, name in enumerate(names):
        key = name.lower() if ignore_case else name
        if key in seen:
            out.append(index)
        seen.add(key)
    return out


def duration_seconds(text: str) -> float:
    """Seconds in a Go duration (``metav1.Duration``): ``1h30m``, ``90s``, ``0`` (no timeout)."""
    if not text.strip():
        raise ValueError("an empty duration is not valid (expected e.g. 30s, 5m, 1h30m)")
    if text.strip().startswith("-"):
        raise ValueError(f"duration {text!r} must be at least 0")
    return parse_duration(text)


def checked_duration(value: str | None) -> str | None:
    """For field validators: the duration unchanged, or an error naming it."""
    if value is not None:
        try:
            duration_seconds(value)
        except ValueError as e:
            raise invalid(str(e)) from e
    return value


def optional_seconds(value: str | None) -> float | None:
    return duration_seconds(value) if value is not None else None


class TektonObjectMeta(Model):
    """Object metadata as Tekton's webhook checks it: a name, or a ``generateName`` prefix (common
    for PipelineRuns and TaskRuns: each run gets a fresh name when it is created)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    name: str = ""
    generate_name: str = ""
    namespace: str = Field(default="default", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int = 0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # Tekton: a DNS-1123 subdomain of at most 63 characters (it names pods and labels after it).
        if value and (len(value) > 63 or not _DNS_SUBDOMAIN.match(value)):
            raise invalid(
                f"name {value!r} must be at most 63 lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("generate_name")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # As Kubernetes checks a prefix: a trailing '-' is fine, the rest must be a valid name.
        masked = value[:-1] + "a" if value.endswith("-") else value
        if value and not _DNS_SUBDOMAIN.match(masked):
            raise invalid(f"generateName {value!r} must be lower-case letters, digits, '-' and '.'")
        return value

    @model_validator(mode="after")
    def _named(self) -> TektonObjectMeta:
        if not self.name and not self.generate_name:
            raise_problems("metadata", [(("name",), "metadata.name or metadata.generateName is required")], "")
        return self

    @property
    def origin_name(self) -> str:
        """The name as written in the file: ``generateName`` without its dash, else the name."""
        return self.generate_name.rstrip("-") or self.name

    @property
    def display_name(self) -> str:
        """The name, or ``prefix*`` for an object that is named when created."""
        return self.name or f"{self.generate_name}*"


def object_display_name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "?"
    if meta.get("name"):
        return str(meta["name"])
    return f"{meta['generateName']}*" if meta.get("generateName") else "?"


def validate_object(model: type[M], kind: str, obj: dict[str, Any], origin: str) -> M:
    """``obj`` as ``model``; InvalidObjectError naming the object (or its generateName), file and fields."""
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        raise InvalidObjectError(validation_message(kind, object_display_name(obj), origin, e)) from e


def required_name(meta: TektonObjectMeta, kind: str) -> list[Problem]:
    """Tasks and Pipelines are referred to by name, so a generateName alone will not do."""
    if meta.name:
        return []
    return [(("metadata", "name"), f"a {kind} is referred to by name: metadata.name is required")]

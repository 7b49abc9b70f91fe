"""Durations, the pydantic base model and conditions shared by every kind."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from gitferry.api.keys import ObjectKey, now, timestamp
from gitferry.errors import InvalidObjectError

__all__ = ["ObjectKey", "now", "timestamp"]  # re-exported: most callers import them from here

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string as Flux accepts it: ``1m30s``, ``5m``, ``500ms``, ``1h``."""
    value = text.strip()
    if value in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(value) or pos == 0:
        raise ValueError(f"invalid duration {text!r} (expected a Go duration such as 30s, 5m, 1h)")
    return total


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for whole seconds, in Go's style (``1m30s``)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{secs}s" if secs or not out else "")


class Model(BaseModel):
    """Base for Kubernetes-style models: camelCase fields, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


class ObjectMeta(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    namespace: str = Field(
        default="flux-system", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int = 0


class LocalRef(Model):
    name: str


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    last_transition_time: str = Field(default_factory=timestamp)
    observed_generation: int = 0


def set_condition(conditions: list[Condition], new: Condition) -> list[Condition]:
    """Replace the condition of the same type, keeping its transition time if status is unchanged."""
    out: list[Condition] = []
    for old in conditions:
        if old.type == new.type:
            if old.status == new.status:
                new = new.model_copy(update={"last_transition_time": old.last_transition_time})
            continue
        out.append(old)
    out.append(new)
    return sorted(
        out,
        key=lambda c: (
            ["Ready", "Reconciling", "Stalled"].index(c.type) if c.type in ("Ready", "Reconciling", "Stalled") else 99
        ),
    )


def get_condition(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def validation_message(kind: str, name: str, origin: str, error: Any) -> str:
    """One sentence per pydantic error naming the object, the file and the field path."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"field {field}: {message}")
    where = f" in {origin}" if origin else ""
    return f"{kind} {name}{where}: " + "; ".join(parts)


def set_fields(spec: BaseModel, paths: Iterable[str]) -> list[str]:
    """Which of these dotted camelCase paths are set in ``spec`` (as ``spec.<path>``): the Flux
    fields a user wrote that gitferry does not implement, to be named in status."""
    raw = spec.model_dump(by_alias=True, exclude_defaults=True)
    out = []
    for path in paths:
        node: Any = raw
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out.append(f"spec.{path}")
    return out


def validate(model: type[M], kind: str, obj: dict[str, Any], origin: str) -> M:
    """``obj`` as ``model``; InvalidObjectError naming the object, the file and each bad field."""
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        name = str((obj.get("metadata") or {}).get("name", "?"))
        raise InvalidObjectError(validation_message(kind, name, origin, e)) from e

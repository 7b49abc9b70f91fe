"""Errors in the shape kube-apiserver answers them: a ``Status`` object with ``reason``, ``details`` and ``code``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# StatusCause.type values (serialized under the JSON key "reason"), as in k8s.io/apimachinery.
CAUSE_REQUIRED = "FieldValueRequired"
CAUSE_INVALID = "FieldValueInvalid"
CAUSE_FORBIDDEN = "FieldValueForbidden"
CAUSE_NOT_SUPPORTED = "FieldValueNotSupported"
CAUSE_DUPLICATE = "FieldValueDuplicate"
CAUSE_TOO_LONG = "FieldValueTooLong"
CAUSE_FIELD_MANAGER_CONFLICT = "FieldManagerConflict"


def go_value(value: Any) -> str:
    """A value as field.Invalid prints it: strings quoted, numbers bare, the rest as compact JSON."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class FieldError:
    """One validation error (k8s.io/apimachinery/pkg/util/validation/field.Error)."""

    type: str
    field: str
    detail: str = ""
    value: Any = None

    def body(self) -> str:
        """The message without the field name, as StatusCause.message carries it."""
        if self.type == CAUSE_REQUIRED:
            text = "Required value"
        elif self.type == CAUSE_FORBIDDEN:
            text = "Forbidden"
        elif self.type == CAUSE_NOT_SUPPORTED:
            text = f"Unsupported value: {go_value(self.value)}"
        elif self.type == CAUSE_DUPLICATE:
            text = f"Duplicate value: {go_value(self.value)}"
        elif self.type == CAUSE_TOO_LONG:
            text = "Too long"
        else:
            text = f"Invalid value: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(CAUSE_REQUIRED, path, detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(CAUSE_INVALID, path, detail, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(CAUSE_FORBIDDEN, path, detail)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(CAUSE_NOT_SUPPORTED, path, "supported values: " + ", ".join(f'"{s}"' for s in supported), value)


def immutable(path: str, value: Any) -> FieldError:
    return invalid(path, value, "field is immutable")


@dataclass
class KubeError(Exception):
    """An API error; ``status()`` is the body the server sends."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details.update(extra)
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> KubeError:
    """``deployments.apps "web" not found`` (details.kind is the resource, as the registry reports it)."""
    details = _details(name, group, resource)
    return KubeError(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', details)


def resource_not_found() -> KubeError:
    return KubeError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> KubeError:
    return KubeError(
        409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists', _details(name, group, resource)
    )


def conflict(resource: str, group: str, name: str, detail: str) -> KubeError:
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        _details(name, group, resource),
    )


def stale_resource_version(resource: str, group: str, name: str) -> KubeError:
    return conflict(
        resource,
        group,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> KubeError:
    """422 Invalid, as ``errors.NewInvalid``: details.kind is the Kind, causes name the fields."""
    qualified = _qualified(kind, group)
    text = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    details = _details(name, group, kind, causes=causes)
    return KubeError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


def internal_error(message: str) -> KubeError:
    return KubeError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def plain_internal_error(message: str) -> KubeError:
    """What the server sends for an error that is not a Status (code 500, no reason)."""
    return KubeError(500, "", message)


def forbidden_error(resource: str, group: str, name: str, detail: str) -> KubeError:
    what = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return KubeError(403, "Forbidden", f"{what} is forbidden: {detail}", _details(name, group, resource))


def unauthorized() -> KubeError:
    return KubeError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(detail: str = "the server does not allow this method on the requested resource") -> KubeError:
    return KubeError(405, "MethodNotAllowed", detail, {})


def unsupported_media_type(content_type: str, accepted: list[str]) -> KubeError:
    return KubeError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        {},
    )


def apply_conflict(conflicts: list[tuple[str, str]]) -> KubeError:
    """409 from a server-side apply: one cause per (manager description, field path)."""
    causes = [
        {"reason": CAUSE_FIELD_MANAGER_CONFLICT, "message": f"conflict with {who}", "field": path}
        for who, path in conflicts
    ]
    if len(conflicts) == 1:
        who, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {path}"
    else:
        by_manager: dict[str, list[str]] = {}
        for who, path in conflicts:
            by_manager.setdefault(who, []).append(path)
        lines: list[str] = []
        for who in sorted(by_manager):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path}" for path in by_manager[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return KubeError(409, "Conflict", message, {"causes": causes})

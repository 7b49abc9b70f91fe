"""Object identity and time stamps: plain data, cheap to import (no pydantic), used everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes times."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def precise_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC with milliseconds: pipeline steps often take less than a second."""
    return (moment or now()).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object: kind, namespace and name. Printed as ``Kind/namespace/name``."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def namespaced_name(self) -> str:
        """``namespace/name``: how a Kustomization is named as the owner of an inventory."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def of(cls, obj: dict[str, Any], default_namespace: str = "") -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("kind", "")), str(meta.get("namespace") or default_namespace), str(meta.get("name", "")))

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        parts = text.split("/")
        if len(parts) == 3:
            return cls(*parts)
        if len(parts) == 2:
            return cls(parts[0], "", parts[1])
        raise ValueError(f"invalid object reference {text!r} (expected Kind/namespace/name)")

"""The Target interface: apply, prune, live state and health of a rendered set of objects.

The podman target implements it today; the kubernetes target will implement the same methods.
Callers pass whole rendered objects (``dict``) whose ``metadata.namespace`` is already set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource

Action = Literal["created", "configured", "unchanged", "skipped"]
HealthStatus = Literal["Current", "InProgress", "Failed", "NotFound"]


@dataclass(frozen=True)
class Applied:
    """What apply did with one object.

    ``detail`` says why a ``skipped`` object was not run, or, for one that was, which of its
    fields the target accepts but does not act on; both end up in the Ready message.
    """

    key: ObjectKey
    action: Action
    detail: str = ""
    # What made the target act on the live object (drift or a change), e.g. "dev-web-1: pod missing".
    cause: str = ""


@dataclass(frozen=True)
class Health:
    key: ObjectKey
    status: HealthStatus
    message: str = ""


@dataclass(frozen=True)
class Owner:
    """The Kustomization that owns applied objects; targets record it on what they create."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class ApplyOptions:
    force: bool = False
    timeout: float = 300.0
    extra: dict[str, str] = field(default_factory=dict)


class Target(Protocol):
    """A place that runs objects. Every method is idempotent and safe to call again after a crash."""

    name: str

    def unsupported_reason(self, obj: Resource) -> str | None:
        """Why this target cannot run ``obj`` (reported in status), or None if it can."""
        ...

    async def apply(self, owner: Owner, objects: Sequence[Resource], options: ApplyOptions) -> list[Applied]:
        """Make each object's live state match it; unchanged objects must not be touched.

        Called every interval with the full desired set: this is also drift correction.
        On failure raise a GitferryError subclass; objects already applied stay applied.
        """
        ...

    async def prune(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[ObjectKey]:
        """Delete these objects if ``owner`` owns them; return the keys actually deleted."""
        ...

    async def live(self, owner: Owner, keys: Sequence[ObjectKey]) -> dict[ObjectKey, Resource | None]:
        """The live form of each object as comparable to the desired one (None if absent)."""
        ...

    async def preview(self, owner: Owner, objects: Sequence[Resource]) -> dict[ObjectKey, Resource]:
        """Each object as it would be once applied, in ``live``'s form, for the objects the target
        can tell exactly (a server-side dry-run); the others are compared field by field."""
        ...

    async def health(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[Health]:
        """Health of each object, kstatus-style (Current, InProgress, Failed, NotFound)."""
        ...

"""What a reconcile tells the reactor: when to come back, and whether dependants should run now."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitferry.api.meta import ObjectKey


@dataclass(frozen=True)
class Outcome:
    requeue_after: float
    ready: bool | None
    message: str = ""
    # A GitRepository with a new artifact, or a Kustomization that added/removed gitferry objects:
    # the reactor reconciles these next instead of waiting for their intervals.
    wake: list[ObjectKey] = field(default_factory=list)
    objects_changed: bool = False

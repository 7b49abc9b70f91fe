"""What a reconcile tells the reactor: when to come back, and whether dependants should run now."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitferry.api.keys import ObjectKey


@dataclass(frozen=True)
class Outcome:
    requeue_after: float
    ready: bool | None
    message: str = ""
    # A source with a new artifact: the Kustomizations that read it run next, not at their interval.
    new_artifact: bool = False
    # gitferry objects this reconcile created, changed or removed (a Kustomization applying
    # GitRepositories and Kustomizations): they run next, as a changed generation does in Flux.
    wake: list[ObjectKey] = field(default_factory=list)

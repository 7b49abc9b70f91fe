"""How every reconciler reports a failure: one reason per error class, a message naming the object
and what keeps running, the status written once (not on every identical retry), and back-off."""

from __future__ import annotations

import logging
from typing import Any

from gitferry.controllers import statuses
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import DependencyNotReadyError, GitferryError, is_permanent
from gitferry.store.sqlite import StoredObject

log = logging.getLogger("gitferry.failures")


def reason_for(error: GitferryError, transient: str) -> str:
    """Flux's reasons: the object is invalid, waits on another, or the operation failed (``transient``)."""
    if isinstance(error, DependencyNotReadyError):
        return statuses.DEPENDENCY_NOT_READY
    return statuses.INVALID if is_permanent(error) else transient


def retry_delay(interval: float, failures: int, error: GitferryError) -> float:
    """Doubling back-off from 1 s for transient failures, never slower than the interval itself."""
    return interval if is_permanent(error) else min(interval, 2.0 ** min(failures, 10))


def report_failure(
    world: World,
    stored: StoredObject,
    old: dict[str, Any],
    error: GitferryError,
    *,
    transient_reason: str,
    interval: float,
    failures: int,
    kept: str = "",
    fields: dict[str, Any] | None = None,
) -> Outcome:
    """Ready=False (and Stalled when only a change in Git can help); ``kept`` says what still holds."""
    key, generation = stored.key, stored.generation
    permanent = is_permanent(error)
    reason = reason_for(error, transient_reason)
    message = statuses.naming(key, str(error)) + (f" ({kept})" if kept else "")
    new = statuses.mark(
        old, ready=False, reason=reason, message=message, generation=generation, stalled=permanent, fields=fields
    )
    waiting = reason == statuses.DEPENDENCY_NOT_READY  # expected while objects start: no alarm
    if world.record_failure(key, old, new, ("Normal" if waiting else "Warning", reason)):
        log.warning("%s: %s", key, message)
    return Outcome(requeue_after=retry_delay(interval, failures, error), ready=False, message=message)

"""Pure status writing: Flux-shaped conditions (Ready, Reconciling, Stalled) on a status dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitferry.api.keys import ObjectKey, timestamp

Status = dict[str, Any]

# Reasons, as Flux's controllers name them.
SUCCEEDED = "Succeeded"
RECONCILIATION_SUCCEEDED = "ReconciliationSucceeded"
RECONCILIATION_FAILED = "ReconciliationFailed"
PROGRESSING = "Progressing"
BUILD_FAILED = "BuildFailed"
ARTIFACT_FAILED = "ArtifactFailed"
GIT_OPERATION_FAILED = "GitOperationFailed"
DEPENDENCY_NOT_READY = "DependencyNotReady"
HEALTH_CHECK_FAILED = "HealthCheckFailed"
INVALID = "InvalidObject"
SUSPENDED = "Suspended"


def _condition(type_: str, status: str, reason: str, message: str, generation: int, old: Status) -> dict[str, Any]:
    previous = next((c for c in old.get("conditions", []) if c.get("type") == type_), None)
    changed = previous is None or previous.get("status") != status
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": (previous or {}).get("lastTransitionTime") if not changed else timestamp(),
    }


def mark(
    old: Status,
    *,
    ready: bool | None,
    reason: str,
    message: str,
    generation: int,
    stalled: bool = False,
    reconciling: bool = False,
    fields: dict[str, Any] | None = None,
) -> Status:
    """A new status with the Ready condition set and Reconciling/Stalled present only when true.

    ``ready=None`` writes Ready=Unknown (work in progress). ``fields`` are set at top level.
    """
    ready_value = "Unknown" if ready is None else ("True" if ready else "False")
    conditions = [_condition("Ready", ready_value, reason, message, generation, old)]
    if reconciling:
        conditions.append(_condition("Reconciling", "True", PROGRESSING, message, generation, old))
    if stalled:
        conditions.append(_condition("Stalled", "True", reason, message, generation, old))
    new = {**old, **(fields or {}), "conditions": conditions}
    if ready is not None:
        new["observedGeneration"] = generation
    return new


def naming(key: ObjectKey, message: str) -> str:
    """Every failure message names its object, so an event or a log line read alone is clear."""
    name = f"{key.kind} {key.namespace}/{key.name}"
    return message if message.startswith(name) else f"{name}: {message}"


def ready_of(status: Status) -> bool | None:
    """True/False from the Ready condition, None when unknown or absent."""
    for condition in status.get("conditions", []):
        if condition.get("type") == "Ready":
            return {"True": True, "False": False}.get(condition.get("status", ""))
    return None


def condition_of(status: Status, type_: str = "Ready") -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c.get("type") == type_), None)


def same_apart_from_times(a: Status, b: Status) -> bool:
    """Whether writing ``b`` over ``a`` would change anything a user can see but timestamps."""

    def strip(status: Status) -> Status:
        out = {k: v for k, v in status.items() if k not in ("lastHandledReconcileAt",)}
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions", [])
        ]
        return out

    return strip(a) == strip(b)


def _latest_image(status: Status) -> str:
    latest = status.get("latestRef") or {}
    return f"{latest['name']}:{latest['tag']}" if latest else ""


# What ``flux get`` shows after NAME, by kind: the one fact that says where the object is.
DETAIL_COLUMNS: dict[str, tuple[str, Callable[[Status], str]]] = {
    "GitRepository": ("REVISION", lambda s: str((s.get("artifact") or {}).get("revision", ""))),
    "Kustomization": ("REVISION", lambda s: str(s.get("lastAppliedRevision", ""))),
    "ImageRepository": ("LAST SCAN", lambda s: str((s.get("lastScanResult") or {}).get("scanTime", ""))),
    "ImagePolicy": ("LATEST IMAGE", _latest_image),
    "ImageUpdateAutomation": ("LAST RUN", lambda s: str(s.get("lastAutomationRunTime", ""))),
    "Repository": ("BRANCHES", lambda s: ", ".join(sorted(s.get("observedHeads") or {}))),
    "Receiver": ("WEBHOOK PATH", lambda s: str(s.get("webhookPath") or "")),
}

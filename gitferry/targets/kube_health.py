"""Health of a live Kubernetes object by kstatus's rules (sigs.k8s.io/cli-utils), as Flux judges it.

Pure: the object as the API server returns it in, (status, message) out. ``Current`` is healthy,
``InProgress`` may still become healthy, ``Failed`` will not without a change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitferry.targets.base import HealthStatus

Verdict = tuple[HealthStatus, str]
Obj = dict[str, Any]


def _condition(obj: Obj, type_: str) -> Obj | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == type_:
            return condition
    return None


def _is(obj: Obj, type_: str, status: str) -> bool:
    condition = _condition(obj, type_)
    return condition is not None and condition.get("status") == status


def _said(obj: Obj, type_: str) -> str:
    condition = _condition(obj, type_) or {}
    return str(condition.get("message") or condition.get("reason") or "")


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def _stale(obj: Obj) -> Verdict | None:
    """The controller has not seen the latest spec yet."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return "InProgress", f"observed generation {observed} is behind generation {generation}"
    if isinstance(generation, int) and "status" in obj and observed is None and _has_workload_status(obj):
        return "InProgress", "the controller has not observed this generation yet"
    return None


def _has_workload_status(obj: Obj) -> bool:
    return obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def _replicas(obj: Obj) -> int:
    return _int((obj.get("spec") or {}).get("replicas"), 1)


def _deployment(obj: Obj) -> Verdict:
    status, want = obj.get("status") or {}, _replicas(obj)
    progressing = _condition(obj, "Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "Failed", f"progress deadline exceeded: {progressing.get('message', '')}".rstrip(": ")
    updated, total = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available, ready = _int(status.get("availableReplicas")), _int(status.get("readyReplicas"))
    if updated < want:
        return "InProgress", f"updated replicas: {updated}/{want}"
    if total > updated:
        return "InProgress", f"pending termination: {total - updated}"
    if available < want:
        return "InProgress", f"available replicas: {available}/{want}"
    if ready < want:
        return "InProgress", f"ready replicas: {ready}/{want}"
    return "Current", f"Deployment is available. Replicas: {want}"


def _statefulset(obj: Obj) -> Verdict:
    status, want = obj.get("status") or {}, _replicas(obj)
    if ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        return "Current", "StatefulSet with OnDelete updates"
    ready, current = _int(status.get("readyReplicas")), _int(status.get("currentReplicas"))
    if ready < want:
        return "InProgress", f"ready replicas: {ready}/{want}"
    if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
        return "InProgress", f"updated replicas: {_int(status.get('updatedReplicas'))}/{want}"
    if current < want:
        return "InProgress", f"current replicas: {current}/{want}"
    return "Current", f"All replicas scheduled as expected. Replicas: {want}"


def _daemonset(obj: Obj) -> Verdict:
    status = obj.get("status") or {}
    want = _int(status.get("desiredNumberScheduled"))
    for field, label in (("updatedNumberScheduled", "updated"), ("numberAvailable", "available"),
                         ("numberReady", "ready")):  # fmt: skip
        have = _int(status.get(field))
        if have < want:
            return "InProgress", f"{label}: {have}/{want}"
    return "Current", f"All replicas scheduled as expected. Replicas: {want}"


def _replicaset(obj: Obj) -> Verdict:
    status, want = obj.get("status") or {}, _replicas(obj)
    for field in ("availableReplicas", "readyReplicas"):
        have = _int(status.get(field))
        if have < want:
            return "InProgress", f"{field}: {have}/{want}"
    return "Current", f"ReplicaSet is available. Replicas: {want}"


def _job(obj: Obj) -> Verdict:
    if _is(obj, "Failed", "True"):
        return "Failed", f"Job failed: {_said(obj, 'Failed')}".rstrip(": ")
    if _is(obj, "Complete", "True"):
        return "Current", "Job Completed"
    return "InProgress", "Job in progress"


def _pod(obj: Obj) -> Verdict:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return "Current", "Pod has completed successfully"
    if phase == "Failed":
        return "Failed", f"Pod failed: {(obj.get('status') or {}).get('message', '')}".rstrip(": ")
    if phase == "Running" and _is(obj, "Ready", "True"):
        return "Current", "Pod is Ready"
    return "InProgress", f"Pod phase {phase or 'unknown'}, not ready"


def _pvc(obj: Obj) -> Verdict:
    phase = (obj.get("status") or {}).get("phase")
    return ("Current", "PVC is Bound") if phase == "Bound" else ("InProgress", f"PVC is {phase or 'not bound'}")


def _service(obj: Obj) -> Verdict:
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return "Current", "Service is ready"
    if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return "Current", "Service is ready"
    return "InProgress", "LoadBalancer has no ingress address yet"


def _crd(obj: Obj) -> Verdict:
    if _is(obj, "NamesAccepted", "False"):
        return "Failed", f"names not accepted: {_said(obj, 'NamesAccepted')}"
    if _is(obj, "Established", "True"):
        return "Current", "CRD is established"
    return "InProgress", "CRD is not established yet"


def _namespace(obj: Obj) -> Verdict:
    phase = (obj.get("status") or {}).get("phase", "Active")
    return ("Current", "Namespace is active") if phase == "Active" else ("InProgress", f"Namespace is {phase}")


def _generic(obj: Obj) -> Verdict:
    """Any other kind: Stalled fails, Reconciling waits, Ready decides, no conditions is healthy."""
    if _is(obj, "Stalled", "True"):
        return "Failed", _said(obj, "Stalled") or "Stalled"
    if _is(obj, "Reconciling", "True"):
        return "InProgress", _said(obj, "Reconciling") or "Reconciling"
    ready = _condition(obj, "Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return "Current", _said(obj, "Ready") or "Ready"
        return "InProgress", _said(obj, "Ready") or f"Ready is {ready.get('status')}"
    return "Current", "Resource is current"


_BY_KIND: dict[str, Callable[[Obj], Verdict]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "ReplicaSet": _replicaset,
    "Job": _job,
    "Pod": _pod,
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "CustomResourceDefinition": _crd,
    "Namespace": _namespace,
}


def health_of(obj: Obj) -> Verdict:
    """kstatus's verdict on one live object."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "InProgress", "being deleted"
    stale = _stale(obj)
    if stale is not None:
        return stale
    return _BY_KIND.get(str(obj.get("kind")), _generic)(obj)

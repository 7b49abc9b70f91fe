"""What kube-controller-manager, the kubelet and kube-apiserver's own controllers write to ``status``.

Each function returns the status a controller would converge to for one object, given a mode:
``ready`` (the default), ``hold`` (the rollout is still in progress) or ``fail`` (it failed, with a
reason). Nothing here runs Pods: the status is what a healthy (or held, or failed) cluster reports.
"""

from __future__ import annotations

from typing import Any

from .validation import pod_template_hash

HOLD_ANNOTATION = "kubeapi.test/hold"
FAIL_ANNOTATION = "kubeapi.test/fail"

READY, HOLD, FAIL = "ready", "hold", "fail"
COMPLETE_MESSAGE = "Reached expected number of succeeded pods"

CONTROLLER_KINDS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("", "Pod"),
    ("", "PersistentVolumeClaim"),
    ("", "Service"),
}


def _condition(ctype: str, status: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": ctype, "status": "True" if status else "False", "reason": reason, "message": message}


def conditions(old: Any, new: list[dict[str, Any]], now: str, *, update_time: bool = False) -> list[dict[str, Any]]:
    """New conditions, keeping lastTransitionTime (and lastUpdateTime) where nothing changed."""
    previous = {c.get("type"): c for c in old or [] if isinstance(c, dict)}
    out = []
    for cond in new:
        before = previous.get(cond["type"]) or {}
        same_status = before.get("status") == cond["status"]
        same_all = same_status and before.get("reason") == cond["reason"] and before.get("message") == cond["message"]
        entry: dict[str, Any] = {"type": cond["type"], "status": cond["status"]}
        if update_time:
            entry["lastUpdateTime"] = before.get("lastUpdateTime", now) if same_all else now
        entry["lastTransitionTime"] = before.get("lastTransitionTime", now) if same_status else now
        entry["reason"] = cond["reason"]
        entry["message"] = cond["message"]
        out.append(entry)
    return out


def _nonzero(status: dict[str, Any], **counts: int) -> None:
    """Set integer fields, leaving out zeros as the API's omitempty does."""
    for key, value in counts.items():
        if value:
            status[key] = value


def desired_status(
    obj: dict[str, Any], group: str, kind: str, mode: str, reason: str, now: str
) -> dict[str, Any] | None:
    """The status the controller for ``kind`` writes, or None when the kind has no controller here."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    old = obj.get("status") or {}
    name = meta.get("name", "")
    generation = meta.get("generation")
    fn = _CONTROLLERS.get((group, kind))
    if fn is None:
        return None
    return fn(name=name, spec=spec, old=old, generation=generation, mode=mode, reason=reason, now=now)


def _deployment(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    replicas = spec.get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) else 1
    rs = f"{name}-{pod_template_hash(spec.get('template'))}"
    ready = replicas if mode == READY else 0
    status: dict[str, Any] = {"observedGeneration": generation}
    _nonzero(status, replicas=replicas, updatedReplicas=replicas, readyReplicas=ready, availableReplicas=ready)
    _nonzero(status, unavailableReplicas=replicas - ready)
    if mode == READY:
        available = _condition("Available", True, "MinimumReplicasAvailable", "Deployment has minimum availability.")
        progressing = _condition(
            "Progressing", True, "NewReplicaSetAvailable", f'ReplicaSet "{rs}" has successfully progressed.'
        )
    else:
        available = _condition(
            "Available", False, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
        )
        if mode == FAIL:
            message = f'ReplicaSet "{rs}" has timed out progressing.' + (f" {reason}" if reason else "")
            progressing = _condition("Progressing", False, "ProgressDeadlineExceeded", message)
        else:
            progressing = _condition("Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.')
    status["conditions"] = conditions(old.get("conditions"), [available, progressing], now, update_time=True)
    return status


def _statefulset(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    replicas = spec.get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) else 1
    revision = f"{name}-{pod_template_hash(spec.get('template'))}"
    ready = replicas if mode == READY else 0
    status: dict[str, Any] = {"observedGeneration": generation, "replicas": replicas}
    _nonzero(status, readyReplicas=ready, currentReplicas=ready, updatedReplicas=ready, availableReplicas=ready)
    status["currentRevision"] = revision if mode == READY else old.get("currentRevision", revision)
    status["updateRevision"] = revision
    status["collisionCount"] = 0
    return status


def _daemonset(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    nodes = 1
    ready = nodes if mode == READY else 0
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberMisscheduled": 0,
        "numberReady": ready,
    }
    _nonzero(status, updatedNumberScheduled=nodes, numberAvailable=ready, numberUnavailable=nodes - ready)
    return status


def _replicaset(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    replicas = spec.get("replicas", 1)
    replicas = replicas if isinstance(replicas, int) else 1
    ready = replicas if mode == READY else 0
    status: dict[str, Any] = {"observedGeneration": generation, "replicas": replicas}
    _nonzero(status, fullyLabeledReplicas=replicas, readyReplicas=ready, availableReplicas=ready)
    return status


def _job(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    start = old.get("startTime", now)
    status: dict[str, Any] = {"startTime": start, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}
    completions = spec.get("completions", 1)
    completions = completions if isinstance(completions, int) else 1

    def job_conditions(types: tuple[str, str], why: str, message: str) -> list[dict[str, Any]]:
        # A Job's conditions also carry lastProbeTime, the time of their transition.
        written = conditions(old.get("conditions"), [_condition(t, True, why, message) for t in types], now)
        return [{**c, "lastProbeTime": c["lastTransitionTime"]} for c in written]

    if mode == READY:
        status["succeeded"] = completions
        status["completionTime"] = old.get("completionTime", now)
        status["conditions"] = job_conditions(
            ("SuccessCriteriaMet", "Complete"), "CompletionsReached", COMPLETE_MESSAGE
        )
    elif mode == FAIL:
        message = reason or "Job has reached the specified backoff limit"
        status["failed"] = 1
        status["conditions"] = job_conditions(("FailureTarget", "Failed"), "BackoffLimitExceeded", message)
    else:
        status["active"] = 1
    return status


def _pod(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    ready = mode == READY
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": {READY: "Running", HOLD: "Pending", FAIL: "Failed"}[mode],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": old.get("podIP", "10.244.0.10"),
        "podIPs": [{"ip": old.get("podIP", "10.244.0.10")}],
        "qosClass": "BestEffort",
        "startTime": old.get("startTime", now),
    }
    status["conditions"] = conditions(
        old.get("conditions"),
        [
            _condition("PodReadyToStartContainers", mode != HOLD, "", ""),
            _condition("Initialized", True, "", ""),
            _condition("Ready", ready, "" if ready else "ContainersNotReady", ""),
            _condition("ContainersReady", ready, "" if ready else "ContainersNotReady", ""),
            _condition("PodScheduled", True, "", ""),
        ],
        now,
    )
    status["conditions"] = [
        {k: v for k, v in c.items() if v != ""} | {"lastProbeTime": None} for c in status["conditions"]
    ]
    statuses = []
    for c in containers:
        entry: dict[str, Any] = {
            "name": c.get("name"),
            "image": c.get("image"),
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": ready,
        }
        if ready:
            entry["state"] = {"running": {"startedAt": now}}
        elif mode == FAIL:
            entry["state"] = {"terminated": {"exitCode": 1, "reason": "Error", "message": reason}}
        else:
            entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
        statuses.append(entry)
    status["containerStatuses"] = statuses
    if mode == FAIL:
        status["reason"] = "Failed"
        status["message"] = reason
    return status


def _pvc(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    if mode != READY:
        return {"phase": "Lost" if mode == FAIL else "Pending"}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    status: dict[str, Any] = {"phase": "Bound", "accessModes": spec.get("accessModes") or []}
    if storage is not None:
        status["capacity"] = {"storage": storage}
    return status


def _service(
    *, name: str, spec: dict[str, Any], old: dict[str, Any], generation: Any, mode: str, reason: str, now: str
) -> dict[str, Any]:
    if spec.get("type") != "LoadBalancer" or mode != READY:
        return {"loadBalancer": {}}
    return {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}


_CONTROLLERS = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Service"): _service,
}

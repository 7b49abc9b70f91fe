"""Pure: the fields of a workload that ``podman kube play`` accepts but does not act on.

gitferry never drops a field silently: these are named in the Kustomization's Ready message,
so a user learns that, say, a readinessProbe gates nothing on podman (podman 4.3 turns only
livenessProbe into a healthcheck) before relying on it.
"""

from __future__ import annotations

from typing import Any

from gitferry.api.manifests import Resource

_WORKLOAD_FIELDS = ("strategy", "minReadySeconds", "progressDeadlineSeconds", "paused")
_POD_FIELDS = (
    "affinity",
    "nodeSelector",
    "nodeName",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
    "schedulerName",
    "imagePullSecrets",
)
_CONTAINER_FIELDS = ("readinessProbe", "startupProbe")


def ignored_fields(obj: Resource) -> list[str]:
    """Paths of fields set on a Pod or Deployment that podman does not enforce."""
    spec: dict[str, Any] = obj.get("spec") or {}
    out: list[str] = []
    if obj.get("kind") == "Pod":
        pod, prefix = spec, "spec"
    else:
        out += [f"spec.{field}" for field in _WORKLOAD_FIELDS if field in spec]
        pod, prefix = ((spec.get("template") or {}).get("spec") or {}), "spec.template.spec"
    out += [f"{prefix}.{field}" for field in _POD_FIELDS if field in pod]
    account = pod.get("serviceAccountName")
    if account and account != "default":
        out.append(f"{prefix}.serviceAccountName")
    for group in ("initContainers", "containers"):
        for container in pod.get(group) or []:
            name = container.get("name", "?")
            out += [f"{prefix}.{group}[{name}].{field}" for field in _CONTAINER_FIELDS if field in container]
    return out

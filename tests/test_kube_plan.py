"""The Kubernetes target's pure parts: apply order, owner labels, drift, and kstatus health rules."""

from __future__ import annotations

from typing import Any

import pytest

from gitferry.targets import kube_plan
from gitferry.targets.kube_health import health_of


def obj(kind: str, name: str, namespace: str = "", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}


def test_crds_and_namespaces_first_then_cluster_scoped_then_namespaced() -> None:
    objects = [
        obj("Deployment", "web", "dev"),
        obj("ClusterRole", "reader"),
        obj("Namespace", "dev"),
        obj("ConfigMap", "cfg", "dev"),
        obj("CustomResourceDefinition", "widgets.example.com"),
    ]
    stages = kube_plan.stages(objects, lambda o: bool(o["metadata"].get("namespace")))
    assert [[o["metadata"]["name"] for o in stage] for stage in stages] == [
        ["dev", "widgets.example.com"],
        ["reader"],
        ["web", "cfg"],
    ]


def test_owner_labels_are_added_without_changing_the_input() -> None:
    original = obj("ConfigMap", "cfg", "dev")
    labelled = kube_plan.owned(original, "flux-system", "apps")
    assert labelled["metadata"]["labels"] == {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    assert "labels" not in original["metadata"]
    assert kube_plan.is_owned_by(labelled, "flux-system", "apps")
    assert not kube_plan.is_owned_by(labelled, "flux-system", "other")
    assert kube_plan.owner_selector("flux-system", "apps") == (
        "kustomize.toolkit.fluxcd.io/name=apps,kustomize.toolkit.fluxcd.io/namespace=flux-system"
    )


def test_drift_names_the_fields_git_sets_that_the_cluster_has_otherwise() -> None:
    desired = {"spec": {"replicas": 2, "template": {"containers": [{"name": "web", "image": "app:2"}]}}}
    live = {
        "spec": {"replicas": 3, "paused": False, "template": {"containers": [{"name": "web", "image": "app:2"}]}},
        "status": {"replicas": 3},
    }
    assert kube_plan.drift(desired, live) == [(".spec.replicas", 3, 2)]
    assert kube_plan.describe_drift(kube_plan.drift(desired, live)) == ".spec.replicas: live 3, desired 2"
    secret = kube_plan.drift({"data": {"password": "bmV3"}}, {"data": {"password": "b2xk"}})
    assert kube_plan.describe_drift(secret, secret=True) == ".data.password: live <masked>, desired <masked>"


def test_comparable_drops_what_the_server_writes() -> None:
    live = obj("ConfigMap", "cfg", "dev", data={"a": "1"}, status={"x": 1})
    live["metadata"].update(resourceVersion="7", uid="u", managedFields=[{}], creationTimestamp="t", generation=1)
    assert kube_plan.comparable(live) == obj("ConfigMap", "cfg", "dev", data={"a": "1"})


def deployment(want: int, generation: int, **status: Any) -> dict[str, Any]:
    d = obj("Deployment", "web", "dev", spec={"replicas": want}, status={"observedGeneration": generation, **status})
    d["metadata"]["generation"] = generation
    return d


HEALTH: list[tuple[str, dict[str, Any], str, str]] = [
    ("deployment available", deployment(2, 3, replicas=2, updatedReplicas=2, availableReplicas=2, readyReplicas=2),
     "Current", "Replicas: 2"),
    ("deployment not observed", {**deployment(2, 3), "metadata": {"name": "web", "generation": 4}},
     "InProgress", "behind generation 4"),
    ("deployment rolling", deployment(2, 3, replicas=3, updatedReplicas=1, availableReplicas=2, readyReplicas=2),
     "InProgress", "updated replicas: 1/2"),
    ("deployment deadline", deployment(2, 3, conditions=[{"type": "Progressing", "status": "False",
     "reason": "ProgressDeadlineExceeded", "message": "too slow"}]), "Failed", "too slow"),
    ("job complete", obj("Job", "j", "dev", status={"conditions": [{"type": "Complete", "status": "True"}]}),
     "Current", "Completed"),
    ("job failed", obj("Job", "j", "dev", status={"conditions": [{"type": "Failed", "status": "True",
     "message": "BackoffLimitExceeded"}]}), "Failed", "BackoffLimitExceeded"),
    ("pod ready", obj("Pod", "p", "dev", status={"phase": "Running", "conditions": [{"type": "Ready",
     "status": "True"}]}), "Current", "Ready"),
    ("pod pending", obj("Pod", "p", "dev", status={"phase": "Pending"}), "InProgress", "Pending"),
    ("pvc bound", obj("PersistentVolumeClaim", "c", "dev", status={"phase": "Bound"}), "Current", "Bound"),
    ("lb without address", obj("Service", "s", "dev", spec={"type": "LoadBalancer"}), "InProgress", "ingress"),
    ("cluster ip service", obj("Service", "s", "dev", spec={"type": "ClusterIP"}), "Current", "ready"),
    ("custom resource ready", obj("Widget", "w", "dev", status={"conditions": [{"type": "Ready",
     "status": "True", "message": "all good"}]}), "Current", "all good"),
    ("custom resource stalled", obj("Widget", "w", "dev", status={"conditions": [{"type": "Stalled",
     "status": "True", "message": "bad spec"}]}), "Failed", "bad spec"),
    ("custom resource not ready", obj("Widget", "w", "dev", status={"conditions": [{"type": "Ready",
     "status": "False", "message": "waiting for db"}]}), "InProgress", "waiting for db"),
    ("configmap", obj("ConfigMap", "c", "dev", data={}), "Current", ""),
    ("being deleted", {**obj("ConfigMap", "c", "dev"), "metadata": {"name": "c", "deletionTimestamp": "t"}},
     "InProgress", "deleted"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "live", "status", "says"), HEALTH, ids=[h[0] for h in HEALTH])
def test_kstatus_health(case: str, live: dict[str, Any], status: str, says: str) -> None:
    got, message = health_of(live)
    assert got == status and says in message, (got, message)


def test_takeover_moves_kubectls_fields_into_gitferrys_apply_entry() -> None:
    managed = [
        {"manager": "gitferry", "operation": "Apply", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:a": {}}}},
        {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:b": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {}},
    ]
    taken, managers = kube_plan.takeover(managed, "gitferry", "v1")
    assert managers == ["kubectl-edit"]
    assert [m["manager"] for m in taken] == ["kube-controller-manager", "gitferry"]
    assert taken[-1]["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    assert kube_plan.takeover(managed[:1], "gitferry", "v1") == (managed[:1], [])

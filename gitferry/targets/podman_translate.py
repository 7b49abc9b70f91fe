"""Kubernetes objects -> ``podman kube play`` documents, names and hashes. Pure: no I/O.

How Kubernetes maps onto one podman host:

- Namespaces become a name prefix and a label: Pod ``web`` in namespace ``dev`` is podman pod
  ``dev-web``. A Namespace object itself is accepted and does nothing.
- A Deployment ``web`` with ``replicas: N`` becomes N podman pods ``dev-web-0 .. dev-web-{N-1}``,
  managed by gitferry one by one. podman's own Deployment support is not used: podman 4.3 gives
  every replica the same hostPort, so the second replica fails to start.
- Replica ``i`` publishes each ``hostPort`` as ``hostPort + i`` on ``hostIP`` (default 127.0.0.1).
  Only loopback addresses may be published on these hosts, so any other hostIP, and hostNetwork,
  is refused rather than silently exposed.
- ConfigMaps are embedded in every play document that references them: kube play resolves
  ``configMapKeyRef``, ``envFrom`` and configMap volumes from documents in the same YAML.
- Secrets become podman secrets named ``<ns>-<name>`` and references are rewritten to that name.
  podman 4.3 reads a secret for ``secretKeyRef``/``envFrom`` as a flat JSON map of key -> base64
  value (a whole v1 Secret fails with "not valid JSON"), and crashes on secret volumes.
- PersistentVolumeClaims become named volumes ``<ns>-<name>``; ``claimName`` is rewritten.
- ``imagePullPolicy: Always`` is carried out by gitferry, which pulls before it stops a running
  pod; the play document then says ``IfNotPresent``. The ``:latest`` default of Kubernetes is not
  applied: images built on this host often exist nowhere else.
- Exec probes: podman 4.3 joins their argv with spaces into one shell command, so gitferry quotes
  it (``sh -c "test -f /x"`` would lose its quotes). podman 4.3 ignores readiness and startup
  probes, and runs ``httpGet`` probes with ``curl`` inside the container.
- Every pod carries gitferry's labels (owner, kind, namespace, name, replica, spec-hash) plus the
  object's own labels; podman copies pod labels onto the pod's containers.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource, dump_documents, group_of
from gitferry.errors import InvalidObjectError, UnsupportedError

MANAGED_BY, OWNER, KIND = "app.kubernetes.io/managed-by", "gitferry.io/owner", "gitferry.io/kind"
NAMESPACE, NAME, REPLICA = "gitferry.io/namespace", "gitferry.io/name", "gitferry.io/replica"
SPEC_HASH = "gitferry.io/spec-hash"
DEFAULT_HOST_IP = "127.0.0.1"

Role = Literal["workload", "configmap", "secret", "volume", "noop", "skipped"]
_ROLES: dict[tuple[str, str], Role] = {
    ("", "Pod"): "workload",
    ("apps", "Deployment"): "workload",
    ("", "ConfigMap"): "configmap",
    ("", "Secret"): "secret",
    ("", "PersistentVolumeClaim"): "volume",
    ("", "Namespace"): "noop",
}
_NO_API = "podman has no API server, so it has no effect here"
_NOT_YET = "is not supported by the podman target yet; use a Deployment or a Pod"
SKIPPED_KINDS: dict[str, str] = {
    "Service": "podman has no Services: publish a hostPort on the pod's containers instead",
    "Ingress": "podman has no ingress controller: publish a hostPort and put a proxy in front",
    "IngressClass": "podman has no ingress controller",
    "ServiceAccount": _NO_API,
    "NetworkPolicy": "podman does not enforce NetworkPolicies",
    "HorizontalPodAutoscaler": "podman has no autoscaler: set replicas on the Deployment",
    "PodDisruptionBudget": "podman has no evictions, so disruption budgets do nothing",
    **{kind: _NO_API for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")},
    **{kind: f"{kind} {_NOT_YET}" for kind in ("StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")},
    **{kind: _NO_API for kind in ("LimitRange", "ResourceQuota", "PriorityClass", "StorageClass")},
    **{kind: _NO_API for kind in ("CustomResourceDefinition", "APIService", "PersistentVolume")},
    **{k: _NO_API for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")},
    **{kind: "podman has no Services to route to" for kind in ("Endpoints", "EndpointSlice")},
}
_LOOPBACK = re.compile(r"^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$")


def role_of(obj: Resource) -> Role:
    """What the podman target does with ``obj``; InvalidObjectError for kinds it does not know."""
    kind = str(obj.get("kind", ""))
    role = _ROLES.get((group_of(str(obj.get("apiVersion", ""))), kind))
    if role is not None:
        return role
    if kind in SKIPPED_KINDS:
        return "skipped"
    raise InvalidObjectError(f"{key_of(obj)}: kind {kind!r} is not a Kubernetes kind the podman target knows")


def unsupported_reason(obj: Resource) -> str | None:
    """Why podman skips ``obj``, None if it runs it; InvalidObjectError for an unknown kind."""
    if role_of(obj) != "skipped":
        return None
    kind = str(obj.get("kind"))
    return SKIPPED_KINDS[kind]


def key_of(obj: Resource) -> ObjectKey:
    return ObjectKey.of(obj)


def podman_name(namespace: str, name: str) -> str:
    return f"{namespace or 'default'}-{name}"


def owner_label(owner_namespace: str, owner_name: str) -> str:
    return f"{owner_namespace}.{owner_name}"


def short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def replicas_of(obj: Resource) -> int:
    if obj.get("kind") == "Pod":
        return 1
    value = (obj.get("spec") or {}).get("replicas", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidObjectError(f"{key_of(obj)}: field spec.replicas must be a whole number >= 0, got {value!r}")
    return value


def template_of(obj: Resource) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod's metadata (labels, annotations) and spec of a Pod or a Deployment's template."""
    if obj.get("kind") == "Pod":
        meta, spec = obj.get("metadata") or {}, obj.get("spec")
        labels = dict(meta.get("labels") or {})
    else:
        template = (obj.get("spec") or {}).get("template") or {}
        meta, spec = template.get("metadata") or {}, template.get("spec")
        labels = {**((obj.get("metadata") or {}).get("labels") or {}), **(meta.get("labels") or {})}
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        raise InvalidObjectError(f"{key_of(obj)}: the pod spec needs at least one container")
    for c in spec["containers"] + list(spec.get("initContainers") or []):
        if not isinstance(c, dict) or not c.get("name") or not isinstance(c.get("image"), str) or not c["image"]:
            raise InvalidObjectError(f"{key_of(obj)}: every container needs a name and an image")
    return {"labels": labels, "annotations": dict(meta.get("annotations") or {})}, spec


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def references(obj: Resource) -> tuple[set[ObjectKey], set[ObjectKey]]:
    """The ConfigMaps and Secrets a Pod or Deployment refers to (optional ones included)."""
    ns = key_of(obj).namespace
    configmaps: set[ObjectKey] = set()
    secrets: set[ObjectKey] = set()
    _, spec = template_of(obj)
    for c in _containers(spec):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            if ref := source.get("configMapKeyRef"):
                configmaps.add(ObjectKey("ConfigMap", ns, ref["name"]))
            if ref := source.get("secretKeyRef"):
                secrets.add(ObjectKey("Secret", ns, ref["name"]))
        for env_from in c.get("envFrom") or []:
            if ref := env_from.get("configMapRef"):
                configmaps.add(ObjectKey("ConfigMap", ns, ref["name"]))
            if ref := env_from.get("secretRef"):
                secrets.add(ObjectKey("Secret", ns, ref["name"]))
    for volume in spec.get("volumes") or []:
        if ref := volume.get("configMap"):
            configmaps.add(ObjectKey("ConfigMap", ns, ref["name"]))
    return configmaps, secrets


def secret_values(obj: Resource) -> dict[str, bytes]:
    """A Secret's decoded values (``data`` is base64, ``stringData`` is clear text and wins)."""
    try:
        values = {k: base64.b64decode(v, validate=True) for k, v in (obj.get("data") or {}).items()}
    except (ValueError, TypeError) as e:
        raise InvalidObjectError(f"{key_of(obj)}: field data holds a value that is not base64") from e
    values.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return values


def secret_payload(obj: Resource) -> str:
    """What ``podman secret create`` stores: the flat JSON map podman 4.3's secretKeyRef reads."""
    values = secret_values(obj)
    return json.dumps({k: base64.b64encode(v).decode() for k, v in sorted(values.items())})


def secret_hash(obj: Resource) -> str:
    return short_hash({k: hashlib.sha256(v).hexdigest() for k, v in secret_values(obj).items()})


def _rewrite_spec(key: ObjectKey, spec: dict[str, Any], replica: int) -> dict[str, Any]:
    """A copy of ``spec`` with secret and claim names, host ports and host IPs made podman's."""
    spec = copy.deepcopy(spec)
    ns = key.namespace
    if spec.get("hostNetwork"):
        raise UnsupportedError(f"{key}: hostNetwork is not allowed: only loopback ports may be published here")
    for c in _containers(spec):
        for env in c.get("env") or []:
            if ref := (env.get("valueFrom") or {}).get("secretKeyRef"):
                ref["name"] = podman_name(ns, ref["name"])
        for env_from in c.get("envFrom") or []:
            if ref := env_from.get("secretRef"):
                ref["name"] = podman_name(ns, ref["name"])
        for probe in (c.get(field) or {} for field in ("livenessProbe", "readinessProbe", "startupProbe")):
            command = (probe.get("exec") or {}).get("command")
            if command and shlex.join(command) != " ".join(command):
                # podman 4.3 joins the argv with spaces into a shell command: quote it so the shell
                # rebuilds the same argv (``sh -c "test -f /x"`` would otherwise lose its quotes).
                probe["exec"]["command"] = [shlex.join(command)]
        if c.get("imagePullPolicy") == "Always":
            c["imagePullPolicy"] = "IfNotPresent"  # gitferry pulls it before stopping the running pod
        for port in c.get("ports") or []:
            host_ip = str(port.get("hostIP") or DEFAULT_HOST_IP)
            if not _LOOPBACK.match(host_ip):
                raise UnsupportedError(f"{key}: hostIP {host_ip} is not allowed: publish ports on 127.0.0.1")
            if port.get("hostPort"):
                port["hostIP"] = host_ip
                port["hostPort"] = int(port["hostPort"]) + replica
                if port["hostPort"] > 65535:
                    raise InvalidObjectError(f"{key}: hostPort of replica {replica} would be {port['hostPort']}")
    for volume in spec.get("volumes") or []:
        if "secret" in volume:
            raise UnsupportedError(f"{key}: secret volumes crash podman 4.3's kube play; use env from the Secret")
        if claim := volume.get("persistentVolumeClaim"):
            claim["claimName"] = podman_name(ns, claim["claimName"])
    return spec


@dataclass(frozen=True)
class PodPlan:
    """One podman pod to run: a replica of a Pod or Deployment, and its play document."""

    key: ObjectKey
    name: str
    replica: int
    document: str
    spec_hash: str
    images: tuple[tuple[str, str], ...]  # (image, imagePullPolicy) of every container, init ones too
    containers: tuple[tuple[str, str], ...]  # (name, image) of each app container, init ones excluded
    grace_seconds: int | None
    restart_policy: str = "Always"


def pod_plans(
    obj: Resource,
    owner: str,
    configmaps: Mapping[ObjectKey, Resource],
    secret_hashes: Mapping[ObjectKey, str],
) -> list[PodPlan]:
    """The podman pods for a Pod (one) or a Deployment (one per replica)."""
    key = key_of(obj)
    meta, spec = template_of(obj)
    wanted_cms, wanted_secrets = references(obj)
    embedded: list[Resource] = []
    for ref in sorted(wanted_cms):
        if ref in configmaps:
            cm = configmaps[ref]
            data: dict[str, Any] = {field: cm[field] for field in ("data", "binaryData") if field in cm}
            embedded.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ref.name}, **data})
        elif not _optional_reference(spec, ref.name):
            raise InvalidObjectError(f"{key} references {ref}, which no Kustomization applied")
    secret_part = {str(ref): secret_hashes.get(ref, "external") for ref in sorted(wanted_secrets)}
    images = tuple(
        dict.fromkeys((str(c["image"]), str(c.get("imagePullPolicy") or "IfNotPresent")) for c in _containers(spec))
    )
    containers = tuple((str(c["name"]), str(c["image"])) for c in spec["containers"])
    grace = spec.get("terminationGracePeriodSeconds")
    grace = int(grace) if grace is not None else None
    plans = []
    for replica in range(replicas_of(obj)):
        name = podman_name(key.namespace, key.name) + (f"-{replica}" if key.kind != "Pod" else "")
        ours = {MANAGED_BY: "gitferry", OWNER: owner, KIND: key.kind, NAMESPACE: key.namespace, NAME: key.name}
        labels = {**meta["labels"], **ours, REPLICA: str(replica)}
        pod_meta: dict[str, Any] = {"name": name, "labels": labels}
        if meta["annotations"]:
            pod_meta["annotations"] = meta["annotations"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": _rewrite_spec(key, spec, replica)}
        spec_hash = short_hash({"pod": pod, "configmaps": embedded, "secrets": secret_part})
        labels[SPEC_HASH] = spec_hash
        document = dump_documents([*embedded, pod])
        policy = str(spec.get("restartPolicy") or "Always")
        plans.append(PodPlan(key, name, replica, document, spec_hash, images, containers, grace, policy))
    return plans


def _optional_reference(spec: dict[str, Any], name: str) -> bool:
    """True when every reference to ConfigMap ``name`` says ``optional: true``."""
    refs: list[Any] = [volume.get("configMap") for volume in spec.get("volumes") or []]
    for c in _containers(spec):
        refs += [(env.get("valueFrom") or {}).get("configMapKeyRef") for env in c.get("env") or []]
        refs += [env_from.get("configMapRef") for env_from in c.get("envFrom") or []]
    return all(ref.get("optional") is True for ref in refs if ref and ref.get("name") == name)


def check_unique(plans: Mapping[ObjectKey, list[str]]) -> None:
    """Two objects must not map to the same podman name (``a-b/c`` and ``a/b-c`` do)."""
    seen: dict[str, ObjectKey] = {}
    for key, names in plans.items():
        for name in names:
            if name in seen and seen[name] != key:
                raise InvalidObjectError(f"{seen[name]} and {key} both map to podman name {name}: rename one")
            seen[name] = key

"""Defaulting and validation of the built-in kinds, as far as a GitOps target meets them.

Messages follow kube-apiserver's wording (``k8s.io/apimachinery/pkg/util/validation``) so that
error text a test asserts on reads the same against a real cluster.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from . import errors as e
from .errors import FieldError
from .fields import same
from .resources import ResourceType

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
MSG_QUALIFIED_NAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
MSG_CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SCALABLE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- types -----------------------------------------------------------------------------------------


class TypeMismatch(Exception):
    """A value of the wrong JSON type in a typed field (what the server's decoder refuses)."""

    def __init__(self, path: str, expected: str, got: Any) -> None:
        self.path = path
        self.expected = expected
        self.got = got
        super().__init__(path)

    @property
    def json_type(self) -> str:
        if isinstance(self.got, bool):
            return "bool"
        if isinstance(self.got, str):
            return "string"
        if isinstance(self.got, int | float):
            return "number"
        if isinstance(self.got, list):
            return "array"
        if isinstance(self.got, dict):
            return "object"
        return "null"

    def decode_message(self, rt: ResourceType) -> str:
        go_type = {"int": "int32", "string": "string", "bool": "bool", "map": "map[string]string"}[self.expected]
        return (
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot unmarshal '
            f"{self.json_type} into Go struct field {self.path} of type {go_type}"
        )

    def typed_message(self) -> str:
        expected = {
            "int": "numeric (int or float)",
            "string": "string",
            "bool": "boolean",
            "map": "map",
        }[self.expected]
        return f"{self.path}: expected {expected}, got {self.json_type}"


def _check(value: Any, expected: str, path: str) -> None:
    if value is None:
        return
    ok = {
        "int": _is_int(value),
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "map": isinstance(value, dict),
    }[expected]
    if not ok:
        raise TypeMismatch(path, expected, value)


def _string_map(value: Any, path: str) -> None:
    _check(value, "map", path)
    if isinstance(value, dict):
        for key, item in value.items():
            _check(item, "string", f"{path}.{key}")


def check_types(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise TypeMismatch for a wrong type in one of the typed fields the fake knows."""
    meta = obj.get("metadata")
    _check(meta, "map", ".metadata")
    if isinstance(meta, dict):
        _check(meta.get("name"), "string", ".metadata.name")
        _check(meta.get("namespace"), "string", ".metadata.namespace")
        _string_map(meta.get("labels"), ".metadata.labels")
        _string_map(meta.get("annotations"), ".metadata.annotations")
    if not rt.builtin:
        return
    spec = obj.get("spec")
    if spec is not None and rt.kind not in ("ConfigMap", "Secret"):
        _check(spec, "map", ".spec")
    if not isinstance(spec, dict):
        spec = {}
    if rt.kind in SCALABLE_KINDS:
        _check(spec.get("replicas"), "int", ".spec.replicas")
    if rt.kind in ("ConfigMap", "Secret"):
        _string_map(obj.get("data"), ".data")
        _check(obj.get("immutable"), "bool", ".immutable")
    if rt.kind == "Secret":
        _string_map(obj.get("stringData"), ".stringData")
    if rt.kind == "Service":
        for i, port in enumerate(spec.get("ports") or []):
            if isinstance(port, dict):
                _check(port.get("port"), "int", f".spec.ports[{i}].port")
                _check(port.get("nodePort"), "int", f".spec.ports[{i}].nodePort")
    pod = _pod_spec(rt, obj)
    if isinstance(pod, dict):
        prefix = ".spec.template.spec" if rt.kind in POD_TEMPLATE_KINDS else ".spec"
        for list_name in ("containers", "initContainers"):
            for i, container in enumerate(pod.get(list_name) or []):
                if not isinstance(container, dict):
                    continue
                where = f"{prefix}.{list_name}[{i}]"
                _check(container.get("name"), "string", f"{where}.name")
                _check(container.get("image"), "string", f"{where}.image")
                for j, port in enumerate(container.get("ports") or []):
                    if isinstance(port, dict):
                        _check(port.get("containerPort"), "int", f"{where}.ports[{j}].containerPort")


def _pod_spec(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if rt.kind == "Pod":
        return spec
    if rt.kind in POD_TEMPLATE_KINDS:
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            return template["spec"]  # type: ignore[no-any-return]
    return None


# --- defaulting ------------------------------------------------------------------------------------


def _setdefault(d: dict[str, Any], key: str, value: Any) -> None:
    if d.get(key) is None:
        d[key] = copy.deepcopy(value)


def _default_pod_spec(pod: dict[str, Any]) -> None:
    _setdefault(pod, "restartPolicy", "Always")
    _setdefault(pod, "dnsPolicy", "ClusterFirst")
    _setdefault(pod, "schedulerName", "default-scheduler")
    _setdefault(pod, "securityContext", {})
    _setdefault(pod, "terminationGracePeriodSeconds", 30)
    for list_name in ("containers", "initContainers"):
        for container in pod.get(list_name) or []:
            if not isinstance(container, dict):
                continue
            image = container.get("image")
            if isinstance(image, str) and image:
                last = image.rsplit("/", 1)[-1]
                latest = "@" not in image and (":" not in last or last.endswith(":latest"))
                _setdefault(container, "imagePullPolicy", "Always" if latest else "IfNotPresent")
            _setdefault(container, "terminationMessagePath", "/dev/termination-log")
            _setdefault(container, "terminationMessagePolicy", "File")
            _setdefault(container, "resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    _setdefault(port, "protocol", "TCP")


def pod_template_hash(template: Any) -> str:
    """A stable short hash of a pod template, spelled like pod-template-hash values."""
    digest = hashlib.sha256(repr(_canonical(template)).encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    return value


class Allocator:
    """Cluster IPs and node ports, as the service REST allocates them."""

    def __init__(self) -> None:
        self._next_ip = 10
        self._next_port = 30000

    def cluster_ip(self) -> str:
        n = self._next_ip
        self._next_ip += 1
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def node_port(self) -> int:
        n = self._next_port
        self._next_port += 1
        return n


def apply_defaults(
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, allocator: Allocator, creating: bool
) -> None:
    """Fill in what kube-apiserver defaults (in place)."""
    if not rt.builtin:
        return
    meta = obj.setdefault("metadata", {})
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = None
    kind = rt.kind
    pod = _pod_spec(rt, obj)
    if pod is not None:
        _default_pod_spec(pod)
    if kind == "Deployment" and spec is not None:
        _setdefault(spec, "replicas", 1)
        _setdefault(spec, "strategy", {"type": "RollingUpdate"})
        if spec["strategy"].get("type") == "RollingUpdate":
            rolling = spec["strategy"].setdefault("rollingUpdate", {})
            _setdefault(rolling, "maxSurge", "25%")
            _setdefault(rolling, "maxUnavailable", "25%")
        _setdefault(spec, "revisionHistoryLimit", 10)
        _setdefault(spec, "progressDeadlineSeconds", 600)
    elif kind == "StatefulSet" and spec is not None:
        _setdefault(spec, "replicas", 1)
        _setdefault(spec, "podManagementPolicy", "OrderedReady")
        _setdefault(spec, "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        _setdefault(spec, "revisionHistoryLimit", 10)
        _setdefault(spec, "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif kind == "DaemonSet" and spec is not None:
        _setdefault(
            spec, "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        )
        _setdefault(spec, "revisionHistoryLimit", 10)
    elif kind == "ReplicaSet" and spec is not None:
        _setdefault(spec, "replicas", 1)
    elif kind == "Job" and spec is not None:
        _setdefault(spec, "parallelism", 1)
        _setdefault(spec, "completions", 1)
        _setdefault(spec, "backoffLimit", 6)
        _setdefault(spec, "completionMode", "NonIndexed")
        _setdefault(spec, "suspend", False)
        _setdefault(spec, "podReplacementPolicy", "TerminatingOrFailed")
        if creating and not spec.get("manualSelector") and spec.get("selector") is None:
            uid = meta.get("uid", "")
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            template = spec.setdefault("template", {})
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": meta.get("name", ""),
                    "controller-uid": uid,
                    "job-name": meta.get("name", ""),
                }
            )
    elif kind == "Service":
        spec = obj.setdefault("spec", {}) if spec is None else spec
        _setdefault(spec, "type", "ClusterIP")
        _setdefault(spec, "sessionAffinity", "None")
        old_spec = ((old or {}).get("spec")) or {}
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP") and old_spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
                if old_spec.get("clusterIPs"):
                    spec["clusterIPs"] = copy.deepcopy(old_spec["clusterIPs"])
            if not spec.get("clusterIP"):
                spec["clusterIP"] = allocator.cluster_ip()
            _setdefault(spec, "clusterIPs", [spec["clusterIP"]])
            if spec["clusterIP"] != "None":
                _setdefault(spec, "ipFamilies", ["IPv4"])
                _setdefault(spec, "ipFamilyPolicy", "SingleStack")
            _setdefault(spec, "internalTrafficPolicy", "Cluster")
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or [] if isinstance(p, dict)
        }
        for port in spec.get("ports") or []:
            if not isinstance(port, dict):
                continue
            _setdefault(port, "protocol", "TCP")
            _setdefault(port, "targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                previous = old_ports.get((port.get("port"), port.get("protocol")))
                port["nodePort"] = (previous or {}).get("nodePort") or allocator.node_port()
        if spec["type"] in ("NodePort", "LoadBalancer"):
            _setdefault(spec, "externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            _setdefault(spec, "allocateLoadBalancerNodePorts", True)
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif kind == "Secret":
        _setdefault(obj, "type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            if not isinstance(obj.get("data"), dict):
                obj["data"] = {}
            data = obj["data"]
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()
    elif kind == "Namespace":
        if not isinstance(meta.get("labels"), dict):
            meta["labels"] = {}
        labels = meta["labels"]
        labels["kubernetes.io/metadata.name"] = meta.get("name", "")
        spec = obj.setdefault("spec", {}) if spec is None else spec
        _setdefault(spec, "finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "PersistentVolumeClaim" and spec is not None:
        _setdefault(spec, "volumeMode", "Filesystem")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind == "PersistentVolume" and spec is not None:
        _setdefault(spec, "persistentVolumeReclaimPolicy", "Retain")
        _setdefault(spec, "volumeMode", "Filesystem")
        obj.setdefault("status", {}).setdefault("phase", "Available")
    elif kind == "Ingress":
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif kind == "CustomResourceDefinition" and spec is not None:
        _setdefault(spec, "conversion", {"strategy": "None"})


# --- validation ------------------------------------------------------------------------------------


def _name_errors(rt: ResourceType, name: str) -> list[FieldError]:
    path = "metadata.name"
    if rt.kind == "Namespace":
        out = []
        if len(name) > 63:
            out.append(e.invalid(path, name, "must be no more than 63 characters"))
        if not DNS1123_LABEL.match(name):
            out.append(e.invalid(path, name, MSG_LABEL))
        return out
    if rt.kind == "Service":
        out = []
        if len(name) > 63:
            out.append(e.invalid(path, name, "must be no more than 63 characters"))
        if not DNS1035_LABEL.match(name):
            out.append(e.invalid(path, name, MSG_DNS1035))
        return out
    if rt.group == "rbac.authorization.k8s.io":
        if name in (".", ".."):
            return [e.invalid(path, name, f"may not be '{name}'")]
        for bad in ("/", "%"):
            if bad in name:
                return [e.invalid(path, name, f"may not contain '{bad}'")]
        return []
    out = []
    if len(name) > 253:
        out.append(e.invalid(path, name, "must be no more than 253 characters"))
    if not DNS1123_SUBDOMAIN.match(name):
        out.append(e.invalid(path, name, MSG_SUBDOMAIN))
    return out


def _label_errors(labels: Any, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    if not isinstance(labels, dict):
        return out
    for key, value in labels.items():
        out.extend(_qualified_name_errors(key, path))
        if isinstance(value, str):
            if len(value) > 63:
                out.append(e.invalid(path, value, "must be no more than 63 characters"))
            if not LABEL_VALUE.match(value):
                out.append(e.invalid(path, value, MSG_LABEL_VALUE))
    return out


def _qualified_name_errors(key: str, path: str) -> list[FieldError]:
    prefix, _, name = key.rpartition("/")
    out = []
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        out.append(e.invalid(path, key, "prefix part " + MSG_SUBDOMAIN))
    if not name:
        out.append(e.invalid(path, key, "name part must be non-empty"))
    elif len(name) > 63:
        out.append(e.invalid(path, key, "name part must be no more than 63 characters"))
    elif not QUALIFIED_NAME.match(name):
        out.append(e.invalid(path, key, MSG_QUALIFIED_NAME))
    return out


def _selector_matches(selector: Any, labels: Any) -> bool:
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _containers_errors(pod: dict[str, Any], prefix: str) -> list[FieldError]:
    out: list[FieldError] = []
    containers = pod.get("containers")
    if not containers:
        out.append(e.required(f"{prefix}.containers"))
    names: set[str] = set()
    for list_name in ("initContainers", "containers"):
        for i, container in enumerate(pod.get(list_name) or []):
            where = f"{prefix}.{list_name}[{i}]"
            if not isinstance(container, dict):
                continue
            name = container.get("name")
            if not name:
                out.append(e.required(f"{where}.name"))
            elif not DNS1123_LABEL.match(name) or len(name) > 63:
                out.append(e.invalid(f"{where}.name", name, MSG_LABEL))
            elif name in names:
                out.append(FieldError(e.CAUSE_DUPLICATE, f"{where}.name", "", name))
            else:
                names.add(name)
            if not container.get("image"):
                out.append(e.required(f"{where}.image"))
            for j, port in enumerate(container.get("ports") or []):
                if isinstance(port, dict):
                    value = port.get("containerPort")
                    if _is_int(value) and not 0 < value < 65536:
                        detail = "must be between 1 and 65535, inclusive"
                        out.append(e.invalid(f"{where}.ports[{j}].containerPort", value, detail))
    return out


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", value.strip())
    if not m:
        return None
    suffixes = {
        "": 1,
        "m": Decimal("0.001"),
        "k": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
        "P": 10**15,
        "E": 10**18,
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
    }
    if m.group(2) not in suffixes:
        return None
    try:
        return Decimal(m.group(1)) * Decimal(suffixes[m.group(2)])
    except InvalidOperation:
        return None


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """Validation errors for a create (``old`` None) or an update."""
    out: list[FieldError] = []
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    if old is None:
        out.extend(_name_errors(rt, name))
    out.extend(_label_errors(meta.get("labels"), "metadata.labels"))
    if isinstance(meta.get("annotations"), dict):
        for key in meta["annotations"]:
            out.extend(_qualified_name_errors(key, "metadata.annotations"))
    if not rt.builtin:
        return out + openapi_errors(obj, getattr(rt.schema, "openapi", None))
    validator = _VALIDATORS.get(rt.kind)
    if validator is not None:
        out.extend(validator(obj, old))
    return out


def _workload(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    replicas = spec.get("replicas")
    if _is_int(replicas) and replicas < 0:
        out.append(e.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    if selector is None:
        out.append(e.required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        out.append(e.invalid("spec.selector", selector, f"empty selector is invalid for {kind.lower()}"))  # type: ignore[union-attr]
    elif not _selector_matches(selector, labels):
        out.append(e.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    pod = template.get("spec")
    if not isinstance(pod, dict):
        out.append(e.required("spec.template.spec.containers"))
    else:
        out.extend(_containers_errors(pod, "spec.template.spec"))
        if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet") and pod.get("restartPolicy") != "Always":
            out.append(e.not_supported("spec.template.spec.restartPolicy", pod.get("restartPolicy"), ["Always"]))
    if old is not None:
        old_spec = old.get("spec") or {}
        if not same(old_spec.get("selector"), selector):
            out.append(e.immutable("spec.selector", selector))
    return out


def _job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec")
    if not isinstance(pod, dict):
        out.append(e.required("spec.template.spec.containers"))
    else:
        out.extend(_containers_errors(pod, "spec.template.spec"))
        if pod.get("restartPolicy") not in ("OnFailure", "Never"):
            out.append(e.required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    if old is not None:
        old_spec = old.get("spec") or {}
        if not same(old_spec.get("selector"), spec.get("selector")):
            out.append(e.immutable("spec.selector", spec.get("selector")))
        if not same(old_spec.get("template"), spec.get("template")):
            out.append(e.immutable("spec.template", spec.get("template")))
        for key in ("completionMode", "podFailurePolicy"):
            if not same(old_spec.get(key), spec.get(key)):
                out.append(e.immutable(f"spec.{key}", spec.get(key)))
    return out


def _pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out = _containers_errors(spec, "spec")
    if old is not None:
        old_spec = copy.deepcopy(old.get("spec") or {})
        new_spec = copy.deepcopy(spec)
        for s in (old_spec, new_spec):
            for c in s.get("containers") or []:
                if isinstance(c, dict):
                    c.pop("image", None)
            s.pop("activeDeadlineSeconds", None)
            s.pop("tolerations", None)
        if not same(old_spec, new_spec):
            out.append(
                e.forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                    "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                    "was previously negative)",
                )
            )
    return out


def _service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = obj.get("spec") or {}
    svc_type = spec.get("type")
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if svc_type not in types:
        out.append(e.not_supported("spec.type", svc_type, types))
    ports = spec.get("ports") or []
    if not ports and svc_type != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(e.required("spec.ports"))
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        value = port.get("port")
        if not _is_int(value) or not 0 < value < 65536:
            out.append(e.invalid(f"spec.ports[{i}].port", value, "must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and not port.get("name"):
            out.append(e.required(f"spec.ports[{i}].name"))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip and svc_type != "ExternalName":
            out.append(e.immutable("spec.clusterIP", spec.get("clusterIP")))
    return out


def _config(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    for section in ("data", "binaryData"):
        for key in obj.get(section) or {}:
            if not CONFIG_KEY.match(key) or len(key) > 253:
                out.append(e.invalid(f"{section}[{key}]", key, MSG_CONFIG_KEY))
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("data") or {}).items():
            if isinstance(value, str):
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    out.append(e.invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data"))
    if old is not None and old.get("immutable") is True:
        for section in ("data", "binaryData"):
            if not same(old.get(section) or {}, obj.get(section) or {}):
                out.append(e.forbidden(section, "field is immutable when `immutable` is set"))
        if obj.get("immutable") is not True:
            out.append(e.forbidden("immutable", "field is immutable when `immutable` is set"))
    if old is not None and obj.get("kind") == "Secret" and old.get("type") != obj.get("type"):
        out.append(e.immutable("type", obj.get("type")))
    return out


def _pvc(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = obj.get("spec") or {}
    if not spec.get("accessModes"):
        out.append(e.required("spec.accessModes", "at least 1 access mode is required"))
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        out.append(e.required("spec.resources[storage]"))
    if old is not None:
        old_spec = copy.deepcopy(old.get("spec") or {})
        new_spec = copy.deepcopy(spec)
        old_storage = ((old_spec.get("resources") or {}).get("requests") or {}).get("storage")
        new_storage = requests.get("storage")
        if not old_spec.get("volumeName"):
            new_spec.pop("volumeName", None)  # binding sets it once
        for s in (old_spec, new_spec):
            ((s.get("resources") or {}).get("requests") or {}).pop("storage", None)
            s.pop("volumeAttributesClassName", None)
        if not same(old_spec, new_spec):
            out.append(
                e.forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for "
                    "bound claims",
                )
            )
        old_q, new_q = _quantity(old_storage), _quantity(new_storage)
        if old_q is not None and new_q is not None and new_q < old_q:
            out.append(e.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    return out


def _crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = (obj.get("metadata") or {}).get("name")
    if not group:
        out.append(e.required("spec.group"))
    if not names.get("plural"):
        out.append(e.required("spec.names.plural"))
    if not names.get("kind"):
        out.append(e.required("spec.names.kind"))
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        out.append(e.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        out.append(e.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        out.append(e.required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        out.append(e.invalid("spec.versions", versions, "must have exactly one version marked as storage version"))
    for i, version in enumerate(versions):
        if isinstance(version, dict) and not (version.get("schema") or {}).get("openAPIV3Schema"):
            out.append(e.required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("scope") != scope:
            out.append(e.immutable("spec.scope", scope))
        if old_spec.get("group") != group:
            out.append(e.immutable("spec.group", group))
    return out


_VALIDATORS = {
    "Deployment": _workload,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "ReplicaSet": _workload,
    "Job": _job,
    "Pod": _pod,
    "Service": _service,
    "ConfigMap": _config,
    "Secret": _config,
    "PersistentVolumeClaim": _pvc,
    "CustomResourceDefinition": _crd,
}


# --- custom resources: structural pruning, defaulting and OpenAPI validation ----------------------------

_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def structural(
    obj: dict[str, Any], schema: dict[str, Any] | None, unknown: list[str] | None = None, *, defaults: bool = True
) -> dict[str, Any]:
    """A custom resource as the API server stores it: unknown fields pruned, defaults filled in.

    Unknown field paths are appended to ``unknown`` (what ``fieldValidation=Strict`` refuses).
    """
    if not schema:
        return obj
    out: dict[str, Any] = {k: obj[k] for k in _ROOT_KEEP if k in obj}
    rest = {k: v for k, v in obj.items() if k not in _ROOT_KEEP}
    found: list[str] = unknown if unknown is not None else []
    pruned = _structural(rest, schema, "", found, root=True, defaults=defaults)
    out.update(pruned if isinstance(pruned, dict) else {})
    return out


def _structural(
    value: Any, schema: dict[str, Any], path: str, unknown: list[str], *, root: bool = False, defaults: bool = True
) -> Any:
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            return value
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        out: dict[str, Any] = {}
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            if isinstance(props, dict) and key in props:
                out[key] = _structural(child, props[key], child_path, unknown, defaults=defaults)
            elif isinstance(additional, dict):
                out[key] = _structural(child, additional, child_path, unknown, defaults=defaults)
            elif preserve or additional is True or (props is None and not root and schema.get("type") != "object"):
                out[key] = child
            else:
                unknown.append(child_path)
        if isinstance(props, dict) and defaults:
            for key, sub in props.items():
                if key not in out and isinstance(sub, dict) and "default" in sub:
                    out[key] = copy.deepcopy(sub["default"])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        return [_structural(v, items, f"{path}[{i}]", unknown, defaults=defaults) for i, v in enumerate(value)]
    return value


_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)


def _matches_type(value: Any, expected: str) -> bool:
    if expected == "integer":
        return _is_int(value)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    return True


def openapi_errors(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[FieldError]:
    """Type, required and enum errors of a custom resource against its CRD's openAPIV3Schema."""
    if not schema:
        return []
    out: list[FieldError] = []
    rest = {k: v for k, v in obj.items() if k not in _ROOT_KEEP}
    props = schema.get("properties") or {}
    for key, value in rest.items():
        if key in props:
            _openapi(value, props[key], key, out)
    for key in schema.get("required") or []:
        if key not in obj:
            out.append(e.required(key))
    return out


def _openapi(value: Any, schema: dict[str, Any], path: str, out: list[FieldError]) -> None:
    if value is None:
        if not schema.get("nullable"):
            out.append(
                FieldError(
                    "FieldValueTypeInvalid",
                    path,
                    f'{path} in body must be of type {schema.get("type")}: "null"',
                    "null",
                )
            )
        return
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (_is_int(value) or isinstance(value, str)):
            detail = f'{path} in body must be of type integer,string: "{_type_name(value)}"'
            out.append(FieldError("FieldValueTypeInvalid", path, detail, _type_name(value)))
        return
    if expected and not _matches_type(value, expected):
        detail = f'{path} in body must be of type {expected}: "{_type_name(value)}"'
        out.append(FieldError("FieldValueTypeInvalid", path, detail, _type_name(value)))
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append(e.not_supported(path, value, [str(v) for v in schema["enum"]]))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, child in value.items():
            if key in props:
                _openapi(child, props[key], f"{path}.{key}", out)
            elif isinstance(schema.get("additionalProperties"), dict):
                _openapi(child, schema["additionalProperties"], f"{path}.{key}", out)
        for key in schema.get("required") or []:
            if key not in value:
                out.append(e.required(f"{path}.{key}"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _openapi(item, schema["items"], f"{path}[{i}]", out)

"""The resource types the test API server serves, and its discovery documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .fields import BuiltinSchema, CRDSchema, Schema

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS
    status_subresource: bool = False
    has_generation: bool = False
    returns_deleted_object: bool = False
    singular: str = ""
    crd: str = ""  # the CustomResourceDefinition that defines it
    schema: Schema = field(default_factory=Schema, compare=False, hash=False, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def builtin(self) -> bool:
        return not self.crd

    def base_path(self, namespace: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


def _builtin(
    group: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    *,
    status: bool = False,
    generation: bool = False,
    returns_object: bool = False,
    verbs: tuple[str, ...] = VERBS,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version="v1",
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs,
        status_subresource=status,
        has_generation=generation,
        returns_deleted_object=returns_object,
        schema=BuiltinSchema(kind),
    )


_ALL = ("all",)
BUILTINS: tuple[ResourceType, ...] = (
    _builtin(
        "",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        status=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _builtin("", "ConfigMap", "configmaps", short=("cm",)),
    _builtin("", "Secret", "secrets"),
    _builtin("", "Service", "services", short=("svc",), status=True, returns_object=True, categories=_ALL),
    _builtin("", "ServiceAccount", "serviceaccounts", short=("sa",), returns_object=True),
    _builtin("", "Pod", "pods", short=("po",), status=True, generation=True, returns_object=True, categories=_ALL),
    _builtin("", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), status=True, returns_object=True),
    _builtin("", "PersistentVolume", "persistentvolumes", False, ("pv",), status=True, returns_object=True),
    _builtin("apps", "Deployment", "deployments", short=("deploy",), status=True, generation=True, categories=_ALL),
    _builtin("apps", "StatefulSet", "statefulsets", short=("sts",), status=True, generation=True, categories=_ALL),
    _builtin("apps", "DaemonSet", "daemonsets", short=("ds",), status=True, generation=True, categories=_ALL),
    _builtin("apps", "ReplicaSet", "replicasets", short=("rs",), status=True, generation=True, categories=_ALL),
    _builtin("batch", "Job", "jobs", status=True, generation=True, categories=_ALL),
    _builtin(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        status=True,
        generation=True,
        returns_object=True,
    ),
    _builtin("rbac.authorization.k8s.io", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    _builtin("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    _builtin("networking.k8s.io", "Ingress", "ingresses", short=("ing",), status=True, generation=True),
)


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version order: GA before beta before alpha, higher numbers first, others last by name."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = {"": 0, None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, "")


def resource_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", False):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version.get("name", ""),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in ((version.get("subresources")) or {}),
                has_generation=True,
                singular=names.get("singular") or names.get("kind", "").lower(),
                crd=(crd.get("metadata") or {}).get("name", ""),
                schema=CRDSchema(schema),
            )
        )
    return out


class Registry:
    """Resource types by group, version and plural; not locked itself (the store's lock guards it)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [rt for rt in self._types.values() if rt.crd == crd_name]
        for rt in gone:
            del self._types[(rt.group, rt.version, rt.plural)]
        return gone

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def for_kind(self, group: str, kind: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.kind == kind]

    def find(self, what: str, api_version: str | None = None) -> ResourceType:
        """A type by Kind, plural, short name or ``plural.group``, optionally narrowed by apiVersion."""
        group = version = None
        if api_version:
            group, _, version = api_version.rpartition("/")
        candidates: list[ResourceType] = []
        for rt in self._types.values():
            if group is not None and (rt.group, rt.version) != (group, version):
                continue
            names = {rt.kind, rt.plural, rt.singular_name, rt.qualified_resource, *rt.short_names}
            if rt.group:
                names.add(f"{rt.kind}.{rt.group}")
            if what in names or what.lower() in {rt.plural, rt.singular_name}:
                candidates.append(rt)
        if not candidates:
            raise KeyError(f"no resource type {what!r}" + (f" in {api_version}" if api_version else ""))
        candidates.sort(key=lambda rt: (not rt.builtin, version_priority(rt.version)))
        return candidates[0]

    def groups(self) -> dict[str, list[str]]:
        """Group name to its versions, preferred first."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for versions in out.values():
            versions.sort(key=version_priority)
        return out

    # --- discovery documents ---

    def api_versions(self, server_address: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.groups().get(group)
        if not group or not versions:
            return None
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for group in self.groups():
            if group:
                doc = self.api_group(group)
                assert doc is not None
                doc.pop("kind")
                doc.pop("apiVersion")
                groups.append(doc)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        types = [rt for rt in self._types.values() if (rt.group, rt.version) == (group, version)]
        if not types:
            return None
        resources: list[dict[str, Any]] = []
        for rt in sorted(types, key=lambda t: t.plural):
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular_name,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            if rt.status_subresource:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": list(SUB_VERBS),
                    }
                )
        gv = f"{group}/{version}" if group else version
        doc: dict[str, Any] = {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
        if group:
            doc["apiVersion"] = "v1"
        return doc

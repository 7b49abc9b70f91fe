"""Pure decisions of the Kubernetes target: apply order, owner labels, what drifted.

Order is Flux's: CustomResourceDefinitions and Namespaces first (a custom resource needs its
CRD established, a namespaced object its namespace), then the other cluster-scoped objects, then
the namespaced ones; pruning goes the other way round.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from gitferry.api.manifests import Resource

OWNER_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
OWNER_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
SSA_ANNOTATION = "kustomize.toolkit.fluxcd.io/ssa"  # Override (default), Merge, IfNotPresent, Ignore
FORCE_ANNOTATION = "kustomize.toolkit.fluxcd.io/force"  # Enabled: recreate on an immutable change
PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"  # disabled: never deleted by gitferry
SSA_POLICIES = ("Override", "Merge", "IfNotPresent", "Ignore")

FIRST_KINDS = ("CustomResourceDefinition", "Namespace")
# Fields the server writes and a user never sets: left out when live and desired are compared.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


def stages(objects: Sequence[Resource], namespaced: Callable[[Resource], bool]) -> list[list[Resource]]:
    """The objects in the order they are applied: CRDs and Namespaces, cluster-scoped, namespaced."""
    first = [o for o in objects if o.get("kind") in FIRST_KINDS]
    rest = [o for o in objects if o.get("kind") not in FIRST_KINDS]
    return [s for s in (first, [o for o in rest if not namespaced(o)], [o for o in rest if namespaced(o)]) if s]


def owned(obj: Resource, owner_namespace: str, owner_name: str) -> Resource:
    """``obj`` with Flux's owner labels, so what a Kustomization applied can be found and pruned."""
    out = copy.deepcopy(obj)
    labels = out.setdefault("metadata", {}).setdefault("labels", {})
    labels[OWNER_NAME_LABEL], labels[OWNER_NAMESPACE_LABEL] = owner_name, owner_namespace
    return out


def owner_selector(owner_namespace: str, owner_name: str) -> str:
    return f"{OWNER_NAME_LABEL}={owner_name},{OWNER_NAMESPACE_LABEL}={owner_namespace}"


def is_owned_by(live: Resource, owner_namespace: str, owner_name: str) -> bool:
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(OWNER_NAME_LABEL) == owner_name and labels.get(OWNER_NAMESPACE_LABEL) == owner_namespace


def annotation(obj: Resource, name: str) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(name, ""))


def digest(obj: Resource) -> str:
    """What the desired object was, to know cheaply that Git did not change it since the last apply."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def comparable(obj: Resource) -> Resource:
    """``obj`` without status and the metadata the server writes, for comparing two forms of it."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    return out


def drift(desired: Any, live: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, live value, desired value) for each field ``desired`` sets that ``live`` has
    otherwise: what someone changed outside Git. Fields only the server or others set are not drift."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [(path or ".", live, desired)]
        out: list[tuple[str, Any, Any]] = []
        for key, value in desired.items():
            if path == "" and key == "status":
                continue
            out += drift(value, live.get(key), f"{path}.{key}")
        return out
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [(path, live, desired)]
        return [
            d
            for i, (want, have) in enumerate(zip(desired, live, strict=True))
            for d in drift(want, have, f"{path}[{i}]")
        ]
    return [] if desired == live else [(path, live, desired)]


def describe_drift(changes: list[tuple[str, Any, Any]], *, secret: bool = False, limit: int = 5) -> str:
    """``.spec.replicas: live 3, desired 2; ...`` for an event a user can read; a Secret's values masked."""

    def shown_value(value: Any) -> str:
        return "<masked>" if secret and value is not None else json.dumps(value)

    shown = [f"{path}: live {shown_value(have)}, desired {shown_value(want)}" for path, have, want in changes[:limit]]
    more = f"; and {len(changes) - limit} more" if len(changes) > limit else ""
    return "; ".join(shown) + more


# Managers whose fields an Override apply takes over, as Flux does: kubectl (edit, client-side and
# server-side apply) and the pre-SSA "before-first-apply".
TAKEN_OVER_PREFIXES = ("kubectl", "before-first-apply")


def _merge_fields(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = (
            _merge_fields(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
        )
    return out


def _is_apply_of(entry: dict[str, Any], manager: str) -> bool:
    return entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource")


def takeover(managed: list[dict[str, Any]], manager: str, api_version: str) -> tuple[list[dict[str, Any]], list[str]]:
    """``managedFields`` with the fields of kubectl's entries moved into ``manager``'s Apply entry, so
    the next apply removes those Git does not set; and the managers taken over (none: nothing to do)."""
    foreign = [
        m for m in managed
        if str(m.get("manager", "")).startswith(TAKEN_OVER_PREFIXES) and not m.get("subresource")
    ]  # fmt: skip
    if not foreign:
        return managed, []
    fresh: dict[str, Any] = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
    }
    mine = next((m for m in managed if _is_apply_of(m, manager)), fresh)
    fields: dict[str, Any] = dict(mine.get("fieldsV1") or {})
    for entry in foreign:
        fields = _merge_fields(fields, entry.get("fieldsV1") or {})
    kept = [m for m in managed if m is not mine and not any(m is f for f in foreign)]
    return [*kept, {**mine, "fieldsV1": fields}], sorted({str(f.get("manager")) for f in foreign})

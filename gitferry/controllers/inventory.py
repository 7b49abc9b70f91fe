"""Pure decisions about what a Kustomization owns: inventory ids, what to prune, what changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource, group_of
from gitferry.targets.base import Applied

PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"


def entry_id(obj: Resource) -> str:
    """Flux's inventory id: ``<namespace>_<name>_<group>_<kind>``."""
    key = ObjectKey.of(obj)
    return f"{key.namespace}_{key.name}_{group_of(str(obj.get('apiVersion', '')))}_{key.kind}"


def inventory_entries(objects: Iterable[Resource]) -> list[dict[str, str]]:
    """The ``status.inventory.entries`` list as Flux writes it, sorted for stable output."""
    entries = []
    for obj in objects:
        version = str(obj.get("apiVersion", "")).rsplit("/", 1)[-1]
        entries.append({"id": entry_id(obj), "v": version})
    return sorted(entries, key=lambda e: e["id"])


def to_prune(old: Mapping[ObjectKey, Resource], new: Iterable[ObjectKey]) -> list[ObjectKey]:
    """Objects in the old inventory that left the desired set, in reverse apply order.

    Objects annotated ``kustomize.toolkit.fluxcd.io/prune: disabled`` are never pruned (Flux).
    """
    keep = set(new)
    gone = [
        key
        for key, obj in old.items()
        if key not in keep
        and ((obj.get("metadata") or {}).get("annotations") or {}).get(PRUNE_ANNOTATION) != "disabled"
    ]
    return sorted(gone, reverse=True)


def changes(applied: Sequence[Applied]) -> list[str]:
    """One line per object created or configured; for a configured one, what made the target act
    when it says: ``Deployment/dev/web configured (dev-web-1: pod missing)``."""
    return [
        f"{a.key} {a.action}" + (f" ({a.cause})" if a.cause and a.action == "configured" else "")
        for a in applied
        if a.action in ("created", "configured")
    ]

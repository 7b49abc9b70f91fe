"""The Kubernetes target: server-side apply to a real cluster, as Flux's kustomize-controller does.

- Objects are applied with server-side apply as field manager ``gitferry``, in Flux's order
  (``kube_plan.stages``), each labelled with its Kustomization so it can be found and pruned.
- An object is not sent again when Git did not change it and its ``resourceVersion`` is the one
  recorded after the last apply (or its generation, labels and annotations, for kinds whose
  status a controller writes): a no-change reconcile is one LIST per kind and namespace. When
  the live object moved, a server-side dry-run tells whether it drifted from Git; only then is it
  applied, and the drifted fields are named in the result.
- Per-object annotations ``kustomize.toolkit.fluxcd.io/ssa`` (Override, Merge, IfNotPresent,
  Ignore), ``.../force: Enabled`` and ``.../prune: disabled`` are honoured. An immutable field
  change is refused naming the field, or the object recreated when ``force`` says so.
- Prune deletes only objects that carry this Kustomization's labels (background propagation).
- Health is kstatus's (``kube_health``).

What was applied is recorded in ``state_dir`` (one JSON file per Kustomization), also when an
apply fails midway. A record lost with a killed process costs only a dry-run next time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource
from gitferry.errors import InvalidObjectError, KubernetesError, RejectedObjectError
from gitferry.targets import kube_plan
from gitferry.targets.base import Applied, ApplyOptions, Health, Owner
from gitferry.targets.kube_client import FIELD_MANAGER, ApiResource, KubeClient
from gitferry.targets.kube_health import health_of

CRD_KIND = "CustomResourceDefinition"
ESTABLISH_POLL_SECONDS = 0.2


class KubernetesTarget:
    name = "kubernetes"

    def __init__(self, client: KubeClient, state_dir: Path) -> None:
        self.client = client
        self.state_dir = state_dir

    def unsupported_reason(self, obj: Resource) -> str | None:
        """Kubernetes runs every kind it serves; a kind it does not serve fails the apply, before any write."""
        return None

    # apply

    async def apply(self, owner: Owner, objects: Sequence[Resource], options: ApplyOptions) -> list[Applied]:
        desired = [kube_plan.owned(o, owner.namespace, owner.name) for o in objects]
        resources = await self._resolve(desired)
        state = self._load(owner)
        results: list[Applied] = []
        try:
            for stage in kube_plan.stages(desired, lambda o: _namespaced(o, resources)):
                live = await self._listed(owner, stage, resources)
                for obj in stage:
                    res = resources[_type_of(obj)]
                    results.append(await self._apply_one(obj, res, live.get(ObjectKey.of(obj)), options, state))
                crds = [o for o in stage if o.get("kind") == CRD_KIND]
                if crds:
                    await self._wait_established(crds, options.timeout)
                    resources.update(await self._resolve(desired, refresh=True))
        finally:
            self._save(owner, state)
        return results

    async def _resolve(self, desired: Sequence[Resource], refresh: bool = False) -> dict[tuple[str, str], ApiResource]:
        """The resource of each object's kind; every unknown kind is named before anything is applied.

        A kind defined by a CRD in the same set is resolved from that CRD until the server serves it.
        """
        if refresh:
            await self.client.resources(refresh=True)
        out: dict[tuple[str, str], ApiResource] = {}
        defined = {t: r for o in desired if o.get("kind") == CRD_KIND for t, r in _defined_by(o).items()}
        unknown = []
        for obj in desired:
            kind = _type_of(obj)
            if kind in out:
                continue
            res = await self.client.resource_for(*kind) or defined.get(kind)
            if res is None:
                unknown.append(f"{ObjectKey.of(obj)} ({kind[0]} {kind[1]})")
            else:
                out[kind] = res
        if unknown:
            raise InvalidObjectError(
                f"the cluster does not serve the kind of {', '.join(unknown)}: no such API or CustomResourceDefinition"
            )
        return out

    async def _listed(
        self, owner: Owner, stage: Sequence[Resource], resources: dict[tuple[str, str], ApiResource]
    ) -> dict[ObjectKey, Resource]:
        """The live objects of this Kustomization among ``stage``'s kinds: one LIST per kind and namespace."""
        selector = kube_plan.owner_selector(owner.namespace, owner.name)
        places = {(_type_of(o), _namespace_of(o) if resources[_type_of(o)].namespaced else "") for o in stage}
        out: dict[ObjectKey, Resource] = {}
        for kind, namespace in sorted(places):
            for item in await self.client.list(resources[kind], namespace, selector):
                out[ObjectKey.of(item)] = item
        return out

    async def _apply_one(
        self, obj: Resource, res: ApiResource, live: Resource | None, options: ApplyOptions, state: dict[str, Any]
    ) -> Applied:
        key = ObjectKey.of(obj)
        policy = kube_plan.annotation(obj, kube_plan.SSA_ANNOTATION) or "Override"
        if policy not in kube_plan.SSA_POLICIES:
            allowed = ", ".join(kube_plan.SSA_POLICIES)
            raise InvalidObjectError(
                f"{key}: annotation {kube_plan.SSA_ANNOTATION}: {policy!r} is not one of {allowed}"
            )
        if policy == "Ignore":
            return Applied(key, "unchanged", f"{kube_plan.SSA_ANNOTATION}: Ignore")
        if policy == "IfNotPresent":
            if live is None:  # not ours (yet): it may still exist, made by someone else
                live = await self.client.get(res, key.namespace, key.name)
            if live is not None:
                return Applied(key, "unchanged", f"{kube_plan.SSA_ANNOTATION}: IfNotPresent")
        digest = kube_plan.digest(obj)
        recorded = state["objects"].get(str(key), {})
        if live is None and recorded:  # applied before, not listed now: relabelled by hand, or deleted
            live = await self.client.get(res, key.namespace, key.name)
        if live is not None and recorded.get("digest") == digest and _unmoved(live, recorded):
            self._record(state, key, res, digest, live)
            return Applied(key, "unchanged")  # neither Git nor anyone else changed it: no request at all
        cause = ""
        if live is not None and policy == "Override":
            managed = (live.get("metadata") or {}).get("managedFields") or []
            taken, managers = kube_plan.takeover(managed, FIELD_MANAGER, res.api_version)
            if managers:  # fields set by hand that Git does not set go with the next apply, as in Flux
                await self.client.set_managed_fields(res, live, taken)
                result, _ = await self._server_apply(obj, res, options)
                self._record(state, key, res, digest, result)
                changed = _drift(obj, live, key) if recorded.get("digest") == digest else ""
                took = f"took over the fields of {', '.join(managers)}"
                return Applied(key, "configured", cause=f"drift: {changed}; {took}" if changed else f"drift: {took}")
        if live is not None:
            dry, _ = await self._server_apply(obj, res, options, dry_run=True)
            if kube_plan.comparable(dry) == kube_plan.comparable(live):
                self._record(state, key, res, digest, live)
                return Applied(key, "unchanged")
            if recorded.get("digest") == digest:  # Git did not change it: someone else did
                cause = "drift: " + (_drift(obj, live, key) or "fields removed")
        # Not listed as ours: apply at once (it creates it, or takes over one made by hand).
        result, created = await self._server_apply(obj, res, options)
        self._record(state, key, res, digest, result)
        return Applied(key, "created" if created else "configured", cause=cause)

    async def _server_apply(
        self, obj: Resource, res: ApiResource, options: ApplyOptions, dry_run: bool = False
    ) -> tuple[Resource, bool]:
        key = ObjectKey.of(obj)
        try:
            return await self.client.apply(res, obj, force=True, dry_run=dry_run)
        except RejectedObjectError as e:
            force = options.force or kube_plan.annotation(obj, kube_plan.FORCE_ANNOTATION) == "Enabled"
            if not e.immutable:
                raise
            if not force:
                raise RejectedObjectError(
                    f"{e} (set spec.force, or annotation {kube_plan.FORCE_ANNOTATION}: Enabled, to recreate it)",
                    immutable=True,
                ) from e
            if dry_run:  # it will be recreated: the dry-run answer is the desired object itself
                return obj, False
            await self.client.delete(res, key.namespace, key.name, propagation="Foreground")
            await self._gone(res, key, options.timeout)
            recreated, _ = await self.client.apply(res, obj, force=True)
            return recreated, False  # for Git it was configured: the same object, made again

    async def _gone(self, res: ApiResource, key: ObjectKey, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while await self.client.get(res, key.namespace, key.name) is not None:
            if time.monotonic() > deadline:
                raise KubernetesError(f"{key}: still being deleted after {timeout:.0f}s; it is recreated next time")
            await asyncio.sleep(ESTABLISH_POLL_SECONDS)

    async def _wait_established(self, crds: Sequence[Resource], timeout: float) -> None:
        res = await self.client.resource_for("apiextensions.k8s.io/v1", CRD_KIND)
        assert res is not None  # every API server serves CRDs
        deadline = time.monotonic() + timeout
        for crd in crds:
            name = ObjectKey.of(crd).name
            while True:
                live = await self.client.get(res, "", name)
                status, message = health_of(live) if live is not None else ("InProgress", "not found")
                if status == "Current":
                    break
                if status == "Failed" or time.monotonic() > deadline:
                    raise KubernetesError(f"CustomResourceDefinition/{name} is not established: {message}")
                await asyncio.sleep(ESTABLISH_POLL_SECONDS)

    # prune, live, health

    async def prune(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[ObjectKey]:
        """Delete what left Git, namespaced objects first; never an object without this owner's labels."""
        state = self._load(owner)
        deleted: list[ObjectKey] = []
        ordered = sorted(keys, key=lambda k: (k.kind in kube_plan.FIRST_KINDS, not k.namespace))
        try:
            for key in ordered:
                res = await self._resource_of(key, state)
                live = await self.client.get(res, key.namespace, key.name) if res is not None else None
                if live is None:
                    deleted.append(key)  # already gone: it leaves the inventory
                elif not kube_plan.is_owned_by(live, owner.namespace, owner.name):
                    continue  # not ours (another Kustomization's, or made by hand): never deleted
                elif kube_plan.annotation(live, kube_plan.PRUNE_ANNOTATION) == "disabled":
                    continue
                else:
                    assert res is not None
                    await self.client.delete(res, key.namespace, key.name)
                    deleted.append(key)
                state["objects"].pop(str(key), None)
        finally:
            self._save(owner, state)
        return deleted

    async def live(self, owner: Owner, keys: Sequence[ObjectKey]) -> dict[ObjectKey, Resource | None]:
        state = self._load(owner)
        out: dict[ObjectKey, Resource | None] = {}
        for key in keys:
            res = await self._resource_of(key, state)
            found = await self.client.get(res, key.namespace, key.name) if res is not None else None
            out[key] = kube_plan.comparable(found) if found is not None else None
        return out

    async def preview(self, owner: Owner, objects: Sequence[Resource]) -> dict[ObjectKey, Resource]:
        """Server-side dry-runs: each object exactly as the cluster would store it (defaults, other
        managers' fields, fields gitferry stopped applying removed). One the server refuses (its
        namespace is missing, say) is shown as Git has it."""
        desired = [kube_plan.owned(o, owner.namespace, owner.name) for o in objects]
        resources = await self._resolve(desired)
        out: dict[ObjectKey, Resource] = {}
        for obj in desired:
            try:
                applied, _ = await self.client.apply(resources[_type_of(obj)], obj, force=True, dry_run=True)
            except (RejectedObjectError, KubernetesError):
                applied = obj
            out[ObjectKey.of(obj)] = kube_plan.comparable(applied)
        return out

    async def health(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[Health]:
        """kstatus of each object, read with one LIST per kind and namespace (``healthChecks`` may
        name objects gitferry did not apply, so the lists are not limited to this owner's)."""
        state = self._load(owner)
        places: dict[tuple[ApiResource, str], dict[str, Resource]] = {}
        resources = {key: await self._resource_of(key, state) for key in keys}
        for key, res in resources.items():
            place = (res, key.namespace if res.namespaced else "") if res is not None else None
            if place is not None and place not in places:
                places[place] = {i["metadata"]["name"]: i for i in await self.client.list(*place, selector="")}
        out = []
        for key, res in resources.items():
            found = places[(res, key.namespace if res.namespaced else "")].get(key.name) if res is not None else None
            if found is None:
                out.append(Health(key, "NotFound", "not found in the cluster"))
                continue
            status, message = health_of(found)
            out.append(Health(key, status, message))
        return out

    async def _resource_of(self, key: ObjectKey, state: dict[str, Any]) -> ApiResource | None:
        """The resource of an object applied before: from the record, else the first group serving its kind."""
        api_version = state["objects"].get(str(key), {}).get("apiVersion")
        if api_version:
            return await self.client.resource_for(api_version, key.kind)
        candidates = [r for (_, kind), r in (await self.client.resources()).items() if kind == key.kind]
        return min(candidates, key=lambda r: (r.group != "", r.group), default=None)

    # the record of what was applied

    def _path(self, owner: Owner) -> Path:
        return self.state_dir / f"{owner.namespace}_{owner.name}.json"

    def _load(self, owner: Owner) -> dict[str, Any]:
        try:
            loaded = json.loads(self._path(owner).read_text())
        except (OSError, ValueError):
            return {"objects": {}}
        return loaded if isinstance(loaded, dict) and isinstance(loaded.get("objects"), dict) else {"objects": {}}

    def _save(self, owner: Owner, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(owner)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, sort_keys=True))
        temporary.replace(path)  # never a half-written record

    @staticmethod
    def _record(state: dict[str, Any], key: ObjectKey, res: ApiResource, digest: str, seen: Resource) -> None:
        """What was applied (Git's digest) and what the cluster then held, to know next time it did not move."""
        meta = seen.get("metadata") or {}
        state["objects"][str(key)] = {
            "apiVersion": res.api_version,
            "digest": digest,
            "resourceVersion": meta.get("resourceVersion"),
            "generation": meta.get("generation"),
            "metadata": kube_plan.digest({"labels": meta.get("labels"), "annotations": meta.get("annotations")}),
        }


def _unmoved(live: Resource, recorded: dict[str, Any]) -> bool:
    """Nobody changed ``live`` since it was recorded: the same resourceVersion, or, for kinds with a
    generation, the same generation, labels and annotations (a controller writing status moves the
    resourceVersion, not the generation)."""
    meta = live.get("metadata") or {}
    if meta.get("resourceVersion") == recorded.get("resourceVersion"):
        return True
    generation = meta.get("generation")
    labelled = kube_plan.digest({"labels": meta.get("labels"), "annotations": meta.get("annotations")})
    return (
        isinstance(generation, int)
        and generation == recorded.get("generation")
        and labelled == recorded.get("metadata")
    )


def _drift(desired: Resource, live: Resource, key: ObjectKey) -> str:
    """The fields Git sets that the live object has otherwise, Secret values masked."""
    changes = kube_plan.drift(kube_plan.comparable(desired), kube_plan.comparable(live))
    return kube_plan.describe_drift(changes, secret=key.kind == "Secret")


def _type_of(obj: Resource) -> tuple[str, str]:
    return str(obj.get("apiVersion", "")), str(obj.get("kind", ""))


def _namespace_of(obj: Resource) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _namespaced(obj: Resource, resources: dict[tuple[str, str], ApiResource]) -> bool:
    res = resources.get(_type_of(obj))
    return res.namespaced if res is not None else True


def _defined_by(crd: Resource) -> dict[tuple[str, str], ApiResource]:
    """The kinds a CustomResourceDefinition in the set will serve, before the server does."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = str(spec.get("group", "")), str(names.get("kind", "")), str(names.get("plural", ""))
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    return {
        (f"{group}/{v['name']}", kind): ApiResource(group, str(v["name"]), kind, plural, namespaced)
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("served", True) and "name" in v
    }

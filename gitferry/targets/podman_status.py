"""The read side of the podman target: live views for diffs and kstatus-like health.

Both read an owner's pods with the same two calls apply uses, then ``container inspect`` the
containers concerned in one call. Health also runs each running container's healthcheck once:
podman 4.3 schedules healthchecks with systemd timers, and without systemd (as on these hosts) a
healthcheck never runs by itself, so its status would say "starting" forever. Running it is the
kubelet's job done on demand; note that podman restarts a container after ``failureThreshold``
failed runs in a row (and 4.3 then leaves it stopped, which the next apply replays).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource
from gitferry.targets import podman_observe as observe
from gitferry.targets import podman_translate as translate
from gitferry.targets.base import Health
from gitferry.targets.podman_client import PodmanCLI
from gitferry.targets.podman_state import OwnerState

_WORKLOAD_KINDS = ("Pod", "Deployment")
_SECRET_HIDDEN = "(hidden: compare the gitferry.io/data-hash annotation)"


async def workload_pods(
    cli: PodmanCLI, owner_label: str, keys: Sequence[ObjectKey]
) -> dict[ObjectKey, list[observe.LivePod]]:
    if not any(key.kind in _WORKLOAD_KINDS for key in keys):
        return {}
    by_key: dict[ObjectKey, list[observe.LivePod]] = {key: [] for key in keys}
    for pod in (await cli.pods(owner_label)).values():
        if pod.key in by_key:
            by_key[pod.key].append(pod)
    return by_key


async def _volume_names(cli: PodmanCLI, keys: Sequence[ObjectKey]) -> set[str]:
    return set(await cli.volumes()) if any(k.kind == "PersistentVolumeClaim" for k in keys) else set()


async def live(
    cli: PodmanCLI, state: OwnerState, owner_label: str, keys: Sequence[ObjectKey]
) -> dict[ObjectKey, Resource | None]:
    """Each key's live form, Kubernetes-shaped so a diff against Git is meaningful; None if absent."""
    by_key = await workload_pods(cli, owner_label, keys)
    firsts = [min(pods, key=lambda p: p.replica) for pods in by_key.values() if pods]
    ids = [c.id for pod in firsts for c in pod.containers.values()] + [pod.infra_id for pod in firsts]
    inspects, volumes = await cli.inspect(ids), await _volume_names(cli, keys)
    configmaps = state.configmaps()
    out: dict[ObjectKey, Resource | None] = dict.fromkeys(keys)
    for key in keys:
        meta: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
        if by_key.get(key):
            out[key] = observe.live_workload(key, by_key[key], inspects)
        elif key.kind == "Deployment" and (state.workload(key) or {}).get("pods") == []:
            out[key] = {"apiVersion": "apps/v1", "kind": key.kind, "metadata": meta, "spec": {"replicas": 0}}
        elif key.kind == "ConfigMap":
            out[key] = configmaps.get(key)
        elif key.kind == "Secret" and (secret := state.secret(key)) is not None:
            meta["annotations"] = {"gitferry.io/data-hash": secret["hash"]}  # values never leave podman
            data = dict.fromkeys(secret["keys"], _SECRET_HIDDEN)
            out[key] = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": secret["type"], "data": data}
        elif key.kind == "PersistentVolumeClaim" and translate.podman_name(key.namespace, key.name) in volumes:
            out[key] = {"apiVersion": "v1", "kind": key.kind, "metadata": meta}
        elif key.kind == "Namespace":
            out[key] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key.name}}
    return out


def _has_healthcheck(inspect: dict[str, Any]) -> bool:
    test = ((inspect.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test != ["NONE"]


async def _problems(
    cli: PodmanCLI, by_key: dict[ObjectKey, list[observe.LivePod]]
) -> dict[ObjectKey, list[tuple[str, str]]]:
    """What keeps each workload's containers from being Current, with exit codes where known."""
    containers = [(pod, c) for pods in by_key.values() for pod in pods for c in pod.containers.values()]
    inspects = await cli.inspect([c.id for _, c in containers])
    probed = [c for _, c in containers if c.state == "running" and _has_healthcheck(inspects.get(c.id, {}))]
    verdicts = await asyncio.gather(*(cli.healthy(c.id) for c in probed))
    healthy = {c.id: verdict for c, verdict in zip(probed, verdicts, strict=True)}
    problems: dict[ObjectKey, list[tuple[str, str]]] = {}
    now = time.time()
    for pod, c in containers:
        problem = observe.container_problem(pod, c, inspects.get(c.id, {}), healthy.get(c.id), now)
        if problem is None or pod.key is None:
            continue
        if "crashlooping" in problem[1] and (code := await cli.last_exit_code(c.id)) is not None:
            problem = (problem[0], f"{problem[1]}, last exit code {code}")
        problems.setdefault(pod.key, []).append(problem)
    return problems


def _present(key: ObjectKey, present: bool) -> Health:
    return Health(key, "Current") if present else Health(key, "NotFound", f"{key} has not been applied")


async def health(cli: PodmanCLI, state: OwnerState, owner_label: str, keys: Sequence[ObjectKey]) -> list[Health]:
    """kstatus for each key: Current, InProgress, Failed (container and exit code named), NotFound."""
    by_key = await workload_pods(cli, owner_label, keys)
    problems, volumes = await _problems(cli, by_key), await _volume_names(cli, keys)
    out = []
    for key in keys:
        if key.kind in _WORKLOAD_KINDS:
            recorded, pods = state.workload(key), by_key.get(key, [])
            if recorded is None and not pods:
                out.append(Health(key, "NotFound", f"{key} has not been applied"))
                continue
            expected = recorded["pods"] if recorded else [p.name for p in pods]
            names = recorded["containers"] if recorded else sorted({c for p in pods for c in p.containers})
            out.append(observe.judge(key, pods, expected, names, problems.get(key, [])))
        elif key.kind == "ConfigMap":
            out.append(_present(key, key in state.configmaps()))
        elif key.kind == "Secret":
            out.append(_present(key, state.secret(key) is not None))
        elif key.kind == "PersistentVolumeClaim":
            out.append(_present(key, translate.podman_name(key.namespace, key.name) in volumes))
        else:
            out.append(Health(key, "Current", "nothing runs on podman for this kind"))
    return out

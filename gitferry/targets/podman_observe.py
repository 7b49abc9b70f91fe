"""What podman reports, read back into gitferry's terms. Pure: parses JSON that podman printed.

The podman target reads the world with ``podman pod ps --format json`` and
``podman ps -a --format json`` (one call each for everything an owner has), and, for live views
and health, ``podman container inspect``. This module turns that output into ``LivePod`` records,
decides whether a pod already matches its plan, rebuilds a Kubernetes-shaped view of a workload,
and judges health the way kstatus does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource
from gitferry.errors import PodmanError
from gitferry.targets import podman_translate as translate
from gitferry.targets.base import Health

# Variables podman itself sets in every container: not part of what the manifest asked for.
_PODMAN_ENV = frozenset({"PATH", "HOSTNAME", "HOME", "TERM", "container"})
# A container restarted this often whose current run is younger than this is crashlooping
# (podman restarts at once, with no back-off, so a crashing container's run is always young).
CRASHLOOP_RESTARTS, CRASHLOOP_WINDOW_SECONDS = 2, 30.0


@dataclass(frozen=True)
class LiveContainer:
    id: str
    name: str  # the Kubernetes container name (podman's is ``<pod>-<name>``)
    state: str  # created, running, exited, stopped, paused, ...
    image: str
    exit_code: int


@dataclass(frozen=True)
class LivePod:
    id: str
    name: str
    labels: dict[str, str]
    infra_id: str
    infra_state: str
    containers: dict[str, LiveContainer] = field(default_factory=dict)

    @property
    def key(self) -> ObjectKey | None:
        labels = self.labels
        if translate.KIND not in labels or translate.NAME not in labels:
            return None
        return ObjectKey(labels[translate.KIND], labels.get(translate.NAMESPACE, ""), labels[translate.NAME])

    @property
    def replica(self) -> int:
        value = self.labels.get(translate.REPLICA, "0")
        return int(value) if value.isdigit() else 0

    @property
    def user_labels(self) -> dict[str, str]:
        return {k: v for k, v in self.labels.items() if not k.startswith("gitferry.io/") and k != translate.MANAGED_BY}


def load_json(text: str, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or "[]")
    except json.JSONDecodeError as e:
        raise PodmanError(f"podman printed unreadable JSON for {what}: {e}") from e
    return data if isinstance(data, list) else []


def parse_pods(pod_ps: str, ps: str) -> dict[str, LivePod]:
    """Pods by podman name, each with its app containers (from ``ps -a``) by Kubernetes name."""
    pods: dict[str, LivePod] = {}
    by_id: dict[str, LivePod] = {}
    for raw in load_json(pod_ps, "pod ps"):
        infra_id = str(raw.get("InfraId") or "")
        infra_state = next(
            (str(c.get("Status", "")) for c in raw.get("Containers") or [] if c.get("Id") == infra_id), "missing"
        )
        pod = LivePod(str(raw["Id"]), str(raw["Name"]), dict(raw.get("Labels") or {}), infra_id, infra_state)
        pods[pod.name] = by_id[pod.id] = pod
    for raw in load_json(ps, "ps"):
        owner_pod = by_id.get(str(raw.get("Pod") or ""))
        if owner_pod is None or raw.get("IsInfra"):
            continue
        name = str((raw.get("Names") or [""])[0]).removeprefix(owner_pod.name + "-")
        state, exit_code = str(raw.get("State", "")), int(raw.get("ExitCode") or 0)
        owner_pod.containers[name] = LiveContainer(str(raw["Id"]), name, state, str(raw.get("Image", "")), exit_code)
    return pods


def normalize_image(image: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, as podman names what it ran."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def same_image(live: str, desired: str) -> bool:
    """Whether a container created from image ``live`` runs ``desired``."""
    if normalize_image(live) == normalize_image(desired):
        return True
    # A short name may have been resolved through another registry of registries.conf.
    first = desired.split("/", 1)[0]
    short = "/" not in desired or ("." not in first and ":" not in first and first != "localhost")
    tagged = desired if "@" in desired or ":" in desired.rsplit("/", 1)[-1] else desired + ":latest"
    return short and live.endswith("/" + tagged)


def is_current(pod: LivePod | None, plan: translate.PodPlan) -> bool:
    """The pod was made from this exact plan and every container still runs the planned image."""
    return drift_of(pod, plan) is None


def drift_of(pod: LivePod | None, plan: translate.PodPlan) -> str | None:
    """Why the live pod is not what the plan wants, in a few words for the events; None if it is."""
    if pod is None:
        return "pod missing"
    if pod.labels.get(translate.SPEC_HASH) != plan.spec_hash:
        return "spec changed"
    finished = 0
    for name, image in plan.containers:
        live = pod.containers.get(name)
        if live is None:
            return f"container {name} missing"
        if not same_image(live.image, image):
            return f"container {name} runs {live.image}, not {image}"
        if live.state != "running" and not _finished(live, plan.restart_policy):
            return f"container {name} {live.state}" + (f" (exit code {live.exit_code})" if live.exit_code else "")
        finished += live.state != "running"
    # podman stops a pod's infra container once all its containers have ended.
    if pod.infra_state != "running" and finished != len(plan.containers):
        return f"infra container {pod.infra_state}"
    return None


def _finished(live: LiveContainer, restart_policy: str) -> bool:
    """A container that ended as its restartPolicy allows: not drift, so it must not be rerun."""
    ended = live.state in ("exited", "stopped")
    return ended and (restart_policy == "Never" or (restart_policy == "OnFailure" and live.exit_code == 0))


def _command(inspect: dict[str, Any]) -> dict[str, list[str]]:
    """command/args as Kubernetes splits them: podman keeps the full argv and the Cmd part."""
    path = str(inspect.get("Path") or "")
    argv = ([path] if path else []) + [str(a) for a in inspect.get("Args") or []]
    cmd = [str(a) for a in (inspect.get("Config") or {}).get("Cmd") or []]
    if cmd and len(argv) > len(cmd) and argv[-len(cmd) :] == cmd:
        return {"command": argv[: -len(cmd)], "args": cmd}
    return {"command": argv} if argv else {}


def _ports(infra: dict[str, Any] | None, replica: int) -> list[dict[str, Any]]:
    bindings = ((infra or {}).get("HostConfig") or {}).get("PortBindings") or {}
    ports = []
    for spec, hosts in sorted(bindings.items()):
        number, _, protocol = spec.partition("/")
        for host in hosts or []:
            port: dict[str, Any] = {"containerPort": int(number), "hostPort": int(host["HostPort"]) - replica}
            port["hostIP"] = host.get("HostIp") or translate.DEFAULT_HOST_IP
            if protocol and protocol != "tcp":
                port["protocol"] = protocol.upper()
            ports.append(port)
    return ports


def live_workload(key: ObjectKey, pods: list[LivePod], inspects: dict[str, dict[str, Any]]) -> Resource:
    """A Kubernetes-shaped Pod or Deployment rebuilt from what podman runs (its lowest replica)."""
    first = min(pods, key=lambda p: p.replica)
    containers: list[dict[str, Any]] = []
    for live in sorted(first.containers.values(), key=lambda c: str(inspects.get(c.id, {}).get("Created", ""))):
        inspect = inspects.get(live.id, {})
        env = [str(e).partition("=")[0] for e in (inspect.get("Config") or {}).get("Env") or []]
        container: dict[str, Any] = {"name": live.name, "image": str(inspect.get("ImageName") or live.image)}
        container.update(_command(inspect))
        if names := sorted(n for n in env if n not in _PODMAN_ENV):  # podman keeps env as a map: order is lost
            container["env"] = [{"name": n} for n in names]
        containers.append(container)
    if containers and (ports := _ports(inspects.get(first.infra_id), first.replica)):
        containers[0]["ports"] = ports  # podman publishes per pod, not per container
    meta: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
    if first.user_labels:
        meta["labels"] = first.user_labels
    pod_spec: dict[str, Any] = {"containers": containers}
    if key.kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
    template = {"metadata": {"labels": first.user_labels}, "spec": pod_spec}
    return {"apiVersion": "apps/v1", "kind": key.kind, "metadata": meta,
            "spec": {"replicas": len(pods), "template": template}}  # fmt: skip


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _seconds_since(moment: str, now: float) -> float:
    """Seconds from an RFC 3339 time as podman prints it (nanoseconds, ``Z``) until ``now``."""
    match = _RFC3339.match(moment)
    if match is None:
        return float("inf")
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return now - datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6].ljust(6, '0')}{zone}").timestamp()


def container_problem(
    pod: LivePod, live: LiveContainer, inspect: dict[str, Any], healthy: bool | None, now: float
) -> tuple[str, str] | None:
    """``(status, message)`` when this container keeps its workload from being Current."""
    state = inspect.get("State") or {}
    restarts = int(inspect.get("RestartCount") or 0)
    where = f"container {live.name} in pod {pod.name}"
    policy = str(((inspect.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no")
    if live.state in ("exited", "stopped"):
        if live.exit_code == 0 and policy != "always":
            return None  # a finished Pod with restartPolicy Never/OnFailure has succeeded
        return "Failed", f"{where} exited with code {live.exit_code}"
    if live.state != "running":
        return "InProgress", f"{where} is {live.state or 'starting'}"
    young = _seconds_since(str(state.get("StartedAt", "")), now) < CRASHLOOP_WINDOW_SECONDS
    if restarts >= CRASHLOOP_RESTARTS and young:
        return "Failed", f"{where} is crashlooping: restarted {restarts} times"
    if healthy is False:
        return "Failed", f"{where} fails its liveness probe"
    return None


def judge(
    key: ObjectKey, pods: list[LivePod], expected: list[str], containers: list[str], problems: list[tuple[str, str]]
) -> Health:
    """kstatus for a workload from its pods, the pod names it should have, and container problems."""
    if not pods:
        return Health(key, "NotFound", "no podman pod runs it") if expected else Health(key, "Current")
    if failed := [message for status, message in problems if status == "Failed"]:
        return Health(key, "Failed", "; ".join(failed))
    names = {p.name for p in pods}
    waiting = [f"pod {name} does not exist yet" for name in expected if name not in names]
    for pod in pods:
        waiting += [f"container {c} of pod {pod.name} is missing" for c in containers if c not in pod.containers]
        if pod.infra_state != "running" and any(c.state == "running" for c in pod.containers.values()):
            waiting.append(f"pod {pod.name} is {pod.infra_state}")
    waiting += [message for _, message in problems]
    if extra := sorted(names - set(expected)):
        waiting.append(f"pods {', '.join(extra)} are still to be removed")
    return (
        Health(key, "InProgress", "; ".join(waiting))
        if waiting
        else Health(key, "Current", f"{len(pods)} of {len(expected)} pods running")
    )

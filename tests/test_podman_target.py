"""The podman target against real podman: pods serve, drift is undone, failures leave pods alone.

Every test runs in its own Kubernetes namespace (the ``podman_namespace`` fixture removes its pods
afterwards) and publishes on free loopback ports. Pods use ``terminationGracePeriodSeconds: 0``
because busybox httpd ignores SIGTERM: replacing them then takes a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitferry import process
from gitferry.api.meta import ObjectKey
from gitferry.errors import PodmanError
from gitferry.targets.base import Applied, ApplyOptions, Owner
from gitferry.targets.podman import PodmanTarget
from tests.gitops import free_port_block

pytestmark = pytest.mark.podman

SERVE = "mkdir -p /www && echo $MESSAGE from $HOSTNAME > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www"


def free_ports(width: int) -> int:
    """The first of ``width`` consecutive free loopback ports (below the ephemeral range)."""
    return free_port_block(width)


def http_get(port: int, deadline: float = 10.0) -> str | None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                return str(response.read().decode().strip())
        except OSError:
            if time.monotonic() > end:
                return None
            time.sleep(0.05)


def podman(*args: str, check: bool = True) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check).stdout


def pod_ids(namespace: str) -> dict[str, str]:
    rows = json.loads(podman("pod", "ps", "--filter", f"label=gitferry.io/namespace={namespace}", "--format", "json"))
    return {row["Name"]: row["Id"] for row in rows}


def deployment(ns: str, port: int, image: str, replicas: int = 2, message: str = "v1", **extra: Any) -> dict[str, Any]:
    container = {
        "name": "httpd",
        "image": image,
        "command": ["/bin/sh", "-c", SERVE],
        "env": [{"name": "MESSAGE", "value": message}],
        "ports": [{"containerPort": 8080, "hostPort": port}],
        **extra,
    }
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]},
    }
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns}, "spec": spec}


def bare_pod(ns: str, name: str, image: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": ["/bin/sh", "-c", script]}
    body = {"terminationGracePeriodSeconds": 0, "containers": [container], **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": body}


def actions(applied: list[Applied]) -> dict[str, str]:
    return {f"{a.key.kind}/{a.key.name}": a.action for a in applied}


@pytest.fixture
def target(tmp_path: Path, podman_namespace: str) -> Iterator[PodmanTarget]:
    yield PodmanTarget(state_dir=tmp_path / "state")
    # Stop before removing: ``pod rm -f`` of a running pod waits ~3 s per pod for its cgroup here.
    pods = [p for p in podman("pod", "ps", "--format", "{{.Name}}").split() if p.startswith(podman_namespace + "-")]
    if pods:
        podman("pod", "stop", "-t", "0", *pods, check=False)
        podman("pod", "rm", "-f", *pods, check=False)
    for kind in ("secret", "volume"):
        names = podman(kind, "ls", "--format", "{{.Name}}", check=False).split()
        doomed = [n for n in names if n.startswith(podman_namespace + "-")]
        if doomed:
            podman(kind, "rm", *doomed)


def apply(target: PodmanTarget, owner: Owner, *objects: dict[str, Any], force: bool = False) -> dict[str, str]:
    return actions(asyncio.run(target.apply(owner, list(objects), ApplyOptions(force=force, timeout=60))))


def test_replicas_serve_config_and_secret_values_and_an_unchanged_apply_only_reads(
    target: PodmanTarget, podman_namespace: str, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns, port, owner = podman_namespace, free_ports(3), Owner(podman_namespace, "apps")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": ns},
        "data": {"greeting": "hi"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": ns},
        "stringData": {"pw": "s3cr3t"},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns}, "spec": {}}
    env = [
        {"name": "MESSAGE", "value": "v1"},
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
    ]
    script = SERVE.replace("$MESSAGE", "$MESSAGE-$GREETING-$PW")
    web = deployment(ns, port, busybox_image, env=env, command=["/bin/sh", "-c", script])
    assert apply(target, owner, cm, secret, web, service) == {
        "ConfigMap/cfg": "created", "Secret/db": "created", "Deployment/web": "created", "Service/web": "skipped",
    }  # fmt: skip
    assert http_get(port) == f"v1-hi-s3cr3t from {ns}-web-0"
    assert http_get(port + 1) == f"v1-hi-s3cr3t from {ns}-web-1"
    assert http_get(port + 2, deadline=0) is None
    before = pod_ids(ns)

    calls: list[list[str]] = []
    real_run = process.run

    async def counting_run(argv: Any, **kwargs: Any) -> process.Completed:
        calls.append([str(a) for a in argv])
        return await real_run(argv, **kwargs)

    monkeypatch.setattr(process, "run", counting_run)
    again = apply(target, owner, cm, secret, web, service)
    assert set(again.values()) == {"unchanged", "skipped"}
    assert pod_ids(ns) == before
    # One concurrent round of reads: pods, containers, and (as the set has a Secret) secret names.
    assert sorted(c[1] for c in calls) == ["pod", "ps", "secret"]
    live = asyncio.run(target.live(owner, [ObjectKey("Deployment", ns, "web"), ObjectKey("ConfigMap", ns, "cfg")]))
    live_web = live[ObjectKey("Deployment", ns, "web")]
    assert live_web is not None and live_web["spec"]["replicas"] == 2
    container = live_web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == busybox_image and container["command"] == ["/bin/sh", "-c", script]
    assert container["env"] == [{"name": "GREETING"}, {"name": "MESSAGE"}, {"name": "PW"}]
    assert container["ports"] == [{"containerPort": 8080, "hostPort": port, "hostIP": "127.0.0.1"}]
    assert live[ObjectKey("ConfigMap", ns, "cfg")] == cm


def test_scale_up_then_down_touches_only_the_replicas_that_change(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, port, owner = podman_namespace, free_ports(3), Owner(podman_namespace, "apps")
    apply(target, owner, deployment(ns, port, busybox_image, replicas=2))
    two = pod_ids(ns)
    assert apply(target, owner, deployment(ns, port, busybox_image, replicas=3)) == {"Deployment/web": "configured"}
    three = pod_ids(ns)
    assert {k: three[k] for k in two} == two and len(three) == 3
    assert http_get(port + 2) == f"v1 from {ns}-web-2"
    assert apply(target, owner, deployment(ns, port, busybox_image, replicas=2)) == {"Deployment/web": "configured"}
    assert pod_ids(ns) == two
    assert http_get(port + 2, deadline=0) is None
    forced = apply(target, owner, deployment(ns, port, busybox_image, replicas=2), force=True)
    assert forced == {"Deployment/web": "configured"} and set(pod_ids(ns).values()).isdisjoint(two.values())
    assert http_get(port + 1) == f"v1 from {ns}-web-1"


def test_drift_is_undone_a_deleted_pod_and_a_killed_container_come_back(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, port, owner = podman_namespace, free_ports(2), Owner(podman_namespace, "apps")
    web = deployment(ns, port, busybox_image)
    apply(target, owner, web)
    podman("pod", "stop", "-t", "0", f"{ns}-web-1")  # then rm: ``rm -f`` alone waits ~3 s here
    podman("pod", "rm", f"{ns}-web-1")
    podman("kill", f"{ns}-web-0-httpd")
    assert http_get(port, deadline=0) is None and http_get(port + 1, deadline=0) is None
    health = asyncio.run(target.health(owner, [ObjectKey("Deployment", ns, "web")]))[0]
    assert health.status == "Failed" and f"container httpd in pod {ns}-web-0 exited with code 137" in health.message
    assert apply(target, owner, web) == {"Deployment/web": "configured"}
    assert http_get(port) == f"v1 from {ns}-web-0" and http_get(port + 1) == f"v1 from {ns}-web-1"
    assert asyncio.run(target.health(owner, [ObjectKey("Deployment", ns, "web")]))[0].status == "Current"


def test_a_changed_env_or_image_is_configured_and_served(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, port, owner = podman_namespace, free_ports(1), Owner(podman_namespace, "apps")
    apply(target, owner, deployment(ns, port, busybox_image, replicas=1))
    assert apply(target, owner, deployment(ns, port, busybox_image, replicas=1, message="v2")) == {
        "Deployment/web": "configured"
    }
    assert http_get(port) == f"v2 from {ns}-web-0"
    other = f"localhost/gitferry-test/busybox-{ns}:2"
    podman("tag", busybox_image, other)
    try:
        assert apply(target, owner, deployment(ns, port, other, replicas=1, message="v2")) == {
            "Deployment/web": "configured"
        }
        assert podman("ps", "--filter", f"name={ns}-web-0-httpd", "--format", "{{.Image}}").strip() == other
        assert http_get(port) == f"v2 from {ns}-web-0"
    finally:
        podman("pod", "stop", "-t", "0", f"{ns}-web-0", check=False)
        podman("pod", "rm", f"{ns}-web-0", check=False)
        podman("rmi", other, check=False)


def test_a_missing_image_raises_and_the_running_pod_keeps_serving(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, port, owner = podman_namespace, free_ports(1), Owner(podman_namespace, "apps")
    apply(target, owner, deployment(ns, port, busybox_image, replicas=1))
    before = pod_ids(ns)
    missing = "localhost/gitferry-test/missing:1"
    with pytest.raises(PodmanError, match=f"Deployment/{ns}/web: image {missing} is not in local storage"):
        apply(target, owner, deployment(ns, port, missing, replicas=1, message="v2"))
    assert pod_ids(ns) == before
    assert http_get(port) == f"v1 from {ns}-web-0"


def test_a_failed_play_leaves_no_half_made_pod_and_a_foreign_pod_is_never_touched(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, owner = podman_namespace, Owner(podman_namespace, "apps")
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "made-by-hand", "key": "pw"}}}]
    broken = bare_pod(ns, "broken", busybox_image, "sleep 100")
    broken["spec"]["containers"][0]["env"] = env
    with pytest.raises(
        PodmanError, match=f"Pod/{ns}/broken: podman could not start pod {ns}-broken: .*{ns}-made-by-hand"
    ):
        apply(target, owner, broken)
    assert pod_ids(ns) == {}
    podman("pod", "create", "--name", f"{ns}-foreign")
    with pytest.raises(PodmanError, match=f"podman pod {ns}-foreign already exists"):
        apply(target, owner, bare_pod(ns, "foreign", busybox_image, "sleep 100"))
    assert subprocess.run(["podman", "pod", "exists", f"{ns}-foreign"], check=False).returncode == 0


def test_prune_removes_only_what_the_owner_made(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, mine, theirs = podman_namespace, Owner(podman_namespace, "mine"), Owner(podman_namespace, "theirs")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": ns},
        "stringData": {"a": "b"},
    }
    apply(target, mine, bare_pod(ns, "a", busybox_image, "sleep 100"), claim, secret)
    apply(target, theirs, bare_pod(ns, "b", busybox_image, "sleep 100"))
    keys = [ObjectKey("Pod", ns, "a"), ObjectKey("Pod", ns, "b"), ObjectKey("PersistentVolumeClaim", ns, "data"),
            ObjectKey("Secret", ns, "s"), ObjectKey("Service", ns, "none")]  # fmt: skip
    assert asyncio.run(target.prune(mine, keys)) == keys[:1] + keys[2:4]
    assert set(pod_ids(ns)) == {f"{ns}-b"}
    assert f"{ns}-data" not in podman("volume", "ls", "--format", "{{.Name}}").split()
    assert asyncio.run(target.prune(mine, keys)) == []


def test_health_reports_exit_codes_crashloops_probes_and_absence(
    target: PodmanTarget, podman_namespace: str, busybox_image: str
) -> None:
    ns, owner = podman_namespace, Owner(podman_namespace, "apps")
    probe = {"exec": {"command": ["/bin/sh", "-c", "test -f /tmp/ok"]}, "periodSeconds": 1}
    objects = [
        bare_pod(ns, "done", busybox_image, "exit 3", restartPolicy="Never"),
        bare_pod(ns, "loop", busybox_image, "sleep 0.2; exit 4"),
        bare_pod(ns, "sick", busybox_image, "sleep 100"),
        bare_pod(ns, "well", busybox_image, "mkdir -p /tmp && touch /tmp/ok && sleep 100"),
    ]
    for obj in objects[2:]:
        obj["spec"]["containers"][0]["livenessProbe"] = probe
    apply(target, owner, *objects)
    time.sleep(0.5)
    # Once only: each health check runs the probe, and podman restarts a container after 3 failures.
    probes = [ObjectKey("Pod", ns, name) for name in ("sick", "well", "absent")]
    report = {h.key.name: h for h in asyncio.run(target.health(owner, probes))}
    assert report["sick"].status == "Failed" and "fails its liveness probe" in report["sick"].message
    assert report["well"].status == "Current"
    assert report["absent"].status == "NotFound"
    deadline = time.monotonic() + 15
    while True:
        keys = [ObjectKey("Pod", ns, "done"), ObjectKey("Pod", ns, "loop")]
        report = {h.key.name: h for h in asyncio.run(target.health(owner, keys))}
        if "crashlooping" in report["loop"].message or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (report["done"].status, report["done"].message) == (
        "Failed",
        f"container main in pod {ns}-done exited with code 3",
    )
    assert report["loop"].status == "Failed" and "crashlooping" in report["loop"].message
    assert "last exit code 4" in report["loop"].message
    assert apply(target, owner, objects[0]) == {"Pod/done": "unchanged"}  # ended as restartPolicy says: not rerun

"""The pure half of the podman target: names, replicas and ports, labels, references, hashes,
kinds, and reading podman's JSON back. No podman is started here."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ruamel.yaml import YAML

from gitferry.api.meta import ObjectKey
from gitferry.errors import InvalidObjectError, UnsupportedError
from gitferry.targets import podman_observe as observe
from gitferry.targets import podman_translate as translate

OWNER = "flux-system.apps"


def deployment(replicas: int = 2, namespace: str = "dev", name: str = "web", **container: Any) -> dict[str, Any]:
    spec = {"name": "httpd", "image": "localhost/app:1", "ports": [{"containerPort": 8080, "hostPort": 18080}]}
    spec.update(container)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "a"}},
        "spec": {
            "replicas": replicas,
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [spec]}},
        },
    }


def pod(name: str = "web", namespace: str = "dev", **container: Any) -> dict[str, Any]:
    spec = {"name": "main", "image": "localhost/app:1", **container}
    meta = {"name": name, "namespace": namespace, "labels": {"app": name}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [spec]}}


def configmap(name: str = "cfg", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "dev"}, "data": data}


def plans(obj: dict[str, Any], cms: dict[ObjectKey, Any] | None = None, secrets: dict[ObjectKey, str] | None = None):
    return translate.pod_plans(obj, OWNER, cms or {}, secrets or {})


def documents(plan: translate.PodPlan) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe", pure=True).load_all(plan.document) if d]


@pytest.mark.parametrize(
    ("obj", "names"),
    [
        (pod(), ["dev-web"]),
        (pod(namespace=""), ["default-web"]),
        (deployment(replicas=1), ["dev-web-0"]),
        (deployment(replicas=3), ["dev-web-0", "dev-web-1", "dev-web-2"]),
        (deployment(replicas=0), []),
    ],
)
def test_names_follow_namespace_and_replica(obj: dict[str, Any], names: list[str]) -> None:
    assert [p.name for p in plans(obj)] == names


@pytest.mark.parametrize(
    ("port", "replica", "published"),
    [
        ({"containerPort": 80, "hostPort": 18080}, 0, {"hostPort": 18080, "hostIP": "127.0.0.1"}),
        ({"containerPort": 80, "hostPort": 18080}, 2, {"hostPort": 18082, "hostIP": "127.0.0.1"}),
        (
            {"containerPort": 80, "hostPort": 18080, "hostIP": "127.0.0.2"},
            1,
            {"hostPort": 18081, "hostIP": "127.0.0.2"},
        ),
        ({"containerPort": 80}, 1, {}),  # not published: stays inside the pod
    ],
)
def test_replica_i_publishes_host_port_plus_i_on_loopback(
    port: dict[str, Any], replica: int, published: dict[str, Any]
) -> None:
    plan = plans(deployment(replicas=3, ports=[port]))[replica]
    live_port = documents(plan)[-1]["spec"]["containers"][0]["ports"][0]
    assert {k: live_port[k] for k in ("hostPort", "hostIP") if k in live_port} == published


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"ports": [{"containerPort": 80, "hostPort": 80, "hostIP": "0.0.0.0"}]}, "hostIP 0.0.0.0"),
        ({"ports": [{"containerPort": 80, "hostPort": 65535}]}, "hostPort of replica 1"),
    ],
)
def test_ports_that_cannot_be_published_are_refused(change: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidObjectError, match=error):
        plans(deployment(**change))


def test_host_network_and_secret_volumes_are_unsupported_by_name() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["hostNetwork"] = True
    with pytest.raises(UnsupportedError, match="hostNetwork"):
        plans(obj)
    obj = deployment()
    obj["spec"]["template"]["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "x"}}]
    with pytest.raises(UnsupportedError, match="secret volumes"):
        plans(obj)


def test_labels_carry_owner_identity_replica_and_the_objects_own() -> None:
    labels = documents(plans(deployment())[1])[-1]["metadata"]["labels"]
    spec_hash = labels.pop(translate.SPEC_HASH)
    assert len(spec_hash) == 20
    assert labels == {
        "team": "a",
        "app": "web",
        translate.MANAGED_BY: "gitferry",
        translate.OWNER: OWNER,
        translate.KIND: "Deployment",
        translate.NAMESPACE: "dev",
        translate.NAME: "web",
        translate.REPLICA: "1",
    }


def test_referenced_configmaps_are_embedded_and_others_are_not() -> None:
    env = [{"name": "G", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}]
    cms = {
        ObjectKey("ConfigMap", "dev", "cfg"): configmap(greeting="hi"),
        ObjectKey("ConfigMap", "dev", "other"): configmap("other"),
    }
    docs = documents(plans(pod(env=env), cms)[0])
    assert [d["kind"] for d in docs] == ["ConfigMap", "Pod"]
    assert docs[0] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"greeting": "hi"}}


@pytest.mark.parametrize("optional", [True, False])
def test_a_missing_configmap_is_an_error_unless_optional(optional: bool) -> None:
    obj = pod(envFrom=[{"configMapRef": {"name": "nope", "optional": optional}}])
    if optional:
        assert [d["kind"] for d in documents(plans(obj)[0])] == ["Pod"]
    else:
        with pytest.raises(InvalidObjectError, match="ConfigMap/dev/nope"):
            plans(obj)


def test_secret_and_claim_references_are_renamed_to_podman_names() -> None:
    obj = pod(
        env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
        envFrom=[{"secretRef": {"name": "api"}}],
    )
    obj["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "store"}}]
    spec = documents(plans(obj)[0])[-1]["spec"]
    assert spec["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "dev-db"
    assert spec["containers"][0]["envFrom"][0]["secretRef"]["name"] == "dev-api"
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == "dev-store"
    assert obj["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"] == "api"  # the input is not changed


@pytest.mark.parametrize(
    ("command", "played"),
    [
        (["cat", "/tmp/ok"], ["cat", "/tmp/ok"]),
        (["/bin/sh", "-c", "test -f /tmp/ok"], ["/bin/sh -c 'test -f /tmp/ok'"]),
    ],
)
def test_exec_probes_survive_podmans_space_join(command: list[str], played: list[str]) -> None:
    obj = pod(livenessProbe={"exec": {"command": command}})
    assert documents(plans(obj)[0])[-1]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"] == played


def test_secret_payload_is_the_flat_base64_map_podman_reads() -> None:
    secret = {"kind": "Secret", "data": {"a": base64.b64encode(b"one").decode()}, "stringData": {"b": "two"}}
    payload = json.loads(translate.secret_payload(secret))
    assert {k: base64.b64decode(v) for k, v in payload.items()} == {"a": b"one", "b": b"two"}
    with pytest.raises(InvalidObjectError, match="not base64"):
        translate.secret_values({"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "%%%"}})


def _hash(
    obj: dict[str, Any], cms: dict[ObjectKey, Any] | None = None, secrets: dict[ObjectKey, str] | None = None
) -> str:
    return plans(obj, cms, secrets)[0].spec_hash


def test_spec_hash_is_stable_and_sensitive_to_what_the_pod_runs() -> None:
    env = [
        {"name": "G", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "g"}}},
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "p"}}},
    ]
    cm, secret = ObjectKey("ConfigMap", "dev", "cfg"), ObjectKey("Secret", "dev", "s")
    base = _hash(deployment(env=env), {cm: configmap(g="1")}, {secret: "h1"})
    assert base == _hash(deployment(env=env), {cm: configmap(g="1")}, {secret: "h1"})
    assert base == _hash(deployment(env=env, name="web"), {cm: configmap(g="1")}, {secret: "h1"})
    different = [
        _hash(deployment(env=env, image="localhost/app:2"), {cm: configmap(g="1")}, {secret: "h1"}),
        _hash(deployment(env=env), {cm: configmap(g="2")}, {secret: "h1"}),
        _hash(deployment(env=env), {cm: configmap(g="1")}, {secret: "h2"}),
        _hash(deployment(env=[*env, {"name": "X", "value": "1"}]), {cm: configmap(g="1")}, {secret: "h1"}),
    ]
    assert base not in different and len(set(different)) == len(different)
    # Scaling leaves the existing replicas' hashes alone, so it replays no running pod.
    assert [p.spec_hash for p in plans(deployment(replicas=2))] == [p.spec_hash for p in plans(deployment(replicas=3))][
        :2
    ]


@pytest.mark.parametrize(
    ("obj", "role", "reason"),
    [
        (pod(), "workload", None),
        (deployment(), "workload", None),
        (configmap(), "configmap", None),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, "secret", None),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"}}, "volume", None),
        ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}, "noop", None),
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
            "skipped",
            "podman has no Services",
        ),
        (
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}},
            "skipped",
            "podman has no ingress controller",
        ),
        ({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"}}, "skipped", "not supported"),
        (
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}},
            "skipped",
            "no API",
        ),
    ],
)
def test_kinds(obj: dict[str, Any], role: str, reason: str | None) -> None:
    assert translate.role_of(obj) == role
    found = translate.unsupported_reason(obj)
    assert (found is None) if reason is None else (reason in (found or ""))


@pytest.mark.parametrize("obj", [
    {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "dev"}},
    {"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "dev"}},
])  # fmt: skip
def test_unknown_kinds_raise_naming_kind_and_object(obj: dict[str, Any]) -> None:
    with pytest.raises(InvalidObjectError, match=f"{obj['kind']}/dev/.*{obj['kind']}"):
        translate.unsupported_reason(obj)


def test_two_objects_with_one_podman_name_are_an_error_naming_both() -> None:
    first, second = pod("web-0"), deployment(replicas=1)
    names = {translate.key_of(o): [p.name for p in plans(o)] for o in (first, second)}
    with pytest.raises(
        InvalidObjectError, match="Pod/dev/web-0 and Deployment/dev/web both map to podman name dev-web-0"
    ):
        translate.check_unique(names)


@pytest.mark.parametrize(
    ("live", "desired", "same"),
    [
        ("docker.io/library/busybox:latest", "busybox", True),
        ("docker.io/library/busybox:1.36", "busybox:1.36", True),
        ("quay.io/org/app:2", "org/app:2", True),  # short name resolved through registries.conf
        ("localhost/app:1", "localhost/app:1", True),
        ("localhost/app:1", "localhost/app:2", False),
        ("registry.example:5000/app:1", "registry.example:5000/app:1", True),
        ("docker.io/library/busybox:1", "quay.io/busybox:1", False),
    ],
)
def test_same_image(live: str, desired: str, same: bool) -> None:
    assert observe.same_image(live, desired) is same


def _pod_ps(spec_hash: str, infra: str = "running") -> str:
    labels = {translate.SPEC_HASH: spec_hash, translate.KIND: "Pod", translate.NAMESPACE: "dev", translate.NAME: "web"}
    containers = [
        {"Id": "i1", "Names": "x-infra", "Status": infra},
        {"Id": "c1", "Names": "dev-web-main", "Status": "running"},
    ]
    return json.dumps([{"Id": "p1", "Name": "dev-web", "InfraId": "i1", "Labels": labels, "Containers": containers}])


def _ps(state: str = "running", image: str = "localhost/app:1") -> str:
    return json.dumps(
        [{"Id": "c1", "Names": ["dev-web-main"], "Pod": "p1", "State": state, "Image": image, "ExitCode": 0}]
    )


def test_a_finished_pod_is_not_rerun_unless_its_policy_restarts_it() -> None:
    for policy, exit_code, current in [
        ("Never", 3, True),
        ("OnFailure", 0, True),
        ("OnFailure", 1, False),
        ("Always", 0, False),
    ]:
        plan = plans(pod() | {"spec": {"restartPolicy": policy, "containers": pod()["spec"]["containers"]}})[0]
        ps = json.loads(_ps(state="exited"))
        ps[0]["ExitCode"] = exit_code
        live = observe.parse_pods(_pod_ps(plan.spec_hash, infra="exited"), json.dumps(ps))["dev-web"]
        assert observe.is_current(live, plan) is current, (policy, exit_code)


@pytest.mark.parametrize(
    ("pod_ps", "ps", "drift"),
    [
        ("same", _ps(), None),
        ("other", _ps(), "spec changed"),
        ("same", _ps(state="exited"), "container main exited"),  # killed container
        (
            "same",
            _ps(image="localhost/app:0"),
            "container main runs localhost/app:0, not localhost/app:1",
        ),  # swapped image
        ("same", "[]", "container main missing"),  # container removed by hand
        ("infra-exited", _ps(), "infra container exited"),
    ],
)
def test_drift_is_found_and_named(pod_ps: str, ps: str, drift: str | None) -> None:
    plan = plans(pod())[0]
    spec_hash = "wrong" if pod_ps == "other" else plan.spec_hash
    live = observe.parse_pods(_pod_ps(spec_hash, "exited" if pod_ps == "infra-exited" else "running"), ps)
    assert live["dev-web"].key == ObjectKey("Pod", "dev", "web")
    found = observe.drift_of(live["dev-web"], plan)
    assert (found is None) if drift is None else (found is not None and found.startswith(drift)), found
    assert observe.is_current(live["dev-web"], plan) is (drift is None)
    assert observe.drift_of(None, plan) == "pod missing"


@pytest.mark.parametrize(("policy", "played"), [(None, None), ("Always", "IfNotPresent"), ("Never", "Never")])
def test_pull_policy_is_gitferrys_to_carry_out(policy: str | None, played: str | None) -> None:
    extra = {"imagePullPolicy": policy} if policy else {}
    plan = plans(pod(**extra))[0]
    assert plan.images == (("localhost/app:1", policy or "IfNotPresent"),)
    assert documents(plan)[-1]["spec"]["containers"][0].get("imagePullPolicy") == played


NOW = 1_800_000_000.0


def _inspect(restarts: int = 0, started_seconds_ago: float = 600, policy: str = "always") -> dict[str, Any]:
    started = datetime.fromtimestamp(NOW - started_seconds_ago, UTC).isoformat()
    return {
        "RestartCount": restarts,
        "State": {"StartedAt": started},
        "HostConfig": {"RestartPolicy": {"Name": policy}},
    }


@pytest.mark.parametrize(
    ("state", "exit_code", "inspect", "healthy", "expected"),
    [
        ("running", 0, _inspect(), None, None),
        ("running", 0, _inspect(), True, None),
        ("running", 0, _inspect(), False, ("Failed", "fails its liveness probe")),
        (
            "running",
            0,
            _inspect(restarts=5, started_seconds_ago=1),
            None,
            ("Failed", "crashlooping: restarted 5 times"),
        ),
        ("running", 0, _inspect(restarts=5, started_seconds_ago=3600), None, None),  # recovered long ago
        ("exited", 137, _inspect(), None, ("Failed", "exited with code 137")),
        ("exited", 0, _inspect(policy="no"), None, None),  # a Pod that ran to completion
        ("exited", 0, _inspect(policy="always"), None, ("Failed", "exited with code 0")),
        ("created", 0, _inspect(), None, ("InProgress", "is created")),
    ],
)
def test_container_problem(
    state: str, exit_code: int, inspect: dict[str, Any], healthy: bool | None, expected: tuple[str, str] | None
) -> None:
    pod_ = observe.LivePod("p1", "dev-web-0", {}, "i1", "running")
    live = observe.LiveContainer("c1", "httpd", state, "localhost/app:1", exit_code)
    found = observe.container_problem(pod_, live, inspect, healthy, NOW)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0] and expected[1] in found[1]
        assert "container httpd in pod dev-web-0" in found[1]


def _live_pod(name: str, *containers: str, infra: str = "running") -> observe.LivePod:
    pod_ = observe.LivePod(name, name, {}, "i", infra)
    for c in containers:
        pod_.containers[c] = observe.LiveContainer(c, c, "running", "img", 0)
    return pod_


KEY = ObjectKey("Deployment", "dev", "web")


@pytest.mark.parametrize(
    ("pods", "expected", "problems", "status", "message"),
    [
        ([], ["dev-web-0"], [], "NotFound", "no podman pod"),
        ([], [], [], "Current", ""),  # scaled to zero
        ([_live_pod("dev-web-0", "httpd")], ["dev-web-0"], [], "Current", "1 of 1 pods running"),
        ([_live_pod("dev-web-0", "httpd")], ["dev-web-0", "dev-web-1"], [], "InProgress", "dev-web-1 does not exist"),
        ([_live_pod("dev-web-0")], ["dev-web-0"], [], "InProgress", "container httpd of pod dev-web-0 is missing"),
        ([_live_pod("dev-web-0", "httpd", infra="exited")], ["dev-web-0"], [], "InProgress", "dev-web-0 is exited"),
        (
            [_live_pod("dev-web-0", "httpd"), _live_pod("dev-web-1", "httpd")],
            ["dev-web-0"],
            [],
            "InProgress",
            "dev-web-1 are still",
        ),
        ([_live_pod("dev-web-0", "httpd")], ["dev-web-0"], [("Failed", "x exited with code 1")], "Failed", "code 1"),
        ([_live_pod("dev-web-0", "httpd")], ["dev-web-0"], [("InProgress", "x is created")], "InProgress", "created"),
    ],
)
def test_judge(
    pods: list[observe.LivePod], expected: list[str], problems: list[tuple[str, str]], status: str, message: str
) -> None:
    health = observe.judge(KEY, pods, expected, ["httpd"], problems)
    assert health.status == status and message in health.message


def test_fields_podman_does_not_enforce_are_named() -> None:
    from gitferry.targets.podman_ignored import ignored_fields

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "dev"},
        "spec": {
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "serviceAccountName": "default",
                    "containers": [{"name": "web", "image": "x", "readinessProbe": {}, "livenessProbe": {}}],
                }
            },
        },
    }
    assert ignored_fields(deployment) == [
        "spec.strategy",
        "spec.template.spec.nodeSelector",
        "spec.template.spec.containers[web].readinessProbe",
    ]
    pod = {"kind": "Pod", "spec": {"serviceAccountName": "builder", "containers": [{"name": "a", "startupProbe": {}}]}}
    assert ignored_fields(pod) == ["spec.serviceAccountName", "spec.containers[a].startupProbe"]
    assert ignored_fields({"kind": "Pod", "spec": {"containers": [{"name": "a", "livenessProbe": {}}]}}) == []

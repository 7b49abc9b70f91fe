"""The Kubernetes target against an API server: the test API server in ``tests/kubeapi`` by default,
or a real cluster with ``GITFERRY_TEST_KUBECONFIG=/path/to/kubeconfig pytest -m kubernetes``.

Every test makes its own namespaces (``gft-<random>-...``) and deletes them after. Tests that need
to steer the cluster (hold a Deployment not ready, fail the 7th write, stop the server) use the
test server's knobs and are skipped against a real cluster, which cannot be steered that way;
they say so in their skip reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitferry.api.keys import ObjectKey
from gitferry.errors import InvalidObjectError, KubernetesError, RejectedObjectError
from gitferry.targets.base import ApplyOptions, Owner
from gitferry.targets.kube_client import FIELD_MANAGER, KubeClient, load_config
from gitferry.targets.kubernetes import KubernetesTarget
from tests.kubeapi import KubeAPI, serve_kube_api
from tests.test_controllers import APPS_KS, WEB
from tests.test_controllers import Cluster as GitOps

pytestmark = pytest.mark.kubernetes

REAL = os.environ.get("GITFERRY_TEST_KUBECONFIG")
OWNER = Owner("flux-system", "apps")


@pytest.fixture(scope="module")
def server() -> Iterator[KubeAPI | None]:
    if REAL:
        yield None
        return
    with serve_kube_api() as api:
        yield api


def fake_only(server: KubeAPI | None) -> KubeAPI:
    if server is None:
        pytest.skip("steers the test API server; a real cluster cannot be steered this way")
    return server


class Cluster:
    """A namespace of its own on the API server; each ``apply`` or ``call`` is a reconcile with a
    fresh client, as ``gitferry up`` makes one per reconcile, and ``last`` is that client."""

    def __init__(self, config: Any, state_dir: Path, namespace: str, server: KubeAPI | None) -> None:
        self.config, self.state_dir, self.namespace, self.server = config, state_dir, namespace, server
        self.last: KubeClient | None = None

    def apply(self, *objects: dict[str, Any], force: bool = False) -> dict[str, str]:
        """Apply ``objects``; {key: action}."""
        return {str(a.key): a.action for a in self.applied(*objects, force=force)}

    def applied(self, *objects: dict[str, Any], force: bool = False) -> list[Any]:
        return self.call(lambda t: t.apply(OWNER, list(objects), ApplyOptions(force=force, timeout=30)))  # type: ignore[no-any-return]

    def call(self, use: Callable[[KubernetesTarget], Any]) -> Any:
        async def go() -> Any:
            client = KubeClient.connect(self.config)
            self.last = client
            try:
                return await use(KubernetesTarget(client, self.state_dir))
            finally:
                await client.close()

        return asyncio.run(go())


@pytest.fixture
def cluster(server: KubeAPI | None, tmp_path: Path) -> Iterator[Cluster]:
    path = Path(REAL) if REAL else server.write_kubeconfig(tmp_path / "kubeconfig")  # type: ignore[union-attr]
    c = Cluster(load_config(path), tmp_path / "kube-state", f"gft-{secrets.token_hex(3)}", server)
    yield c
    c.call(lambda t: _delete_namespaces(t.client, c.namespace))


async def _delete_namespaces(client: KubeClient, prefix: str) -> None:
    res = await client.resource_for("v1", "Namespace")
    assert res is not None
    for item in await client.list(res, "", ""):
        name = item["metadata"]["name"]
        if name.startswith(prefix):
            await client.delete(res, "", name)


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(ns: str, name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def deployment(ns: str, name: str = "web", replicas: int = 1, app: str = "web", **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": "registry.example/web:1"}]},
            },
        },
    }


def live(c: Cluster, kind: str, api_version: str, ns: str, name: str) -> dict[str, Any] | None:
    async def go(t: KubernetesTarget) -> dict[str, Any] | None:
        res = await t.client.resource_for(api_version, kind)
        assert res is not None
        return await t.client.get(res, ns, name)

    return c.call(go)  # type: ignore[no-any-return]


def test_first_apply_creates_in_order_with_owner_labels_and_the_gitferry_field_manager(cluster: Cluster) -> None:
    ns = cluster.namespace
    done = cluster.apply(deployment(ns), configmap(ns, "cfg", greeting="hi"), namespace(ns))
    assert done == {
        f"Namespace/{ns}": "created",
        f"ConfigMap/{ns}/cfg": "created",
        f"Deployment/{ns}/web": "created",
    }
    cm = live(cluster, "ConfigMap", "v1", ns, "cfg")
    assert cm is not None and cm["data"] == {"greeting": "hi"}
    assert cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    managers = {m["manager"] for m in cm["metadata"]["managedFields"]}
    assert FIELD_MANAGER in managers


def test_a_no_change_reconcile_sends_no_writes_and_a_change_sends_one(cluster: Cluster) -> None:
    ns = cluster.namespace
    objects = [namespace(ns), *[configmap(ns, f"cm-{i}", n=str(i)) for i in range(10)]]
    cluster.apply(*objects)
    if cluster.server is not None:
        cluster.server.clear_requests()
    assert set(cluster.apply(*objects).values()) == {"unchanged"}
    assert cluster.last is not None and cluster.last.writes == 0
    if cluster.server is not None:  # one LIST per kind and namespace answers it: no read of each object
        assert [r.path for r in cluster.server.requests if r.method == "GET" and r.name] == []
    objects[3] = configmap(ns, "cm-2", n="changed")
    done = cluster.apply(*objects)
    assert [k for k, v in done.items() if v != "unchanged"] == [f"ConfigMap/{ns}/cm-2"]
    assert cluster.last.writes == 1


def test_drift_is_corrected_and_named(cluster: Cluster) -> None:
    ns = cluster.namespace
    objects = [namespace(ns), configmap(ns, "cfg", greeting="hi")]
    cluster.apply(*objects)

    async def edit(t: KubernetesTarget) -> None:  # someone edits the object outside Git
        res = await t.client.resource_for("v1", "ConfigMap")
        assert res is not None
        edited = configmap(ns, "cfg", greeting="hacked")
        await t.client.http.patch(
            res.path(ns, "cfg"),
            params={"fieldManager": "kubectl-edit"},
            json={"data": edited["data"]},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    cluster.call(edit)
    [_, applied] = cluster.applied(*objects)
    assert applied.action == "configured"
    assert applied.cause == 'drift: .data.greeting: live "hacked", desired "hi"; took over the fields of kubectl-edit'
    assert live(cluster, "ConfigMap", "v1", ns, "cfg")["data"] == {"greeting": "hi"}  # type: ignore[index]


def test_an_object_deleted_outside_git_is_created_again(cluster: Cluster) -> None:
    ns = cluster.namespace
    objects = [namespace(ns), configmap(ns, "cfg", a="1")]
    cluster.apply(*objects)

    async def remove(t: KubernetesTarget) -> None:
        res = await t.client.resource_for("v1", "ConfigMap")
        assert res is not None
        await t.client.delete(res, ns, "cfg")

    cluster.call(remove)
    assert cluster.apply(*objects)[f"ConfigMap/{ns}/cfg"] == "created"


def test_prune_deletes_only_what_this_kustomization_applied(cluster: Cluster) -> None:
    ns = cluster.namespace
    cluster.apply(namespace(ns), configmap(ns, "keep"), configmap(ns, "gone"))

    async def foreign(t: KubernetesTarget) -> None:  # made by hand, not by gitferry
        res = await t.client.resource_for("v1", "ConfigMap")
        assert res is not None
        await t.client.http.post(res.path(ns), json=configmap(ns, "by-hand"))

    cluster.call(foreign)
    keys = [ObjectKey("ConfigMap", ns, "gone"), ObjectKey("ConfigMap", ns, "by-hand")]
    pruned = cluster.call(lambda t: t.prune(OWNER, keys))
    assert pruned == [ObjectKey("ConfigMap", ns, "gone")]
    assert live(cluster, "ConfigMap", "v1", ns, "gone") is None
    assert live(cluster, "ConfigMap", "v1", ns, "by-hand") is not None


def test_an_immutable_change_is_refused_naming_the_field_or_recreated_with_force(cluster: Cluster) -> None:
    ns = cluster.namespace
    cluster.apply(namespace(ns), deployment(ns, app="web"))
    with pytest.raises(RejectedObjectError) as refused:
        cluster.apply(namespace(ns), deployment(ns, app="other"))
    assert f"Deployment/{ns}/web" in str(refused.value) and "spec.selector" in str(refused.value)
    assert "kustomize.toolkit.fluxcd.io/force: Enabled" in str(refused.value)
    done = cluster.apply(namespace(ns), deployment(ns, app="other"), force=True)
    assert done[f"Deployment/{ns}/web"] == "configured"
    recreated = live(cluster, "Deployment", "apps/v1", ns, "web")
    assert recreated is not None and recreated["spec"]["selector"] == {"matchLabels": {"app": "other"}}


def test_a_kind_the_cluster_does_not_serve_fails_before_anything_is_applied(cluster: Cluster) -> None:
    ns = cluster.namespace
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}}
    with pytest.raises(InvalidObjectError) as raised:
        cluster.apply(namespace(ns), configmap(ns, "cfg"), widget)
    assert f"Widget/{ns}/w (example.com/v1 Widget)" in str(raised.value)
    assert cluster.last is not None and cluster.last.writes == 0


def test_a_missing_namespace_and_an_invalid_field_are_named(cluster: Cluster) -> None:
    missing = f"{cluster.namespace}-missing"
    with pytest.raises(KubernetesError) as raised:
        cluster.apply(configmap(missing, "cfg"))
    assert f"ConfigMap/{missing}/cfg" in str(raised.value) and "not found" in str(raised.value)
    ns = cluster.namespace
    bad = deployment(ns)
    bad["spec"]["replicas"] = "two"
    with pytest.raises(RejectedObjectError) as rejected:
        cluster.apply(namespace(ns), bad)
    assert f"Deployment/{ns}/web" in str(rejected.value) and "replicas" in str(rejected.value)


def test_ssa_annotations_ignore_and_if_not_present(cluster: Cluster) -> None:
    ns = cluster.namespace
    ignored = configmap(ns, "ignored", a="1")
    ignored["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}
    once = configmap(ns, "once", a="1")
    once["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}
    cluster.apply(namespace(ns), ignored, once)
    assert live(cluster, "ConfigMap", "v1", ns, "ignored") is None
    once["data"] = {"a": "2"}
    assert cluster.apply(namespace(ns), once)[f"ConfigMap/{ns}/once"] == "unchanged"
    assert live(cluster, "ConfigMap", "v1", ns, "once")["data"] == {"a": "1"}  # type: ignore[index]


def test_health_follows_kstatus(cluster: Cluster) -> None:
    api = fake_only(cluster.server)
    ns = cluster.namespace
    held = deployment(ns, "held", **{"kubeapi.test/hold": "true"})
    cluster.apply(namespace(ns), deployment(ns), held)
    keys = [ObjectKey("Deployment", ns, "web"), ObjectKey("Deployment", ns, "held"), ObjectKey("Job", ns, "none")]
    health = {h.key.name: (h.status, h.message) for h in cluster.call(lambda t: t.health(OWNER, keys))}
    assert health["web"][0] == "Current"
    assert health["held"][0] == "InProgress"
    assert health["none"] == ("NotFound", "not found in the cluster")
    assert api is not None


def test_a_failure_midway_keeps_what_was_applied_and_the_next_reconcile_finishes(cluster: Cluster) -> None:
    api = fake_only(cluster.server)
    ns = cluster.namespace
    objects = [namespace(ns), *[configmap(ns, f"cm-{i}", n=str(i)) for i in range(10)]]
    api.fail_next("PATCH", "ConfigMap", "cm-6", ns, dry_run=False, status=500, message="etcd timeout")
    with pytest.raises(KubernetesError) as raised:
        cluster.apply(*objects)
    text = str(raised.value)
    assert text.startswith(f"ConfigMap/{ns}/cm-6: ") and "etcd timeout" in text and "HTTP 500" in text, text
    names = [o["metadata"]["name"] for o in api.list("ConfigMap", ns)]
    assert [n for n in names if n.startswith("cm-")] == [f"cm-{i}" for i in range(6)]
    done = cluster.apply(*objects)
    assert [k for k, v in done.items() if v == "created"] == [f"ConfigMap/{ns}/cm-{i}" for i in range(6, 10)]
    assert cluster.last is not None and cluster.last.writes == 4  # the six applied before are not sent again


ANY_FIELDS = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_a_crd_and_its_custom_resources_in_one_set_wait_for_established(cluster: Cluster) -> None:
    api = fake_only(cluster.server)  # a real cluster would keep the CRD: left to the suite against the fake
    api.crd_established_delay = 0.5
    ns, group = cluster.namespace, f"{cluster.namespace}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": ANY_FIELDS}}],
        },
    }  # fmt: skip
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}, "size": 3}
    try:
        done = cluster.apply(widget, namespace(ns), crd)
        assert done[f"Widget/{ns}/w"] == "created"
        assert api.get("Widget", "w", ns, api_version=f"{group}/v1")["size"] == 3  # type: ignore[index]
    finally:
        api.crd_established_delay = 0.0


def test_prune_disabled_is_kept(cluster: Cluster) -> None:
    ns = cluster.namespace
    kept = configmap(ns, "kept")
    kept["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    cluster.apply(namespace(ns), kept)
    assert cluster.call(lambda t: t.prune(OWNER, [ObjectKey("ConfigMap", ns, "kept")])) == []
    assert live(cluster, "ConfigMap", "v1", ns, "kept") is not None


def test_an_unreachable_server_and_expired_credentials_say_so(cluster: Cluster) -> None:
    api = fake_only(cluster.server)
    ns = cluster.namespace
    api.token = "rotated"
    try:
        with pytest.raises(KubernetesError) as refused:
            cluster.apply(namespace(ns))
        assert "401" in str(refused.value) and "credentials" in str(refused.value)
    finally:
        api.token = "test-token"
    api.stop()
    try:
        with pytest.raises(KubernetesError) as unreachable:
            cluster.apply(namespace(ns))
        assert f"the API server {api.url} is unreachable" in str(unreachable.value)
    finally:
        api.start()


def test_apply_follows_fluxs_order(cluster: Cluster) -> None:
    api = fake_only(cluster.server)
    ns = cluster.namespace
    api.clear_requests()
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"{ns}-reader"},
              "rules": []}  # fmt: skip
    try:
        cluster.apply(configmap(ns, "cfg"), reader, namespace(ns))
        written = [r.path.rsplit("/", 2)[-2] for r in api.writes()]
        assert written == ["namespaces", "clusterroles", "configmaps"], written
    finally:
        cluster.call(lambda t: t.prune(OWNER, [ObjectKey("ClusterRole", "", f"{ns}-reader")]))


REMOTE_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: remote
  namespace: flux-system
stringData:
  value: |
"""


def test_a_kustomization_with_a_kubeconfig_secret_applies_to_that_cluster(
    tmp_path: Path, server: KubeAPI | None
) -> None:
    """Flux's ``spec.kubeConfig.secretRef``: the objects go to the remote cluster, not to gitferry's own target."""
    api = fake_only(server)
    ns = f"gft-{secrets.token_hex(3)}"
    api.create(namespace(ns))
    kubeconfig = api.write_kubeconfig(tmp_path / "remote-kubeconfig").read_text()
    remote = APPS_KS.replace(
        "targetNamespace: dev", f"targetNamespace: {ns}\n  kubeConfig: {{secretRef: {{name: remote}}}}"
    )
    (tmp_path / "gitops").mkdir()
    gitops = GitOps(tmp_path / "gitops")
    gitops.write({"clusters/local/apps.yaml": remote})
    (gitops.work / "clusters/local/remote.yaml").write_text(REMOTE_SECRET + textwrap.indent(kubeconfig, "    "))
    gitops.commit("apps go to the remote cluster")
    api.clear_requests()
    gitops.run()
    ready, message = gitops.ready(ObjectKey("Kustomization", "flux-system", "apps"))
    assert ready is True, message
    deployed = api.get("Deployment", "web", ns)
    assert deployed is not None and deployed["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert gitops.target.get(ObjectKey("Deployment", ns, "web")) is None and gitops.target.get(WEB) is None
    assert {r.impersonate_user for r in api.requests} == {None}

    # spec.serviceAccountName: every request acts as that service account, for the cluster's RBAC to judge.
    gitops.write(
        {"clusters/local/apps.yaml": remote.replace("  prune: true", "  prune: true\n  serviceAccountName: deployer")}
    )
    gitops.commit("apply as the deployer service account")
    api.clear_requests()
    gitops.run()
    assert gitops.ready(ObjectKey("Kustomization", "flux-system", "apps"))[0] is True
    # (The reactor may first run the Kustomization as stored before the commit; the last run acts as deployer.)
    assert api.requests[-1].impersonate_user == "system:serviceaccount:flux-system:deployer", api.requests[-1]


def test_a_service_account_needs_a_kubernetes_target(tmp_path: Path) -> None:
    gitops = GitOps(tmp_path)
    gitops.write(
        {"clusters/local/apps.yaml": APPS_KS.replace("  prune: true", "  prune: true\n  serviceAccountName: x")}
    )
    gitops.commit("impersonation on podman")
    gitops.run()
    ready, message = gitops.ready(ObjectKey("Kustomization", "flux-system", "apps"))
    assert ready is False and "field spec.serviceAccountName: acting as a service account needs a Kubernetes" in message


def test_preview_is_the_servers_dry_run_so_a_field_dropped_from_git_shows_as_removed(cluster: Cluster) -> None:
    ns = cluster.namespace
    cluster.apply(namespace(ns), configmap(ns, "cfg", a="1", b="2"))
    key = ObjectKey("ConfigMap", ns, "cfg")
    preview = cluster.call(lambda t: t.preview(OWNER, [configmap(ns, "cfg", a="1")]))
    assert preview[key]["data"] == {"a": "1"}  # b was gitferry's: applying without it removes it
    assert live(cluster, "ConfigMap", "v1", ns, "cfg")["data"] == {"a": "1", "b": "2"}  # type: ignore[index]
    assert cluster.last is not None and cluster.last.writes == 0


def test_a_status_write_needs_no_dry_run_but_a_label_edited_by_hand_is_drift(cluster: Cluster) -> None:
    api = fake_only(cluster.server)
    ns = cluster.namespace
    objects = [namespace(ns), deployment(ns)]
    cluster.apply(*objects)
    api.set_status("Deployment", "web", ns, {"observedGeneration": 1, "conditions": []}, merge=True)
    api.clear_requests()
    assert set(cluster.apply(*objects).values()) == {"unchanged"}
    assert [r for r in api.requests if r.dry_run] == []  # the generation did not move: nothing to ask
    api.edit("Deployment", "web", ns, {"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "other"}}})
    [_, web] = cluster.applied(*objects)
    assert web.action == "configured" and ".metadata.labels" in web.cause, web


def test_fields_added_by_hand_are_removed_under_override_and_kept_under_merge(cluster: Cluster) -> None:
    """Flux's Override: kubectl's managed fields are taken over, so what Git does not set goes; Merge keeps it."""
    api = fake_only(cluster.server)
    ns = cluster.namespace
    merged = configmap(ns, "merged", a="1")
    merged["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/ssa": "Merge"}
    objects = [namespace(ns), configmap(ns, "cfg", a="1"), merged]
    cluster.apply(*objects)
    for name in ("cfg", "merged"):
        api.edit("ConfigMap", name, ns, {"data": {"added": "by hand"}}, field_manager="kubectl-edit")
    done = {str(a.key): a for a in cluster.applied(*objects)}
    assert done[f"ConfigMap/{ns}/cfg"].cause == "drift: took over the fields of kubectl-edit"
    assert live(cluster, "ConfigMap", "v1", ns, "cfg")["data"] == {"a": "1"}  # type: ignore[index]
    assert done[f"ConfigMap/{ns}/merged"].action == "unchanged"
    assert live(cluster, "ConfigMap", "v1", ns, "merged")["data"] == {"a": "1", "added": "by hand"}  # type: ignore[index]
    assert set(cluster.apply(*objects).values()) == {"unchanged"}

"""The test API server (tests/kubeapi) against what kube-apiserver does.

Every test runs against the in-process fake. With ``GITFERRY_TEST_KUBECONFIG`` pointing at a real
cluster (a kind cluster, say), the tests not marked fake-only run against it too, each in a fresh
namespace it deletes afterwards: that is how the fake's faithfulness is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient
from lightkube.config.client_adapter import AsyncClient as adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace

from tests.kubeapi import KubeAPI, serve_kube_api

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
REAL_KUBECONFIG = os.environ.get("GITFERRY_TEST_KUBECONFIG")
BACKENDS = ["fake", *(["real"] if REAL_KUBECONFIG else [])]


@dataclass
class Kube:
    """One backend, seen by a test: lightkube, raw HTTP, a fresh namespace, and the fake (None when real)."""

    client: AsyncClient
    http: httpx.AsyncClient
    ns: str
    api: KubeAPI | None
    kubeconfig: Path

    @property
    def fake(self) -> KubeAPI:
        assert self.api is not None
        return self.api

    async def apply(
        self, obj: dict[str, Any], manager: str = "gitferry", *, force: bool = False, dry_run: bool = False
    ) -> httpx.Response:
        params = {"fieldManager": manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        return await self.http.patch(
            object_path(obj), params=params, headers={"Content-Type": APPLY}, content=json.dumps(obj)
        )

    async def edit(self, obj: dict[str, Any], patch: dict[str, Any], manager: str = "kubectl-edit") -> httpx.Response:
        return await self.http.patch(
            object_path(obj),
            params={"fieldManager": manager},
            headers={"Content-Type": MERGE},
            content=json.dumps(patch),
        )

    async def get(self, obj: dict[str, Any]) -> httpx.Response:
        return await self.http.get(object_path(obj))


def object_path(obj: dict[str, Any]) -> str:
    api_version, kind = obj["apiVersion"], obj["kind"]
    meta = obj["metadata"]
    root = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    plural = PLURALS.get(kind) or kind.lower() + "s"
    ns = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    return f"{root}{ns}/{plural}/{meta['name']}"


PLURALS = {"Ingress": "ingresses", "CustomResourceDefinition": "customresourcedefinitions"}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, KubeAPI | None]]:
    if request.param == "fake":
        with serve_kube_api() as api:
            yield api.write_kubeconfig(tmp_path / "kubeconfig"), api
    else:
        assert REAL_KUBECONFIG
        yield Path(REAL_KUBECONFIG), None


def run(backend: tuple[Path, KubeAPI | None], scenario: Callable[[Kube], Awaitable[None]]) -> None:
    kubeconfig, api = backend

    async def main() -> None:
        config = KubeConfig.from_file(kubeconfig)
        client = AsyncClient(config=config, field_manager="gitferry")
        http = adapter_client(config.get(), ConnectionParams())
        ns = f"t-{uuid.uuid4().hex[:8]}"
        await client.create(Namespace(metadata=ObjectMeta(name=ns)))
        try:
            await scenario(Kube(client, http, ns, api, kubeconfig))
        finally:
            with contextlib.suppress(ApiError):
                await client.delete(Namespace, ns)
            await client.close()
            await http.aclose()

    asyncio.run(main())


def fake_only(backend: tuple[Path, KubeAPI | None]) -> KubeAPI:
    if backend[1] is None:
        pytest.skip("uses the test API server's own helpers")
    return backend[1]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


def configmap(ns: str, name: str = "cfg", data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **meta},
        "data": data if data is not None else {"a": "1"},
    }


def deployment(
    ns: str, name: str = "web", *, replicas: int | None = 2, image: str = "nginx:1.27", app: str = "web", **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": app}},
        "template": {
            "metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, **meta},
        "spec": spec,
    }


def status_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["kind"] == "Status", body
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == response.status_code
    assert response.headers["content-type"] == "application/json"
    return body  # type: ignore[no-any-return]


def managed(obj: dict[str, Any], manager: str, operation: str | None = None) -> dict[str, Any] | None:
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] == manager and (operation is None or entry["operation"] == operation):
            return entry  # type: ignore[no-any-return]
    return None


# --- discovery --------------------------------------------------------------------------------------


def test_discovery_lists_the_built_in_resources(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        api = (await k.http.get("/api")).json()
        assert api["kind"] == "APIVersions" and "v1" in api["versions"]

        core = (await k.http.get("/api/v1")).json()
        assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
        by_name = {r["name"]: r for r in core["resources"]}
        assert by_name["configmaps"]["namespaced"] is True
        assert by_name["configmaps"]["kind"] == "ConfigMap"
        assert {"create", "get", "list", "patch", "update", "delete"} <= set(by_name["configmaps"]["verbs"])
        assert by_name["namespaces"]["namespaced"] is False
        assert by_name["persistentvolumes"]["namespaced"] is False
        assert "svc" in by_name["services"]["shortNames"]
        assert "namespaces/status" in by_name

        groups = (await k.http.get("/apis")).json()
        assert groups["kind"] == "APIGroupList"
        apps = next(g for g in groups["groups"] if g["name"] == "apps")
        assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
        names = {g["name"] for g in groups["groups"]}
        assert {"batch", "apiextensions.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io"} <= names

        apps_v1 = (await k.http.get("/apis/apps/v1")).json()
        assert apps_v1["groupVersion"] == "apps/v1"
        deploy = next(r for r in apps_v1["resources"] if r["name"] == "deployments")
        assert (
            deploy["kind"] == "Deployment" and deploy["namespaced"] is True and deploy["singularName"] == "deployment"
        )
        crds = next(r for r in (await k.http.get("/apis/apiextensions.k8s.io/v1")).json()["resources"])
        assert crds["name"] == "customresourcedefinitions" and crds["namespaced"] is False

        missing = await k.http.get("/apis/nothing.example.com/v1/widgets")
        assert missing.status_code == 404
        assert status_of(missing)["reason"] == "NotFound"

    run(backend, scenario)


def test_unknown_resource_is_404_with_a_status(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        got = await k.http.get(f"/api/v1/namespaces/{k.ns}/widgets")
        assert got.status_code == 404
        assert status_of(got)["message"] == "the server could not find the requested resource"

    run(backend, scenario)


# --- CRUD ------------------------------------------------------------------------------------------


def test_create_get_and_list_with_label_selectors(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "x"}), ("c", {"app": "y"})):
            await k.client.create(ConfigMap(metadata=ObjectMeta(name=name, namespace=k.ns, labels=labels), data={}))
        got = await k.client.get(ConfigMap, "a", namespace=k.ns)
        assert got.metadata.labels == {"app": "x", "tier": "web"}
        assert got.metadata.uid and got.metadata.resourceVersion and got.metadata.creationTimestamp

        async def names(selector: str) -> list[str]:
            r = await k.http.get(f"/api/v1/namespaces/{k.ns}/configmaps", params={"labelSelector": selector})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["kind"] == "ConfigMapList" and body["metadata"]["resourceVersion"]
            return [item["metadata"]["name"] for item in body["items"]]

        assert await names("app=x") == ["a", "b"]
        assert await names("app=x,tier=web") == ["a"]
        # kube-root-ca.crt (made in every namespace by kube-controller-manager) has no labels either
        assert [n for n in await names("app!=x") if n != "kube-root-ca.crt"] == ["c"]
        assert await names("tier") == ["a"]
        assert await names("!tier,app") == ["b", "c"]
        assert await names("app in (x,y),!tier") == ["b", "c"]
        listed = [cm.metadata.name async for cm in k.client.list(ConfigMap, namespace=k.ns, labels={"app": "x"})]
        assert listed == ["a", "b"]

        again = await k.http.post(f"/api/v1/namespaces/{k.ns}/configmaps", json=configmap(k.ns, "a"))
        assert again.status_code == 409
        assert status_of(again)["reason"] == "AlreadyExists"
        assert again.json()["message"] == 'configmaps "a" already exists'
        missing = await k.http.get(f"/api/v1/namespaces/{k.ns}/configmaps/zzz")
        assert missing.status_code == 404
        assert status_of(missing)["details"] == {"name": "zzz", "kind": "configmaps"}
        assert missing.json()["message"] == 'configmaps "zzz" not found'

    run(backend, scenario)


def test_list_items_of_built_in_kinds_carry_no_kind(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        await k.http.post(f"/api/v1/namespaces/{k.ns}/configmaps", json=configmap(k.ns))
        body = (await k.http.get(f"/api/v1/namespaces/{k.ns}/configmaps")).json()
        assert all("kind" not in item and "apiVersion" not in item for item in body["items"])
        selector = {"fieldSelector": f"metadata.namespace={k.ns},metadata.name=cfg"}
        across = (await k.http.get("/api/v1/configmaps", params=selector)).json()
        assert [i["metadata"]["name"] for i in across["items"]] == ["cfg"]

    run(backend, scenario)


def test_put_with_a_stale_resource_version_conflicts(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        created = (await k.http.post(f"/api/v1/namespaces/{k.ns}/configmaps", json=configmap(k.ns))).json()
        first = {**created, "data": {"a": "2"}}
        ok = await k.http.put(object_path(created), json=first)
        assert ok.status_code == 200 and ok.json()["data"] == {"a": "2"}
        assert int(ok.json()["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
        stale = await k.http.put(object_path(created), json={**created, "data": {"a": "3"}})
        assert stale.status_code == 409
        body = status_of(stale)
        assert body["reason"] == "Conflict"
        assert "the object has been modified; please apply your changes to the latest version" in body["message"]

    run(backend, scenario)


# --- server-side apply ------------------------------------------------------------------------------


def test_apply_creates_and_a_no_op_reapply_keeps_the_resource_version(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns, data={"a": "1", "b": "2"}, labels={"app": "x"})
        created = await k.apply(cm)
        assert created.status_code == 201, created.text
        rv = created.json()["metadata"]["resourceVersion"]
        entry = managed(created.json(), "gitferry", "Apply")
        assert entry is not None
        assert entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "v1" and entry["time"]
        assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}

        again = await k.apply(cm)
        assert again.status_code == 200
        assert again.json()["metadata"]["resourceVersion"] == rv
        assert (await k.get(cm)).json()["metadata"]["resourceVersion"] == rv

        # lightkube sends the same apply (JSON body, content type apply-patch+yaml)
        applied = await k.client.apply(ConfigMap.from_dict(cm))
        assert applied.metadata.resourceVersion == rv
        # a YAML body is accepted too
        yaml_body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: {k.ns}\n"
        yaml_body += "  labels:\n    app: x\ndata:\n  a: '1'\n  b: '2'\n"
        r = await k.http.patch(
            object_path(cm), params={"fieldManager": "gitferry"}, headers={"Content-Type": APPLY}, content=yaml_body
        )
        assert r.status_code == 200 and r.json()["metadata"]["resourceVersion"] == rv

    run(backend, scenario)


def test_apply_of_a_deployment_records_fields_v1_as_the_server_does(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        created = await k.apply(deployment(k.ns))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["metadata"]["generation"] == 1
        assert body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
        entry = managed(body, "gitferry", "Apply")
        assert entry is not None
        assert entry["fieldsV1"] == {
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                                },
                            }
                        }
                    },
                },
            }
        }

    run(backend, scenario)


def test_created_objects_are_owned_by_an_update_manager(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns, labels={"app": "x"})
        r = await k.http.post(
            f"/api/v1/namespaces/{k.ns}/configmaps", params={"fieldManager": "kubectl-create"}, json=cm
        )
        assert r.status_code == 201
        entry = managed(r.json(), "kubectl-create", "Update")
        assert entry is not None and entry["apiVersion"] == "v1"
        assert entry["fieldsV1"] == {
            "f:data": {".": {}, "f:a": {}},
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        }

    run(backend, scenario)


def test_apply_removing_a_field_removes_it(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns, data={"a": "1", "b": "2"}, labels={"app": "x", "tier": "web"})
        assert (await k.apply(cm)).status_code == 201
        smaller = configmap(k.ns, data={"a": "1"}, labels={"app": "x"})
        r = await k.apply(smaller)
        assert r.status_code == 200
        assert r.json()["data"] == {"a": "1"}
        assert r.json()["metadata"]["labels"] == {"app": "x"}

        d = deployment(k.ns)
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "2"},
        ]
        d["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1"})
        assert (await k.apply(d)).status_code == 201
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
        del d["spec"]["template"]["spec"]["containers"][1]
        del d["spec"]["replicas"]
        r = await k.apply(d)
        assert r.status_code == 200, r.text
        spec = r.json()["spec"]
        assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["web"]
        assert spec["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
        assert spec["replicas"] == 1  # no one owns it any more: back to the default
        assert r.json()["metadata"]["generation"] == 2

    run(backend, scenario)


def test_apply_conflicts_with_another_manager_and_force_takes_ownership(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns, replicas=2)
        assert (await k.apply(d)).status_code == 201
        edited = await k.edit(d, {"spec": {"replicas": 5}}, manager="kubectl-edit")
        assert edited.status_code == 200 and edited.json()["spec"]["replicas"] == 5
        entry = managed(edited.json(), "kubectl-edit", "Update")
        assert entry is not None and entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
        assert "f:replicas" not in managed(edited.json(), "gitferry", "Apply")["fieldsV1"]["f:spec"]  # type: ignore[index]

        # the same value as the other manager: shared ownership, no conflict
        same = await k.apply(deployment(k.ns, replicas=5))
        assert same.status_code == 200, same.text
        assert "f:replicas" in managed(same.json(), "gitferry", "Apply")["fieldsV1"]["f:spec"]  # type: ignore[index]
        assert managed(same.json(), "kubectl-edit") is not None

        await k.edit(d, {"spec": {"replicas": 4}, "metadata": {"labels": {"edited": "yes"}}}, manager="kubectl-edit")
        conflict = await k.apply(deployment(k.ns, replicas=2, image="nginx:1.28"))
        assert conflict.status_code == 409
        body = status_of(conflict)
        assert body["reason"] == "Conflict"
        assert body["message"] == (
            'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
        )
        assert body["details"]["causes"] == [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-edit" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
        live = (await k.get(d)).json()
        assert live["spec"]["replicas"] == 4
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

        forced = await k.apply(deployment(k.ns, replicas=2, image="nginx:1.28"), force=True)
        assert forced.status_code == 200, forced.text
        assert forced.json()["spec"]["replicas"] == 2
        assert forced.json()["metadata"]["labels"] == {"edited": "yes"}  # not ours: kept
        edit_entry = managed(forced.json(), "kubectl-edit")
        # the labels map did not exist before the edit, so the editor owns the map itself too (".")
        assert edit_entry is not None
        assert edit_entry["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:edited": {}}}}
        assert "f:replicas" in managed(forced.json(), "gitferry", "Apply")["fieldsV1"]["f:spec"]  # type: ignore[index]

    run(backend, scenario)


def test_conflict_paths_name_list_items_by_key(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns)
        assert (await k.apply(d)).status_code == 201
        assert (await k.apply(deployment(k.ns, image="nginx:edited"), manager="other", force=True)).status_code == 200
        r = await k.apply(deployment(k.ns, image="nginx:1.29"))
        assert r.status_code == 409
        assert status_of(r)["details"]["causes"] == [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "other"',
                "field": '.spec.template.spec.containers[name="web"].image',
            }
        ]

    run(backend, scenario)


def test_dry_run_stores_nothing(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns)
        r = await k.apply(cm, dry_run=True)
        assert r.status_code == 201 and r.json()["data"] == {"a": "1"}
        assert (await k.get(cm)).status_code == 404
        r = await k.http.post(f"/api/v1/namespaces/{k.ns}/configmaps", params={"dryRun": "All"}, json=cm)
        assert r.status_code == 201
        assert (await k.get(cm)).status_code == 404

        live = (await k.apply(cm)).json()
        rv = live["metadata"]["resourceVersion"]
        preview = await k.apply(configmap(k.ns, data={"a": "2"}), dry_run=True)
        assert preview.status_code == 200 and preview.json()["data"] == {"a": "2"}
        assert preview.json()["metadata"]["resourceVersion"] == rv
        after = (await k.get(cm)).json()
        assert after["data"] == {"a": "1"} and after["metadata"]["resourceVersion"] == rv

        deleted = await k.http.delete(object_path(cm), params={"dryRun": "All"})
        assert deleted.status_code == 200
        assert (await k.get(cm)).status_code == 200

        dry_client = AsyncClient(config=KubeConfig.from_file(k.kubeconfig), field_manager="gitferry", dry_run=True)
        try:
            changed = await dry_client.apply(ConfigMap.from_dict(configmap(k.ns, data={"a": "3"})))
            assert changed.data == {"a": "3"}
        finally:
            await dry_client.close()
        assert (await k.get(cm)).json()["data"] == {"a": "1"}

    run(backend, scenario)


def test_generation_bumps_on_spec_changes_only(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns, replicas=1)
        assert (await k.apply(d)).json()["metadata"]["generation"] == 1
        labelled = await k.apply(deployment(k.ns, replicas=1, labels={"new": "label"}))
        assert labelled.json()["metadata"]["generation"] == 1
        scaled = await k.apply(deployment(k.ns, replicas=3, labels={"new": "label"}))
        assert scaled.json()["metadata"]["generation"] == 2
        cm = (await k.apply(configmap(k.ns))).json()
        assert "generation" not in cm["metadata"]  # ConfigMaps have none

    run(backend, scenario)


def test_status_is_only_written_through_the_status_subresource(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns, replicas=1)
        assert (await k.apply(d)).status_code == 201
        live = (await k.get(d)).json()
        with_status = {**live, "status": {"replicas": 99}}
        put = await k.http.put(object_path(d), json=with_status)
        assert put.status_code == 200
        assert put.json().get("status", {}).get("replicas") != 99
        via_status = await k.http.put(
            object_path(d) + "/status",
            json={**put.json(), "spec": {**put.json()["spec"], "replicas": 7}, "status": {"observedGeneration": 1}},
        )
        assert via_status.status_code == 200, via_status.text
        assert via_status.json()["spec"]["replicas"] == 1
        assert via_status.json()["status"]["observedGeneration"] == 1

    run(backend, scenario)


# --- errors -------------------------------------------------------------------------------------------


def test_a_namespaced_object_in_a_missing_namespace_is_404(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap("no-such-ns")
        for r in (await k.apply(cm), await k.http.post("/api/v1/namespaces/no-such-ns/configmaps", json=cm)):
            assert r.status_code == 404
            body = status_of(r)
            assert body["reason"] == "NotFound"
            assert body["message"] == 'namespaces "no-such-ns" not found'
            assert body["details"] == {"name": "no-such-ns", "kind": "namespaces"}
        with pytest.raises(ApiError) as err:
            await k.client.apply(ConfigMap.from_dict(cm))
        assert err.value.status.code == 404

    run(backend, scenario)


def test_invalid_names_and_immutable_fields_are_422(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        r = await k.apply(configmap(k.ns, name="Bad_Name"))
        assert r.status_code == 422
        body = status_of(r)
        assert body["reason"] == "Invalid"
        assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ')
        assert body["details"]["kind"] == "ConfigMap" and body["details"]["name"] == "Bad_Name"
        assert body["details"]["causes"][0]["field"] == "metadata.name"
        assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"

        assert (await k.apply(deployment(k.ns))).status_code == 201
        changed = deployment(k.ns, app="other")
        r = await k.apply(changed)
        assert r.status_code == 422
        body = status_of(r)
        assert body["message"].startswith('Deployment.apps "web" is invalid: spec.selector: Invalid value: ')
        assert body["message"].endswith("field is immutable")
        assert body["details"]["group"] == "apps" and body["details"]["kind"] == "Deployment"
        assert [c["field"] for c in body["details"]["causes"]] == ["spec.selector"]

        mismatch = deployment(k.ns, name="broken")
        mismatch["spec"]["template"]["metadata"]["labels"] = {"app": "nope"}
        r = await k.apply(mismatch)
        assert r.status_code == 422
        assert status_of(r)["details"]["causes"][0]["field"] == "spec.template.metadata.labels"

    run(backend, scenario)


def test_more_immutable_fields(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        frozen = configmap(k.ns, name="frozen")
        frozen["immutable"] = True
        assert (await k.apply(frozen)).status_code == 201
        r = await k.apply({**frozen, "data": {"a": "2"}})
        assert r.status_code == 422
        assert status_of(r)["details"]["causes"][0]["field"] == "data"

        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": k.ns},
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}
            },
        }
        created = await k.apply(job)
        assert created.status_code == 201, created.text
        assert "batch.kubernetes.io/controller-uid" in created.json()["spec"]["selector"]["matchLabels"]
        assert (await k.apply(job)).status_code == 200  # the same template again is fine
        job["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
        r = await k.apply(job)
        assert r.status_code == 422
        assert "spec.template" in [c["field"] for c in status_of(r)["details"]["causes"]]

        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": k.ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
        created = (await k.apply(svc)).json()
        ip = created["spec"]["clusterIP"]
        assert ip and created["spec"]["ports"][0]["protocol"] == "TCP"
        assert (await k.apply(svc)).json()["spec"]["clusterIP"] == ip
        r = await k.apply({**svc, "spec": {**svc["spec"], "clusterIP": "10.96.200.200"}}, force=True)
        assert r.status_code == 422
        assert status_of(r)["details"]["causes"][0]["field"] in ("spec.clusterIP", "spec.clusterIPs[0]")

    run(backend, scenario)


def test_wrong_types_are_refused(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns)
        d["spec"]["replicas"] = "three"
        created = await k.http.post(f"/apis/apps/v1/namespaces/{k.ns}/deployments", json=d)
        assert created.status_code == 400
        assert status_of(created)["reason"] == "BadRequest"
        assert "spec.replicas" in created.json()["message"]
        applied = await k.apply(d)
        assert applied.status_code >= 400
        assert ".spec.replicas" in applied.json()["message"]

    run(backend, scenario)


def test_apply_needs_a_field_manager_and_matching_kind(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns)
        r = await k.http.patch(object_path(cm), headers={"Content-Type": APPLY}, content=json.dumps(cm))
        assert r.status_code == 422
        assert "fieldManager: Required value" in status_of(r)["message"]
        wrong = {**cm, "apiVersion": "v2"}
        r = await k.http.patch(
            object_path(cm), params={"fieldManager": "x"}, headers={"Content-Type": APPLY}, content=json.dumps(wrong)
        )
        assert r.status_code == 400 and status_of(r)["reason"] == "BadRequest"
        other = configmap(k.ns, name="other")
        r = await k.http.patch(
            object_path(cm), params={"fieldManager": "x"}, headers={"Content-Type": APPLY}, content=json.dumps(other)
        )
        assert r.status_code == 400
        assert status_of(r)["message"] == "the name of the object (other) does not match the name on the URL (cfg)"

    run(backend, scenario)


def test_a_wrong_token_is_401(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        base = str(k.http.base_url).rstrip("/")
        async with httpx.AsyncClient(base_url=base, verify=False, headers={"Authorization": "Bearer wrong"}) as bad:
            r = await bad.get(f"/api/v1/namespaces/{k.ns}/configmaps")
            assert r.status_code == 401
            body = status_of(r)
            assert body["reason"] == "Unauthorized" and body["message"] == "Unauthorized"

    run(backend, scenario)


# --- deletion -------------------------------------------------------------------------------------


def test_delete_waits_for_finalizers(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns, finalizers=["example.com/keep"])
        assert (await k.apply(cm)).status_code == 201
        r = await k.http.delete(object_path(cm))
        assert r.status_code == 200
        assert r.json()["metadata"]["deletionTimestamp"]
        live = (await k.get(cm)).json()
        assert live["metadata"]["deletionTimestamp"] and live["metadata"]["finalizers"] == ["example.com/keep"]
        r = await k.http.patch(
            object_path(cm), headers={"Content-Type": MERGE}, content=json.dumps({"metadata": {"finalizers": None}})
        )
        assert r.status_code == 200
        assert (await k.get(cm)).status_code == 404

        plain = configmap(k.ns, name="plain")
        await k.apply(plain)
        r = await k.http.delete(object_path(plain), params={"propagationPolicy": "Background"})
        assert r.status_code == 200
        assert r.json()["kind"] == "Status" and r.json()["status"] == "Success"
        assert r.json()["details"]["name"] == "plain" and r.json()["details"]["kind"] == "configmaps"
        again = await k.http.delete(object_path(plain))
        assert again.status_code == 404

    run(backend, scenario)


def test_deleting_a_namespace_deletes_its_contents(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        ns = f"{k.ns}-x"
        await k.client.create(Namespace(metadata=ObjectMeta(name=ns)))
        await k.apply(configmap(ns))
        await k.apply(deployment(ns))
        r = await k.http.delete(f"/api/v1/namespaces/{ns}")
        assert r.status_code == 200
        assert r.json()["kind"] == "Namespace" and r.json()["metadata"]["deletionTimestamp"]

        async def gone() -> bool:
            return (await k.http.get(f"/api/v1/namespaces/{ns}")).status_code == 404

        await eventually(gone)
        assert (await k.get(configmap(ns))).status_code == 404
        assert (await k.http.get(f"/apis/apps/v1/namespaces/{ns}/deployments")).json()["items"] == []

    run(backend, scenario)


# --- custom resources -------------------------------------------------------------------------------


def crd(group: str, *, scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "color": {"type": "string"},
                                        "parts": {
                                            "type": "array",
                                            "x-kubernetes-list-type": "map",
                                            "x-kubernetes-list-map-keys": ["name"],
                                            "items": {
                                                "type": "object",
                                                "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
                                                "required": ["name"],
                                            },
                                        },
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def test_a_crd_adds_its_resource_and_custom_resources_work(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        group = f"{k.ns}.example.com"
        definition = crd(group)
        created = await k.apply(definition)
        assert created.status_code == 201, created.text
        try:

            async def established() -> bool:
                conditions = ((await k.get(definition)).json().get("status") or {}).get("conditions") or []
                return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

            await eventually(established)

            async def discovered() -> bool:
                r = await k.http.get(f"/apis/{group}/v1")
                return r.status_code == 200

            await eventually(discovered)
            resources = (await k.http.get(f"/apis/{group}/v1")).json()["resources"]
            widgets = next(r for r in resources if r["name"] == "widgets")
            assert widgets["kind"] == "Widget" and widgets["namespaced"] is True
            assert any(g["name"] == group for g in (await k.http.get("/apis")).json()["groups"])

            Widget = create_namespaced_resource(group, "v1", "Widget", "widgets")
            w = {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w1", "namespace": k.ns},
                "spec": {"size": 3, "parts": [{"name": "a", "n": 1}, {"name": "b", "n": 2}]},
            }
            applied = await k.client.apply(Widget.from_dict(w))
            assert applied.metadata.generation == 1
            assert applied["spec"]["size"] == 3
            listed = (await k.http.get(f"/apis/{group}/v1/namespaces/{k.ns}/widgets")).json()
            assert listed["kind"] == "WidgetList"
            assert listed["items"][0]["kind"] == "Widget" and listed["items"][0]["apiVersion"] == f"{group}/v1"
            entry = managed(listed["items"][0], "gitferry", "Apply")
            assert entry is not None
            assert entry["fieldsV1"]["f:spec"]["f:parts"] == {
                'k:{"name":"a"}': {".": {}, "f:n": {}, "f:name": {}},
                'k:{"name":"b"}': {".": {}, "f:n": {}, "f:name": {}},
            }

            w["spec"] = {"size": 4, "parts": [{"name": "a", "n": 1}]}
            again = await k.apply(w)
            assert again.status_code == 200
            assert again.json()["spec"] == {"size": 4, "parts": [{"name": "a", "n": 1}]}
            assert again.json()["metadata"]["generation"] == 2
            smp = await k.http.patch(
                object_path(w),
                headers={"Content-Type": "application/strategic-merge-patch+json"},
                content=json.dumps({"spec": {"size": 5}}),
            )
            assert smp.status_code == 415
            assert status_of(smp)["reason"] == "UnsupportedMediaType"

            await k.client.delete(Widget, "w1", namespace=k.ns)
            assert (await k.get(w)).status_code == 404
        finally:
            await k.http.delete(object_path(definition))

    run(backend, scenario)


# --- the fake's own helpers ------------------------------------------------------------------------


def test_request_log_counts_writes(backend: tuple[Path, KubeAPI | None]) -> None:
    api = fake_only(backend)

    async def scenario(k: Kube) -> None:
        api.clear_requests()
        cm = configmap(k.ns)
        await k.apply(cm, dry_run=True)
        await k.apply(cm)
        await k.apply(cm)
        await k.get(cm)
        writes = api.writes()
        assert [(w.method, w.resource, w.name, w.field_manager) for w in writes] == [
            ("PATCH", "configmaps", "cfg", "gitferry"),
            ("PATCH", "configmaps", "cfg", "gitferry"),
        ]
        assert writes[0].content_type == APPLY and writes[0].status == 201 and writes[1].status == 200
        dry = [r for r in api.requests if r.dry_run]
        assert len(dry) == 1 and not dry[0].is_write and dry[0].query["dryRun"] == "All"
        assert [r.method for r in api.requests] == ["PATCH", "PATCH", "PATCH", "GET"]

    run(backend, scenario)


def test_failure_injection_and_an_unreachable_server(backend: tuple[Path, KubeAPI | None]) -> None:
    api = fake_only(backend)

    async def scenario(k: Kube) -> None:
        cm = configmap(k.ns)
        api.fail_next("PATCH", kind="ConfigMap", name="cfg", dry_run=False, status=500, message="etcd is down")
        assert (await k.apply(cm, dry_run=True)).status_code == 201  # dry runs do not match
        with pytest.raises(ApiError) as err:
            await k.client.apply(ConfigMap.from_dict(cm))
        assert err.value.status.code == 500
        assert err.value.status.message == "etcd is down" and err.value.status.reason == "InternalError"
        assert (await k.apply(cm)).status_code == 201  # only once

        api.fail_always("GET", kind="configmaps", status=503, message="try later")
        assert (await k.get(cm)).status_code == 503
        assert (await k.get(cm)).status_code == 503
        api.clear_failures()
        assert (await k.get(cm)).status_code == 200

        api.stop()
        with pytest.raises(httpx.ConnectError):
            await k.client.get(ConfigMap, "cfg", namespace=k.ns)
        api.start()
        got = await k.client.get(ConfigMap, "cfg", namespace=k.ns)
        assert got.data == {"a": "1"}

        api.token = "rotated"
        with pytest.raises(ApiError) as err:
            await k.client.get(ConfigMap, "cfg", namespace=k.ns)
        assert err.value.status.code == 401
        api.token = "test-token"

    run(backend, scenario)


def test_simulated_controllers_write_status(backend: tuple[Path, KubeAPI | None]) -> None:
    api = fake_only(backend)

    async def scenario(k: Kube) -> None:
        await k.apply(deployment(k.ns, replicas=3))
        status = api.get("Deployment", "web", k.ns)["status"]  # type: ignore[index]
        assert status["observedGeneration"] == 1
        assert status["readyReplicas"] == status["availableReplicas"] == status["updatedReplicas"] == 3
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        kcm = managed(api.get("Deployment", "web", k.ns), "kube-controller-manager")  # type: ignore[arg-type]
        assert kcm is not None and kcm["subresource"] == "status" and list(kcm["fieldsV1"]) == ["f:status"]

        held = deployment(k.ns, name="held", annotations={"kubeapi.test/hold": "true"})
        await k.apply(held)
        status = api.get("Deployment", "held", k.ns)["status"]  # type: ignore[index]
        assert "readyReplicas" not in status
        assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == "False"

        api.hold("Deployment", "later", k.ns)
        await k.apply(deployment(k.ns, name="later"))
        assert "readyReplicas" not in api.get("Deployment", "later", k.ns)["status"]  # type: ignore[index]
        api.release("Deployment", "later", k.ns)
        assert api.get("Deployment", "later", k.ns)["status"]["readyReplicas"] == 2  # type: ignore[index]

        await k.apply(deployment(k.ns, name="bad", annotations={"kubeapi.test/fail": "image pull failed"}))
        progressing = next(
            c
            for c in api.get("Deployment", "bad", k.ns)["status"]["conditions"]
            if c["type"] == "Progressing"  # type: ignore[index]
        )
        assert progressing["status"] == "False" and progressing["reason"] == "ProgressDeadlineExceeded"
        assert "image pull failed" in progressing["message"]

        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j", "namespace": k.ns},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b:1"}]}}},
        }
        await k.apply(job)
        types = {c["type"] for c in api.get("Job", "j", k.ns)["status"]["conditions"]}  # type: ignore[index]
        assert "Complete" in types

        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": k.ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        await k.apply(pvc)
        assert api.get("pvc", "data", k.ns)["status"]["phase"] == "Bound"  # type: ignore[index]
        grown = await k.apply({**pvc, "spec": {**pvc["spec"], "resources": {"requests": {"storage": "2Gi"}}}})
        assert grown.status_code == 200, grown.text
        shrunk = await k.apply(pvc)
        assert shrunk.status_code == 422

        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb", "namespace": k.ns},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]},
        }
        await k.apply(svc)
        assert api.get("Service", "lb", k.ns)["status"]["loadBalancer"]["ingress"] == [  # type: ignore[index]
            {"ip": "127.0.0.1", "ipMode": "VIP"}
        ]
        api.set_status("Deployment", "held", k.ns, {"phase": "Ready"}, merge=True)
        assert api.get("Deployment", "held", k.ns)["status"]["phase"] == "Ready"  # type: ignore[index]

    run(backend, scenario)


def test_controller_delay_and_crd_established_delay(backend: tuple[Path, KubeAPI | None]) -> None:
    api = fake_only(backend)

    async def scenario(k: Kube) -> None:
        api.controller_delay = 0.3
        await k.apply(deployment(k.ns))
        assert "status" not in api.get("Deployment", "web", k.ns)  # type: ignore[operator]

        async def ready() -> bool:
            return "readyReplicas" in (api.get("Deployment", "web", k.ns) or {}).get("status", {})

        await eventually(ready, timeout=5)

        api.crd_established_delay = 0.3
        definition = crd("late.example.com")
        await k.apply(definition)
        conditions = {
            c["type"]: c["status"] for c in api.get("crd", definition["metadata"]["name"])["status"]["conditions"]
        }  # type: ignore[index]
        assert conditions["Established"] == "False"
        assert (await k.http.get("/apis/late.example.com/v1")).status_code == 404

        async def served() -> bool:
            return (await k.http.get("/apis/late.example.com/v1")).status_code == 200

        await eventually(served, timeout=5)

    run(backend, scenario)


def test_direct_helpers_create_edit_and_read_the_store(backend: tuple[Path, KubeAPI | None]) -> None:
    api = fake_only(backend)

    async def scenario(k: Kube) -> None:
        api.create(configmap(k.ns, name="seeded"), field_manager="kubectl-create")
        assert api.get("ConfigMap", "seeded", k.ns)["data"] == {"a": "1"}  # type: ignore[index]
        api.apply(configmap(k.ns, name="seeded", data={"a": "1"}), field_manager="helm")
        r = await k.apply(configmap(k.ns, name="seeded", data={"a": "9"}))
        assert r.status_code == 409
        managers = {c["message"] for c in r.json()["details"]["causes"]}
        assert managers == {'conflict with "helm"', 'conflict with "kubectl-create" using v1'}
        api.edit("ConfigMap", "seeded", k.ns, {"data": {"b": "2"}})
        assert api.get("cm", "seeded", k.ns)["data"] == {"a": "1", "b": "2"}  # type: ignore[index]
        assert [o["metadata"]["name"] for o in api.list("ConfigMap", k.ns)] == ["kube-root-ca.crt", "seeded"]
        api.delete("ConfigMap", "seeded", k.ns)
        assert api.get("ConfigMap", "seeded", k.ns) is None
        # the direct helpers are not client requests: only the test's own apply was logged
        assert [(r.method, r.field_manager) for r in api.requests if r.name == "seeded"] == [("PATCH", "gitferry")]

    run(backend, scenario)


def test_kubeconfig_works_with_lightkube_over_plain_http(backend: tuple[Path, KubeAPI | None], tmp_path: Path) -> None:
    api = fake_only(backend)
    path = api.write_kubeconfig(tmp_path / "other" / "config", namespace="kube-system")
    config = KubeConfig.from_file(path).get()
    assert config.cluster.server == api.url and config.namespace == "kube-system"

    async def main() -> None:
        client = AsyncClient(config=KubeConfig.from_file(path))
        try:
            names = [ns.metadata.name async for ns in client.list(Namespace)]
            assert {"default", "kube-system"} <= set(names)
            assert [cm.metadata.name async for cm in client.list(ConfigMap)] == ["kube-root-ca.crt"]
            d = await client.create(Deployment.from_dict(deployment("default")))
            assert d.metadata.generation == 1
        finally:
            await client.close()

    asyncio.run(main())


# --- more of the API --------------------------------------------------------------------------------


def test_strategic_merge_and_json_patches(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        d = deployment(k.ns)
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
        await k.apply(d)
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}
        }
        r = await k.http.patch(
            object_path(d),
            params={"fieldManager": "kubectl-patch"},
            headers={"Content-Type": "application/strategic-merge-patch+json"},
            content=json.dumps(patch),
        )
        assert r.status_code == 200, r.text
        container = r.json()["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "nginx:1.27"
        assert {e["name"] for e in container["env"]} == {"A", "B"}

        cm = configmap(k.ns, finalizers=["example.com/x"])
        await k.apply(cm)
        ops = [{"op": "test", "path": "/data/a", "value": "1"}, {"op": "remove", "path": "/metadata/finalizers"}]
        r = await k.http.patch(
            object_path(cm), headers={"Content-Type": "application/json-patch+json"}, content=json.dumps(ops)
        )
        assert r.status_code == 200 and "finalizers" not in r.json()["metadata"]
        forced = await k.http.patch(
            object_path(cm), params={"force": "true"}, headers={"Content-Type": MERGE}, content="{}"
        )
        assert forced.status_code == 422
        missing = await k.http.put(object_path(configmap(k.ns, name="nope")), json=configmap(k.ns, name="nope"))
        assert missing.status_code == 404

    run(backend, scenario)


def test_list_in_chunks_and_delete_a_collection(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        for i in range(5):
            await k.apply(configmap(k.ns, name=f"c{i}", labels={"batch": "yes" if i % 2 else "no"}))
        first = (await k.http.get(f"/api/v1/namespaces/{k.ns}/configmaps", params={"limit": "2"})).json()
        assert len(first["items"]) == 2 and first["metadata"]["continue"]
        names = [cm.metadata.name async for cm in k.client.list(ConfigMap, namespace=k.ns, chunk_size=2)]
        assert [n for n in names if n != "kube-root-ca.crt"] == ["c0", "c1", "c2", "c3", "c4"]
        r = await k.http.delete(f"/api/v1/namespaces/{k.ns}/configmaps", params={"labelSelector": "batch=yes"})
        assert r.status_code == 200
        left = [cm.metadata.name async for cm in k.client.list(ConfigMap, namespace=k.ns, labels={"batch": "no"})]
        assert left == ["c0", "c2", "c4"]
        assert [
            cm.metadata.name async for cm in k.client.list(ConfigMap, namespace=k.ns, labels={"batch": "yes"})
        ] == []

    run(backend, scenario)


def test_garbage_collection_follows_owner_references(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        owner = (await k.apply(configmap(k.ns, name="owner"))).json()
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
        await k.apply(configmap(k.ns, name="child", ownerReferences=[ref]))
        await k.apply(configmap(k.ns, name="orphan", ownerReferences=[ref]))
        owner2 = (await k.apply(configmap(k.ns, name="owner2"))).json()
        ref2 = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": owner2["metadata"]["uid"]}
        await k.apply(configmap(k.ns, name="kept", ownerReferences=[ref2]))

        await k.http.delete(object_path(configmap(k.ns, name="owner")))

        async def collected() -> bool:
            return (await k.get(configmap(k.ns, name="child"))).status_code == 404

        await eventually(collected)
        r = await k.http.delete(object_path(configmap(k.ns, name="owner2")), params={"propagationPolicy": "Orphan"})
        assert r.status_code == 200

        async def orphaned() -> bool:
            got = await k.get(configmap(k.ns, name="kept"))
            return got.status_code == 200 and not got.json()["metadata"].get("ownerReferences")

        await eventually(orphaned)

    run(backend, scenario)


def test_a_terminating_namespace_refuses_new_content(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        ns = f"{k.ns}-t"
        await k.client.create(Namespace(metadata=ObjectMeta(name=ns)))
        held = configmap(ns, name="held", finalizers=["example.com/hold"])
        await k.apply(held)
        await k.http.delete(f"/api/v1/namespaces/{ns}")

        async def terminating() -> bool:
            got = await k.http.get(f"/api/v1/namespaces/{ns}")
            return got.json().get("status", {}).get("phase") == "Terminating"

        await eventually(terminating)
        r = await k.apply(configmap(ns, name="late"))
        assert r.status_code == 403
        body = status_of(r)
        assert body["reason"] == "Forbidden"
        assert "because it is being terminated" in body["message"]

        async def held_deleted() -> bool:
            return bool((await k.get(held)).json()["metadata"].get("deletionTimestamp"))

        await eventually(held_deleted)
        await k.http.patch(
            object_path(held), headers={"Content-Type": MERGE}, content='{"metadata":{"finalizers":null}}'
        )

        async def gone() -> bool:
            return (await k.http.get(f"/api/v1/namespaces/{ns}")).status_code == 404

        await eventually(gone)

    run(backend, scenario)


def test_secret_string_data_is_stored_as_data(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": k.ns},
            "stringData": {"password": "hunter2"},
        }
        r = await k.apply(secret)
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"password": "aHVudGVyMg=="}
        assert "stringData" not in r.json() and r.json()["type"] == "Opaque"
        again = await k.apply(secret)
        assert again.json()["metadata"]["resourceVersion"] == r.json()["metadata"]["resourceVersion"]

    run(backend, scenario)


def test_apply_to_the_status_subresource(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        group = f"{k.ns}.example.com"
        definition = crd(group)
        await k.apply(definition)
        try:

            async def served() -> bool:
                return (await k.http.get(f"/apis/{group}/v1")).status_code == 200

            await eventually(served)
            w = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": k.ns}}
            created = await k.apply({**w, "spec": {"size": 1}, "status": {"phase": "ignored"}})
            assert created.status_code == 201 and "status" not in created.json()
            r = await k.http.patch(
                object_path(w) + "/status",
                params={"fieldManager": "widget-controller"},
                headers={"Content-Type": APPLY},
                content=json.dumps({**w, "status": {"phase": "Ready"}}),
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == {"phase": "Ready"} and r.json()["spec"] == {"size": 1}
            entry = managed(r.json(), "widget-controller", "Apply")
            assert entry is not None and entry["subresource"] == "status"
            assert entry["fieldsV1"] == {"f:status": {"f:phase": {}}}
            assert r.json()["metadata"]["generation"] == 1
        finally:
            await k.http.delete(object_path(definition))

    run(backend, scenario)


def test_custom_resources_are_pruned_defaulted_and_validated(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        group = f"{k.ns}.example.com"
        definition = crd(group)
        props = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        props["color"]["default"] = "blue"
        await k.apply(definition)
        try:

            async def served() -> bool:
                return (await k.http.get(f"/apis/{group}/v1")).status_code == 200

            await eventually(served)
            w = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": k.ns}}
            r = await k.apply({**w, "spec": {"size": 1, "bogus": True}})
            assert r.status_code == 201, r.text
            assert r.json()["spec"] == {"size": 1, "color": "blue"}
            entry = managed(r.json(), "gitferry", "Apply")
            assert entry is not None and entry["fieldsV1"] == {"f:spec": {"f:size": {}}}

            r = await k.apply({**w, "spec": {"size": "big"}})
            assert r.status_code == 422
            body = status_of(r)
            assert body["details"]["causes"][0]["field"] == "spec.size"
            assert "must be of type integer" in body["message"]

            strict = await k.http.post(
                f"/apis/{group}/v1/namespaces/{k.ns}/widgets",
                params={"fieldValidation": "Strict"},
                json={**w, "metadata": {"name": "w2"}, "spec": {"size": 1, "bogus": True}},
            )
            assert strict.status_code == 400
            assert 'unknown field "spec.bogus"' in status_of(strict)["message"]
        finally:
            await k.http.delete(object_path(definition))

    run(backend, scenario)


def test_watch_streams_changes_and_lightkube_wait_uses_it(backend: tuple[Path, KubeAPI | None]) -> None:
    async def scenario(k: Kube) -> None:
        await k.apply(configmap(k.ns, name="before"))
        seen: list[tuple[str, str, str]] = []

        async def watch() -> None:
            async for op, obj in k.client.watch(ConfigMap, namespace=k.ns, labels={"watched": "yes"}):
                seen.append((op, obj.metadata.name, (obj.data or {}).get("a", "")))
                if op == "DELETED":
                    return

        task = asyncio.create_task(watch())
        await asyncio.sleep(0.5)
        await k.apply(configmap(k.ns, name="w", labels={"watched": "yes"}))
        await k.apply(configmap(k.ns, name="w", labels={"watched": "yes"}, data={"a": "2"}))
        await k.apply(configmap(k.ns, name="other", data={"a": "3"}))
        await k.http.delete(object_path(configmap(k.ns, name="w")))
        await asyncio.wait_for(task, 30)
        assert seen == [("ADDED", "w", "1"), ("MODIFIED", "w", "2"), ("DELETED", "w", "2")]

        rv = (await k.http.get(f"/api/v1/namespaces/{k.ns}/configmaps")).json()["metadata"]["resourceVersion"]
        await k.apply(configmap(k.ns, name="after"))
        async with k.http.stream(
            "GET",
            f"/api/v1/namespaces/{k.ns}/configmaps",
            params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        ) as stream:
            assert stream.status_code == 200
            lines = [json.loads(line) async for line in stream.aiter_lines() if line]
        assert [(ev["type"], ev["object"]["metadata"]["name"]) for ev in lines] == [("ADDED", "after")]
        assert lines[0]["object"]["kind"] == "ConfigMap"  # watch events carry their kind

        group = f"{k.ns}.example.com"
        definition = crd(group)
        await k.apply(definition)
        try:
            got = await asyncio.wait_for(
                k.client.wait(CustomResourceDefinition, definition["metadata"]["name"], for_conditions=["Established"]),
                60,
            )
            assert got.metadata.name == definition["metadata"]["name"]
        finally:
            await k.http.delete(object_path(definition))

    run(backend, scenario)

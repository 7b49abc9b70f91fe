"""The HTTP API and the pages' server side: tokens, roles, what each endpoint answers, bad input.

The application runs over the real reactor, store, git and kustomize (the in-memory target stands
in for podman, as in test_controllers.py); requests go through httpx's ASGI transport. The browser
tests in test_web_ui.py drive the same application through a real ``gitferry up`` and Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitferry.api.keys import ObjectKey, precise_timestamp
from gitferry.api.tokens import Role
from gitferry.clock import SystemClock
from gitferry.reactor.loop import Reactor
from gitferry.server import queries
from gitferry.server.app import create_app
from gitferry.server.serving import HttpServer
from gitferry.store import tokens as token_store
from gitferry.store.runs import PipelineRuns
from gitferry.store.tokens import Tokens
from tests.test_controllers import APPS, ROOT_SOURCE, Cluster
from tests.test_receivers import Served

SECRET_VALUE = "hunter2-very-secret"
SECRET_YAML = f"""
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
stringData:
  password: {SECRET_VALUE}
"""
NEVER_SHOWN = (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode())


class Api:
    """The application with an admin and a viewer token, and requests made as either."""

    def __init__(self, served: Served) -> None:
        self.served, self.client = served, served.client
        tokens = Tokens(served.cluster.store)
        self.admin, self.viewer = tokens.create("alice", Role.ADMIN), tokens.create("bob", Role.VIEWER)

    async def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=_bearer(token or self.viewer), **kwargs)

    async def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=_bearer(token or self.admin), **kwargs)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cluster_with_secret(tmp_path: Path) -> Cluster:
    cluster = Cluster(tmp_path)
    cluster.write({"apps/secret.yaml": SECRET_YAML})
    cluster.commit("the app's database password")
    cluster.run()
    # and one made by 'gitferry create secret', stored beside the objects
    cluster.store.put_object(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cli", "namespace": "flux-system"},
         "data": {"token": base64.b64encode(SECRET_VALUE.encode()).decode()}},
        owner="cli",
    )  # fmt: skip
    return cluster


def ready(tmp_path: Path) -> Cluster:
    """The GitOps repository applied: two Kustomizations, a Deployment and a ConfigMap."""
    cluster = Cluster(tmp_path)
    cluster.run()
    return cluster


def run(cluster: Cluster, scenario: Callable[[Api], Awaitable[None]]) -> None:
    """``scenario`` against the application served by uvicorn on loopback, as ``gitferry up`` serves it
    (streams need a real server: an in-process transport buffers a response until it ends)."""

    async def go() -> None:
        cluster.world.clock = SystemClock()
        reactor = Reactor(cluster.world)
        stop = asyncio.Event()
        loop = asyncio.ensure_future(reactor.run(stop))
        server = HttpServer(create_app(reactor), 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.address, timeout=30) as client:
                await scenario(Api(Served(cluster, reactor, client)))
                # what the last request started finishes before the loop ends
                await asyncio.wait_for(Served(cluster, reactor, client).settle(), 30)
        finally:
            await server.stop()
            stop.set()
            await loop

    asyncio.run(go())


def test_no_token_no_access_but_health(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.get("/healthz")).json() == {"status": "ok"}
        for path in ("/api/v1/objects", "/api/v1/kinds", "/api/v1/events", "/api/v1/pipelineruns", "/api/v1/stream"):
            refused = await api.client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "gitferry token create" in refused.json()["error"]
            wrong = await api.get(path, token="gf_not-a-token")
            assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
        assert (await api.get("/api/v1/whoami")).json() == {"name": "bob", "role": "viewer", "canAct": False}
        page = await api.client.get("/ui/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/ui/login?next=/ui/"

    run(ready(tmp_path), scenario)


def test_tokens_are_stored_hashed_and_every_digest_is_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(tmp_path)
    tokens = Tokens(cluster.store)
    values = [tokens.create(f"user-{i}", Role.VIEWER) for i in range(3)]
    database = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("state.db*"))
    assert not any(v.encode() in database for v in values)
    compared: list[str] = []
    real = token_store.hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(token_store.hmac, "compare_digest", counting)
    for presented in (values[0], values[2], "gf_wrong", ""):
        compared.clear()
        tokens.verify(presented)
        assert len(compared) == 3, "a wrong token must cost what a right one does: every digest compared"
    assert tokens.verify(values[1]) is not None and tokens.verify("gf_wrong") is None


def test_token_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitferry", "--data-dir", str(tmp_path), "token", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = cli("create", "--role", "admin", "--name", "ci-bot")
    assert made.returncode == 0, made.stderr
    value = made.stdout.strip()
    assert value.startswith("gf_") and len(value) > 40 and "\n" not in value
    assert "token 'ci-bot' (admin) created" in made.stderr
    again = cli("create", "--name", "ci-bot")
    assert again.returncode == 1 and "exists" in again.stderr
    bad = cli("create", "--name", "Bad Name")
    assert bad.returncode == 1 and "--name" in bad.stderr
    listed = cli("list").stdout
    assert "ci-bot" in listed and "admin" in listed and value not in listed
    assert cli("revoke", "ci-bot").returncode == 0
    from gitferry.store.sqlite import Store

    assert Tokens(Store(tmp_path / "state.db")).verify(value) is None
    assert cli("revoke", "ci-bot").returncode == 1


def test_lists_and_details_of_every_kind(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        kinds = {k["kind"]: k for k in (await api.get("/api/v1/kinds")).json()}
        assert kinds["Kustomization"]["total"] == 2 and kinds["Kustomization"]["states"] == {"ready": 2}
        listed = (await api.get("/api/v1/objects", params={"kind": "kustomization"})).json()
        assert [o["name"] for o in listed] == ["apps", "flux-system"]
        apps = next(o for o in listed if o["name"] == "apps")
        assert apps["state"] == "ready" and apps["sync"] == "synced"
        assert apps["detail"]["label"] == "REVISION" and apps["detail"]["value"].startswith("main@sha1:")
        one = (await api.get("/api/v1/objects/Kustomization/flux-system/apps")).json()
        assert one["manifest"]["spec"]["path"] == "./apps" and one["status"]["lastAppliedRevision"]
        inventory = (await api.get("/api/v1/objects/Kustomization/flux-system/apps/inventory")).json()
        assert {(n["kind"], n["name"], n["health"]) for n in inventory} >= {
            ("Deployment", "web", "Current"),
            ("ConfigMap", "web-config", "Current"),
        }
        root = (await api.get("/api/v1/objects/Kustomization/flux-system/flux-system/inventory")).json()
        nested = next(n for n in root if n["kind"] == "Kustomization")
        assert nested["health"] == "ready" and {c["name"] for c in nested["children"]} >= {"web"}
        assert (await api.get("/api/v1/objects/Kustomization/flux-system/apps/diff")).json() == {
            "inSync": True,
            "diff": "",
        }
        events = (await api.get("/api/v1/objects/Kustomization/flux-system/apps/events")).json()
        assert any("Deployment/dev/web created" in e["message"] for e in events)
        failing = (await api.get("/api/v1/objects", params={"state": "failed"})).json()
        assert failing == []

    run(ready(tmp_path), scenario)


def test_apply_history_names_each_revisions_commit(tmp_path: Path) -> None:
    cluster = ready(tmp_path)
    cluster.write({"apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {a: b}\n"})
    cluster.commit("Say b instead of hello")
    cluster.run()

    async def scenario(api: Api) -> None:
        history = (await api.get("/api/v1/objects/Kustomization/flux-system/apps/history")).json()
        newest = history[0]
        assert newest["result"] == "Succeeded" and newest["changed"] == ["ConfigMap/dev/web-config configured"]
        commit = newest["commit"]
        assert commit["subject"] == "Say b instead of hello" and commit["author"] == "Test <test@example.com>"
        assert newest["revision"].endswith(commit["sha"]) and commit["source"]["name"] == "flux-system"
        api.client.cookies.set("gitferry_session", api.viewer)
        page = await api.client.get("/ui/objects/Kustomization/flux-system/apps")
        link = f"/ui/commits/flux-system/flux-system/{commit['sha']}"
        assert link in page.text and "Say b instead of hello" in page.text
        shown = await api.client.get(link)
        assert shown.status_code == 200 and "Say b instead of hello" in shown.text and "apps/config.yaml" in shown.text
        bad = await api.client.get("/ui/commits/flux-system/flux-system/not-a-sha")
        assert "is not a commit id" in bad.text and "Traceback" not in bad.text

    run(cluster, scenario)


def test_admins_act_viewers_are_refused_and_every_action_names_who(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        store = api.served.cluster.store
        path = "/api/v1/objects/Kustomization/flux-system/apps"
        refused = await api.post(f"{path}/suspend", token=api.viewer)
        assert refused.status_code == 403 and "may only read" in refused.json()["error"]
        assert not store.get_object(APPS).suspended  # type: ignore[union-attr]
        done = await api.post(f"{path}/suspend", json={"reason": "maintenance window"})
        assert done.status_code == 202 and "suspended by token 'alice' (admin)" in done.json()["message"]
        assert store.get_object(APPS).suspended  # type: ignore[union-attr]
        assert (await api.get(path)).json()["state"] == "suspended"
        before = api.served.reactor.reconciles
        resumed = await api.post(f"{path}/resume")
        assert resumed.status_code == 202 and not store.get_object(APPS).suspended  # type: ignore[union-attr]
        await asyncio.sleep(0.05)
        assert await api.served.settle() > before, "resume reconciles at once"
        before = api.served.reactor.reconciles
        assert (await api.post(f"{path}/reconcile", json={"withSource": True})).status_code == 202
        await asyncio.sleep(0.05)
        assert await api.served.settle() >= before + 2, "the source, then the Kustomization"
        audit = [(e.reason, e.message) for e in store.events(APPS) if "via the HTTP API" in e.message]
        assert audit == [
            ("Suspended", "suspended by token 'alice' (admin) via the HTTP API: maintenance window"),
            ("Resumed", "resumed and reconcile requested by token 'alice' (admin) via the HTTP API"),
            (
                "ReconcileRequested",
                "reconcile requested (with its source GitRepository/flux-system/flux-system) by token 'alice'"
                " (admin) via the HTTP API",
            ),
        ]
        assert not any("bob" in e.message for e in store.events(None, 1000))

    run(ready(tmp_path), scenario)


def test_a_form_posted_from_another_site_is_refused(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        api.client.cookies.set("gitferry_session", api.admin)
        url = "/ui/objects/Kustomization/flux-system/apps/suspend"
        forged = await api.client.post(url, headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403 and "another site" in forged.text
        assert not api.served.cluster.store.get_object(APPS).suspended  # type: ignore[union-attr]
        same = await api.client.post(
            url, headers={"Origin": str(api.client.base_url).rstrip("/"), "HX-Request": "true"}
        )
        assert same.status_code == 200 and "suspended by token 'alice'" in same.text

    run(ready(tmp_path), scenario)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/api/v1/objects/Kustomization/flux-system/nope", None, 404, "flux-system/nope not found"),
        ("GET", "/api/v1/objects/Widget/flux-system/apps", None, 404, "unknown kind 'Widget'"),
        ("GET", "/api/v1/objects/GitRepository/flux-system/flux-system/diff", None, 404, "only Kustomizations"),
        ("GET", "/api/v1/pipelineruns/nope", None, 404, "PipelineRun nope not found"),
        ("GET", "/api/v1/pipelineruns/nope/logs/stream", None, 404, "PipelineRun nope not found"),
        ("POST", "/api/v1/pipelineruns/nope/cancel", None, 404, "PipelineRun nope not found"),
        ("GET", "/api/v2/things", None, 404, "no such page or endpoint: /api/v2/things"),
        ("POST", "/api/v1/objects/Kustomization/flux-system/apps/reconcile", b"{not json", 422, "JSON decode error"),
        ("POST", "/api/v1/objects/Kustomization/flux-system/apps/reconcile", b'{"withSource": "perhaps"}', 422,
         "body.withSource: Input should be a valid boolean"),
        ("POST", "/api/v1/objects/Kustomization/flux-system/apps/suspend", b'{"surprise": 1}', 422,
         "body.surprise: Extra inputs are not permitted"),
        ("GET", "/api/v1/events?limit=0", None, 422, "query.limit: Input should be greater than or equal to 1"),
        ("DELETE", "/api/v1/objects/Kustomization/flux-system/apps", None, 405, "Method Not Allowed"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_json_sentence_and_no_trace(
    tmp_path: Path, method: str, path: str, body: bytes | None, status: int, words: str
) -> None:
    async def scenario(api: Api) -> None:
        headers = {**_bearer(api.admin), "Content-Type": "application/json"}
        answer = await api.client.request(method, path, content=body, headers=headers)
        assert answer.status_code == status
        assert words in answer.json()["error"], answer.text
        assert "Traceback" not in answer.text

    run(ready(tmp_path), scenario)


def test_an_internal_error_is_a_sentence_not_a_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("boom at line 42")

    monkeypatch.setattr(queries, "kinds", broken)

    async def scenario(api: Api) -> None:
        answer = await api.get("/api/v1/kinds")
        assert answer.status_code == 500
        assert answer.json() == {"error": "internal error in gitferry; the log of 'gitferry up' has the details"}

    run(ready(tmp_path), scenario)


def test_secrets_values_appear_in_no_response(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        api.client.cookies.set("gitferry_session", api.admin)
        cli_secret = (await api.get("/api/v1/objects/Secret/flux-system/cli")).json()
        assert cli_secret["manifest"]["data"] == {"token": "*** (masked)"}
        assert (cli_secret["state"], cli_secret["message"]) == ("stored", "")  # kept, not reconciled
        overview = (await api.client.get("/ui/")).text
        assert 'data-object="Secret/' not in overview  # the overview shows what gitferry reconciles
        ks = "/objects/Kustomization/flux-system/apps"
        paths = [
            "/api/v1/objects", "/api/v1/objects/Secret/flux-system/cli", "/api/v1/events?limit=1000",
            f"/api/v1{ks}", f"/api/v1{ks}/inventory", f"/api/v1{ks}/diff", f"/api/v1{ks}/events",
            f"/api/v1{ks}/history", "/ui/", f"/ui{ks}", f"/ui/fragments{ks}/inventory", f"/ui/fragments{ks}/diff",
            "/ui/objects/Secret/flux-system/cli", "/ui/timeline",
        ]  # fmt: skip
        for path in paths:
            answer = await api.client.get(path)
            assert answer.status_code == 200, path
            assert not any(secret in answer.text for secret in NEVER_SHOWN), path
        # Drift in a Secret shows which key differs, never a value.
        key = ObjectKey("Secret", "dev", "db")
        target = api.served.cluster.target
        live = json.loads(target.applied[key])
        live["stringData"] = {"password": "changed-by-hand"}
        target.applied[key] = json.dumps(live)
        diff = (await api.get(f"/api/v1{ks}/diff")).json()["diff"]
        assert "password: '*** (masked) (git)'" in diff and "changed-by-hand" not in diff

    run(cluster_with_secret(tmp_path), scenario)


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    event, data = "", []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and event:
            yield event, "\n".join(data)
            event, data = "", []


def test_a_runs_log_streams_as_it_is_written_then_ends(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        runs = PipelineRuns(api.served.cluster.store)
        runs.create("build-1", "ci", "build", {"kind": "PipelineRun"}, repository="ci/app", revision="abc")
        runs.update_run("build-1", "Running", started=precise_timestamp())
        runs.add_log("build-1", "compile", "make", ["one"])

        async def write_more() -> None:
            await asyncio.sleep(0.3)
            runs.add_log("build-1", "compile", "make", ["two", "three"])
            await asyncio.sleep(0.3)
            runs.update_run("build-1", "Succeeded", finished=precise_timestamp())

        writer = asyncio.ensure_future(write_more())
        seen: list[str] = []
        async with api.client.stream(
            "GET", "/api/v1/pipelineruns/build-1/logs/stream", headers=_bearer(api.viewer)
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            async for event, data in _events(r):
                if event == "lines":
                    seen += [line["line"] for line in json.loads(data)]
                elif event == "end":
                    assert json.loads(data)["status"] == "Succeeded"
                    break
        await writer
        assert seen == ["one", "two", "three"]
        detail = (await api.get("/api/v1/pipelineruns/build-1")).json()
        assert detail["status"] == "Succeeded" and detail["repository"] == "ci/app"
        later = (await api.get("/api/v1/pipelineruns/build-1/logs", params={"after": 1})).json()
        assert [line["line"] for line in later] == ["two", "three"]
        finished = await api.post("/api/v1/pipelineruns/build-1/cancel")
        assert finished.status_code == 409 and "only a pending or running run" in finished.json()["error"]

    run(ready(tmp_path), scenario)


def test_the_change_stream_says_when_anything_was_written(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        async with api.client.stream("GET", "/api/v1/stream", headers=_bearer(api.viewer)) as r:
            stream = _events(r)
            assert (await anext(stream))[0] == "hello"
            api.served.cluster.store.add_event(ROOT_SOURCE, "Normal", "Test", "something happened")
            event, data = await asyncio.wait_for(anext(stream), 5)
            assert event == "change" and json.loads(data)["mark"]
            await stream.aclose()

    run(ready(tmp_path), scenario)


def test_openapi_documents_the_api(tmp_path: Path) -> None:
    reactor = Reactor(Cluster(tmp_path).world, idle_start=True)
    spec = create_app(reactor).openapi()
    paths = spec["paths"]
    for path in (
        "/healthz",
        "/api/v1/objects",
        "/api/v1/objects/{kind}/{namespace}/{name}/diff",
        "/api/v1/objects/{kind}/{namespace}/{name}/reconcile",
        "/api/v1/pipelineruns/{name}/logs/stream",
    ):
        assert path in paths, path
    assert not any(p.startswith("/ui") for p in paths), "pages are not API"
    assert "ActionRequest" in spec["components"]["schemas"]


def test_login_sets_a_strict_cookie_and_only_ever_returns_to_this_server(tmp_path: Path) -> None:
    async def scenario(api: Api) -> None:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        wrong = await api.client.post("/ui/login", content=b"token=gf_nope&next=/ui/runs", headers=form)
        assert wrong.status_code == 401 and "That token is not valid." in wrong.text
        assert "set-cookie" not in wrong.headers
        for target, landing in (("/ui/runs", "/ui/runs"), ("//evil.example/x", "/ui/"),
                                ("https://evil.example", "/ui/"), ("/\\evil.example", "/ui/")):  # fmt: skip
            body = f"token={api.viewer}&next={target}".encode()
            signed_in = await api.client.post("/ui/login", content=body, headers=form)
            assert signed_in.status_code == 303 and signed_in.headers["location"] == landing, target
            cookie = signed_in.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        out = await api.client.post("/ui/logout")
        assert out.status_code == 303 and 'gitferry_session=""' in out.headers["set-cookie"]

    run(ready(tmp_path), scenario)


def test_concurrent_requests_share_the_store_safely(tmp_path: Path) -> None:
    """Authentication runs on the event loop with everything else that uses the store: run in a
    thread pool, concurrent first uses of tokens (each records 'last used') broke each other's
    transactions and answered 500."""

    async def scenario(api: Api) -> None:
        tokens = [Tokens(api.served.cluster.store).create(f"reader-{i}", Role.VIEWER) for i in range(20)]
        paths = ["/api/v1/objects", "/api/v1/whoami", "/api/v1/events", "/ui/fragments/overview"]
        answers = await asyncio.gather(
            *(api.get(paths[i % len(paths)], token=tokens[i % len(tokens)]) for i in range(80))
        )
        assert [a.status_code for a in answers] == [200] * 80
        used = {t.name: t.last_used for t in Tokens(api.served.cluster.store).list()}
        assert all(used[f"reader-{i}"] for i in range(20))

    run(ready(tmp_path), scenario)


def test_a_suspend_from_the_cli_leaves_the_same_trail(tmp_path: Path) -> None:
    import getpass

    cluster = ready(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "gitferry", "--data-dir", str(tmp_path / "data"), "suspend", "kustomization", "apps"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [event] = [e for e in cluster.store.events(APPS) if e.reason == "Suspended"]
    assert event.message == f"suspended by {getpass.getuser()} with the CLI"


def test_the_overview_of_a_large_fleet_lists_what_is_unwell_and_links_to_the_rest(tmp_path: Path) -> None:
    from gitferry.controllers import statuses

    cluster = ready(tmp_path)
    store = cluster.store
    for i in range(150):
        name = f"team-{i:03d}"
        store.put_object(
            {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
             "metadata": {"name": name, "namespace": "fleet"},
             "spec": {"interval": "1h", "path": f"./{name}", "sourceRef": {"kind": "GitRepository", "name": "x"}}},
            owner="bootstrap",
        )  # fmt: skip
        failing = i % 50 == 7
        store.put_status(
            ObjectKey("Kustomization", "fleet", name),
            statuses.mark({}, ready=not failing, reason="Test", message=f"{name} says hi", generation=1),
        )
    token = Tokens(store).create("viewer", Role.VIEWER)

    async def scenario() -> None:
        # An idle reactor: the fleet's made-up statuses stay as written.
        app = create_app(Reactor(cluster.world, idle_start=True))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gitferry", cookies={"gitferry_session": token}
        ) as client:
            overview = (await client.get("/ui/")).text
            rows = overview.count('data-object="Kustomization/')
            assert rows == 100 + 3, "100 rows in the table, and the 3 failing ones again in the failing list"
            for i in (7, 57, 107):
                assert overview.count(f'data-object="Kustomization/fleet/team-{i:03d}"') == 2
            assert "52 more, all ready: show all 152 Kustomizations" in overview
            everything = (await client.get("/ui/kinds/kustomization")).text
            assert everything.count('data-object="Kustomization/') == 152
            assert (await client.get("/ui/kinds/Widget")).status_code == 404

    asyncio.run(scenario())

"""Flux ``Receiver`` webhooks: each sender's check, the path, and what a request triggers.

The checks are table tests of ``webhooks.check``. The HTTP tests drive the real FastAPI application
over the real reactor, store and git (the in-memory target stands in for podman, which these tests
do not need); the last test runs the real ``gitferry up``, installs the post-receive hook in a bare
repository and pushes to it with git.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitferry.api.meta import ObjectKey
from gitferry.api.receivers import parse_receiver, webhook_path
from gitferry.clock import SystemClock
from gitferry.errors import InvalidObjectError
from gitferry.reactor.loop import Reactor
from gitferry.server import webhooks
from gitferry.server.app import create_app
from tests.conftest import git
from tests.gitops import wait_for
from tests.test_controllers import ROOT_SOURCE, Cluster

TOKEN = "s3cret-token"
RECEIVER = ObjectKey("Receiver", "flux-system", "push")


def receiver_yaml(kind: str = "generic", events: str = "", extra_resources: str = "") -> str:
    return f"""\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: push
  namespace: flux-system
spec:
  type: {kind}
  {events}
  secretRef:
    name: webhook-token
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: flux-system{extra_resources}
"""


def receiver(kind: str = "generic", events: list[str] | None = None) -> Any:
    obj: dict[str, Any] = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "push", "namespace": "flux-system"},
        "spec": {"type": kind, "secretRef": {"name": "t"}, "resources": [{"kind": "GitRepository", "name": "x"}]},
    }
    if events is not None:
        obj["spec"]["events"] = events
    return parse_receiver(obj, "receiver.yaml")


def sign(body: bytes, algorithm: str = "sha256", token: str = TOKEN) -> str:
    return f"{algorithm}=" + hmac.new(token.encode(), body, getattr(hashlib, algorithm)).hexdigest()


BODY = b'{"ref": "refs/heads/main"}'

CHECKS: list[tuple[str, str, list[str] | None, dict[str, str], int, bool]] = [
    # (case, type, events, headers, status, triggers)
    ("generic needs nothing but the path", "generic", None, {}, 200, True),
    ("generic-hmac sha256", "generic-hmac", None, {"X-Signature": sign(BODY)}, 200, True),
    ("generic-hmac sha1", "generic-hmac", None, {"X-Signature": sign(BODY, "sha1")}, 200, True),
    ("generic-hmac wrong token", "generic-hmac", None, {"X-Signature": sign(BODY, token="other")}, 401, False),
    ("generic-hmac no header", "generic-hmac", None, {}, 401, False),
    ("generic-hmac unknown algorithm", "generic-hmac", None, {"X-Signature": "md5=abc"}, 401, False),
    ("github sha256", "github", None, {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "push"}, 200, True),
    (
        "github header case",
        "github",
        None,
        {"x-hub-signature-256": sign(BODY).upper().replace("SHA256", "sha256")},
        200,
        True,
    ),
    ("github legacy sha1", "github", None, {"X-Hub-Signature": sign(BODY, "sha1")}, 200, True),
    ("github bad signature", "github", None, {"X-Hub-Signature-256": sign(b"other body")}, 401, False),
    ("github unsigned", "github", None, {"X-GitHub-Event": "push"}, 401, False),
    (
        "github event listed",
        "github",
        ["push"],
        {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "push"},
        200,
        True,
    ),
    (
        "github event not listed",
        "github",
        ["push"],
        {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "issues"},
        200,
        False,
    ),
    (
        "github signature checked before events",
        "github",
        ["push"],
        {"X-Hub-Signature-256": sign(b"x"), "X-GitHub-Event": "issues"},
        401,
        False,
    ),
    ("gitlab token", "gitlab", None, {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"}, 200, True),
    ("gitlab wrong token", "gitlab", None, {"X-Gitlab-Token": "nope"}, 401, False),
    ("gitlab no token", "gitlab", None, {"X-Gitlab-Event": "Push Hook"}, 401, False),
    (
        "gitlab event filter",
        "gitlab",
        ["Push Hook"],
        {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Tag Push Hook"},
        200,
        False,
    ),
]


@pytest.mark.parametrize("case,kind,events,headers,status,triggers", CHECKS, ids=[c[0] for c in CHECKS])
def test_sender_checks(
    case: str, kind: str, events: list[str] | None, headers: dict[str, str], status: int, triggers: bool
) -> None:
    verdict = webhooks.check(receiver(kind, events), TOKEN, headers, BODY)
    assert (verdict.status, verdict.trigger) == (status, triggers), verdict.message


def test_the_path_is_fluxs_digest_of_token_name_and_namespace() -> None:
    # Computed by another program, so a slip in the order or encoding cannot hide here.
    printed = subprocess.run(
        ["sha256sum"], input=f"{TOKEN}pushflux-system".encode(), capture_output=True, check=True
    ).stdout.split()[0]
    assert webhook_path(TOKEN, "push", "flux-system") == "/hook/" + printed.decode()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "harbor"}, "spec.type"),
        ({"resources": [{"kind": "Bucket", "name": "b"}]}, "spec.resources.0.kind"),
        ({"resources": []}, "spec.resources"),
        ({"secretRef": None}, "spec.secretRef"),
        ({"interval": "soon"}, "spec.interval"),
        ({"signingKey": "x"}, "spec.signingKey"),
    ],
)
def test_invalid_receivers_name_the_field(spec: dict[str, Any], field: str) -> None:
    obj = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "push"},
        "spec": {"type": "generic", "secretRef": {"name": "t"}, "resources": [{"kind": "GitRepository", "name": "x"}]},
    }
    obj["spec"].update(spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    with pytest.raises(InvalidObjectError) as raised:
        parse_receiver(obj, "clusters/local/receiver.yaml")
    assert "Receiver push in clusters/local/receiver.yaml" in str(raised.value)
    assert f"field {field}" in str(raised.value), str(raised.value)


SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: webhook-token
  namespace: flux-system
stringData:
  token: {TOKEN}
"""


class Served:
    """A cluster whose reactor runs for real (system clock) with the HTTP application in front."""

    def __init__(self, cluster: Cluster, reactor: Reactor, client: httpx.AsyncClient) -> None:
        self.cluster, self.reactor, self.client = cluster, reactor, client

    @property
    def path(self) -> str:
        return str(self.cluster.status(RECEIVER)["webhookPath"])

    async def settle(self) -> int:
        """Wait until nothing runs or is due; how many reconciles have run so far."""
        clock = self.reactor.world.clock
        while not self.reactor.states or any(
            s.running or s.due <= clock.monotonic() for s in self.reactor.states.values()
        ):
            await asyncio.sleep(0.02)
        return self.reactor.reconciles

    def revision(self) -> str:
        return str((self.cluster.status(ROOT_SOURCE).get("artifact") or {}).get("revision", ""))


async def served(cluster: Cluster) -> AsyncIterator[Served]:
    cluster.world.clock = SystemClock()
    reactor = Reactor(cluster.world)
    stop = asyncio.Event()
    loop = asyncio.ensure_future(reactor.run(stop))
    transport = httpx.ASGITransport(app=create_app(reactor), client=("127.0.0.9", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://gitferry") as client:
        served = Served(cluster, reactor, client)
        try:
            yield served
        finally:
            # Let what the last request started finish: a git or kustomize process cut off by the
            # stop would outlive this event loop.
            await asyncio.wait_for(served.settle(), 30)
            stop.set()
            await loop


def with_receiver(tmp_path: Path, yaml: str, secret: str = SECRET) -> Cluster:
    cluster = Cluster(tmp_path)
    cluster.write({"clusters/local/receiver.yaml": yaml, "clusters/local/secret.yaml": secret})
    cluster.commit("webhook receiver")
    cluster.run()
    return cluster


def test_a_signed_push_fetches_the_source_at_once_and_a_forged_one_triggers_nothing(tmp_path: Path) -> None:
    cluster = with_receiver(tmp_path, receiver_yaml("github", events="events: [push]"))
    path = cluster.status(RECEIVER)["webhookPath"]
    assert cluster.ready(RECEIVER) == (True, f"Receiver initialized for path: {path}")

    async def scenario() -> None:
        async for s in served(cluster):
            before = await s.settle()
            cluster.write({"apps/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"})
            cluster.commit("a new commit that only a webhook can make gitferry see within the minute")
            head = git(cluster.work, "rev-parse", "HEAD").strip()

            forged = await s.client.post(
                s.path, content=BODY, headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(BODY, token="x")}
            )
            assert forged.status_code == 401, forged.text
            assert "Receiver flux-system/push: X-Hub-Signature-256 does not match" in forged.json()["error"]
            await asyncio.sleep(0.5)
            assert await s.settle() == before, "a refused request triggered a reconcile"
            assert head not in s.revision()

            ignored = await s.client.post(
                s.path, content=BODY, headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(BODY)}
            )
            assert ignored.status_code == 200 and ignored.json()["triggered"] == []
            assert await s.settle() == before

            started = time.monotonic()
            good = await s.client.post(
                s.path, content=BODY, headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(BODY)}
            )
            assert good.status_code == 200, good.text
            assert good.json()["triggered"] == [str(ROOT_SOURCE)]
            while head not in s.revision():
                assert time.monotonic() - started < 10, "the source was not fetched after the webhook"
                await asyncio.sleep(0.02)

    asyncio.run(scenario())
    events = [(e.reason, e.message) for e in cluster.store.events(RECEIVER)]
    assert (
        "ValidationFailed",
        "request from 127.0.0.9 refused: X-Hub-Signature-256 does not match the body signed with the Receiver's token",
    ) in events
    assert any(r == "Triggered" and str(ROOT_SOURCE) in m for r, m in events)


def test_unknown_paths_suspended_receivers_and_missing_objects(tmp_path: Path) -> None:
    extra = "\n    - kind: ImageRepository\n      name: not-there"
    cluster = with_receiver(tmp_path, receiver_yaml("gitlab", extra_resources=extra))

    async def scenario() -> None:
        async for s in served(cluster):
            await s.settle()
            unknown = await s.client.post("/hook/" + "0" * 64)
            assert unknown.status_code == 404 and "no Receiver has this path" in unknown.json()["error"]
            wrong = await s.client.post(s.path, headers={"X-Gitlab-Token": "guess"})
            assert wrong.status_code == 401, wrong.text
            answered = await s.client.post(s.path, headers={"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"})
            assert answered.status_code == 200
            assert answered.json()["triggered"] == [str(ROOT_SOURCE)]
            assert answered.json()["missing"] == ["ImageRepository/flux-system/not-there"]
            cluster.store.set_suspended(RECEIVER, True)
            paused = await s.client.post(s.path, headers={"X-Gitlab-Token": TOKEN})
            assert paused.status_code == 503 and "suspended" in paused.json()["error"]
            assert (await s.client.get("/healthz")).json() == {"status": "ok"}

    asyncio.run(scenario())


def test_a_receiver_without_its_secret_says_which_and_answers_nothing(tmp_path: Path) -> None:
    cluster = with_receiver(tmp_path, receiver_yaml(), secret=SECRET.replace("webhook-token", "other-name"))
    ready, message = cluster.ready(RECEIVER)
    assert ready is False
    assert "Receiver flux-system/push: Secret flux-system/webhook-token (spec.secretRef) not found" in message
    assert cluster.status(RECEIVER).get("webhookPath") is None


def test_a_broken_receiver_in_git_fails_its_kustomization_naming_the_file(tmp_path: Path) -> None:
    cluster = with_receiver(tmp_path, receiver_yaml("harbor"))
    ready, message = cluster.ready(ObjectKey("Kustomization", "flux-system", "flux-system"))
    assert ready is False
    assert "Receiver push in clusters/local/receiver.yaml: field spec.type" in message, message


def test_post_receive_hook_tells_the_running_gitferry_about_each_push(tmp_path: Path) -> None:
    """Real ``gitferry up`` and real git: a push to a bare repository reaches gitferry through the hook."""
    bare, work = tmp_path / "gitops.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    git(tmp_path, "clone", "-q", str(bare), str(work))
    (work / "clusters" / "local").mkdir(parents=True)
    (work / "clusters/local/receiver.yaml").write_text(receiver_yaml("github"))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "receiver")
    git(work, "push", "-q", "origin", "HEAD:main")
    data = tmp_path / "data"
    gitferry = [sys.executable, "-m", "gitferry", "--data-dir", str(data)]
    env = {**os.environ, "HOOK_TOKEN": TOKEN, "COLUMNS": "300"}

    def cli(*args: str) -> str:
        return subprocess.run([*gitferry, *args], check=True, capture_output=True, text=True, env=env).stdout

    cli("create", "secret", "receiver", "webhook-token", "--token-env", "HOOK_TOKEN")
    cli("bootstrap", "--url", f"file://{bare}", "--interval", "1h")
    with (tmp_path / "up.log").open("w") as log:
        daemon = subprocess.Popen([*gitferry, "up", "--no-live", "--http-port", "0"], stdout=log, stderr=log, env=env)
    try:
        wait_for(lambda: "POST http://127.0.0.1:" in cli("get", "receivers"), 30, what="the Receiver's URL")
        installed = cli("receiver", "hook", str(bare), "--receiver", "push")
        assert "post-receive posts each push to http://127.0.0.1:" in installed.replace("\n", "")
        git(work, "pull", "-q", "origin", "main")
        (work / "note.txt").write_text("pushed\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "seen within a second, not within the hour")
        pushed = time.monotonic()
        git(work, "push", "-q", "origin", "HEAD:main")
        head = git(work, "rev-parse", "HEAD").strip()
        wait_for(lambda: head in cli("get", "sources", "git"), 10, interval=0.1, what="the pushed commit fetched")
        print(f"git push -> commit fetched: {time.monotonic() - pushed:.2f}s")
        events = cli("events", "--for", "Receiver/push")
        assert "push event accepted: reconcile requested for GitRepository/flux-system/flux-system" in " ".join(
            events.split()
        ), events
    finally:
        daemon.terminate()
        daemon.wait(30)
    assert not (data / "http.address").exists()
    hook = (bare / "hooks" / "post-receive").read_text()
    assert json.dumps(TOKEN)[1:-1] in hook  # signed type: the token is in the hook, which only its owner reads
    assert (bare / "hooks" / "post-receive").stat().st_mode & 0o077 == 0

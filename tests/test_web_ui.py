"""The web UI in a real browser: Chromium (Playwright) against the real ``gitferry up``.

One ``gitferry up`` serves the whole module, over a real GitOps repository applied to real podman:

- Kustomization ``flux-system/web`` applies a ConfigMap and a one-replica busybox Deployment: ready;
- Kustomization ``flux-system/broken`` points ``spec.path`` at a folder that is not in Git: failed;
- Repository ``flux-system/app`` (Pipelines-as-Code) watches an app repository whose ``.tekton/``
  runs clone -> lint + test on a push; the fixture pushes once, so there is a PipelineRun to show.

Every interval is ``1h`` (and the Repository's polling is off), so after the first sync nothing runs
unless a test asks for it: what a test sees change, its own click or API call caused. Tests run in
file order and share the store; each one leaves the objects as it found them (resumed, ready).
Screenshots of the pages go to docs/screenshots/ with GITFERRY_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser import browser, new_context, sign_in, wait_live  # noqa: F401 - browser is a fixture
from tests.conftest import ROOT, git, remove_pods_with_prefix
from tests.gitops import pod_names, wait_for

pytestmark = [pytest.mark.podman, pytest.mark.e2e]

# The README's screenshots: taken every run (a page that cannot be drawn fails the test), kept in
# docs/screenshots/ only when asked, so a test run leaves the work tree as it was.
SCREENSHOTS = ROOT / "docs" / "screenshots"
KEEP_SCREENSHOTS = os.environ.get("GITFERRY_UPDATE_SCREENSHOTS") == "1"
NS = "flux-system"
GOOD = ("Kustomization", NS, "web")
BROKEN = ("Kustomization", NS, "broken")
REPOSITORY = ("Repository", NS, "app")
MISSING_PATH = "./apps/not-in-git"
WAIT = 20_000  # ms: the longest a test waits for the page to follow a change

APPS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 1h
  path: ./apps/web
  prune: true
  wait: true
  timeout: 1m
  targetNamespace: NAMESPACE
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: broken
  namespace: flux-system
spec:
  interval: 1h
  retryInterval: 1h
  path: MISSING_PATH
  prune: true
  targetNamespace: NAMESPACE
  sourceRef:
    kind: GitRepository
    name: flux-system
"""

REPOSITORY_YAML = """\
apiVersion: pipelinesascode.tekton.dev/v1alpha1
kind: Repository
metadata:
  name: app
  namespace: flux-system
  annotations:
    gitferry.io/poll-interval: "0"
spec:
  url: APP_URL
"""

WEB = {
    "apps/web/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - configmap.yaml
  - deployment.yaml
""",
    "apps/web/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  message: hello from the web UI test
""",
    "apps/web/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: BUSYBOX
          command: ["/bin/sh", "-c", "echo \\"$MESSAGE\\"; exec sleep 86400"]
          env:
            - name: MESSAGE
              valueFrom:
                configMapKeyRef: {name: web-config, key: message}
""",
}

PIPELINE_RUN = """\
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: app-push-
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
spec:
  params:
    - {name: repo_url, value: "{{ repo_url }}"}
    - {name: revision, value: "{{ revision }}"}
  workspaces:
    - {name: source, emptyDir: {}}
  pipelineSpec:
    params: [{name: repo_url}, {name: revision}]
    workspaces: [{name: source}]
    tasks:
      - name: clone
        taskRef: {name: git-clone}
        params: [{name: url, value: $(params.repo_url)}, {name: revision, value: $(params.revision)}]
        workspaces: [{name: output, workspace: source}]
      - name: lint
        runAfter: [clone]
        workspaces: [{name: src, workspace: source}]
        taskSpec:
          workspaces: [{name: src}]
          steps:
            - name: version-file
              image: BUSYBOX
              script: |
                echo "lint: version file is $(wc -c < $(workspaces.src.path)/version) bytes"
      - name: test
        runAfter: [clone]
        workspaces: [{name: src, workspace: source}]
        taskSpec:
          workspaces: [{name: src}]
          steps:
            - name: check
              image: BUSYBOX
              script: |
                echo "testing version $(cat $(workspaces.src.path)/version)"
                test -s $(workspaces.src.path)/version
"""


class Repo:
    """A bare repository (the 'remote') and a work clone that pushes to its ``main``."""

    def __init__(self, root: Path, name: str, files: dict[str, str]) -> None:
        self.bare, self.work = root / f"{name}.git", root / name
        self.url = f"file://{self.bare}"
        git(root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        self.commit(files, "First version")

    def commit(self, files: dict[str, str], message: str) -> str:
        for relative, text in files.items():
            path = self.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD").strip()


@dataclass
class Env:
    url: str  # http://127.0.0.1:<port>
    namespace: str  # the web Kustomization's targetNamespace: podman's pod name prefix
    admin: str  # token 'alice'
    viewer: str  # token 'bob'
    app_commit: str  # the app commit whose push started the PipelineRun

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin}"} if token != "" else {}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str) -> Any:
        response = self.api("GET", path)
        assert response.status_code == 200, response.text
        return response.json()

    def object(self, obj: tuple[str, str, str]) -> dict[str, Any]:
        return dict(self.get(object_path(obj)))

    def events(self, obj: tuple[str, str, str]) -> list[dict[str, Any]]:
        return list(self.get(object_path(obj) + "/events"))

    def act(self, verb: str, obj: tuple[str, str, str]) -> None:
        response = self.api("POST", f"{object_path(obj)}/{verb}")
        assert response.status_code == 202, response.text

    def state(self, obj: tuple[str, str, str]) -> str:
        """The object's state word; '' while it is not there yet."""
        response = self.api("GET", object_path(obj))
        return str(response.json()["state"]) if response.status_code == 200 else ""


def object_path(obj: tuple[str, str, str]) -> str:
    return "/objects/" + "/".join(obj)


def page_of(obj: tuple[str, str, str]) -> str:
    return "/ui/objects/" + "/".join(obj)


def gitferry(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gitferry", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"gitferry {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("webui")
    prefix = f"w{os.getpid() % 100000}"
    namespace = f"{prefix}web"
    app = Repo(
        root,
        "app",
        {".tekton/push.yaml": PIPELINE_RUN.replace("BUSYBOX", busybox_image), "version": "1.0.0\n"},
    )
    files = {relative: text.replace("BUSYBOX", busybox_image) for relative, text in WEB.items()}
    files["clusters/local/apps.yaml"] = APPS.replace("NAMESPACE", namespace).replace("MISSING_PATH", MISSING_PATH)
    files["clusters/local/app-repository.yaml"] = REPOSITORY_YAML.replace("APP_URL", app.url)
    gitops = Repo(root, "gitops", files)
    data_dir = root / "data"
    gitferry(
        data_dir,
        *("bootstrap", "--url", gitops.url, "--branch", "main", "--path", "./clusters/local", "--interval", "1h"),
    )
    admin = gitferry(data_dir, "token", "create", "--role", "admin", "--name", "alice").strip()
    viewer = gitferry(data_dir, "token", "create", "--role", "viewer", "--name", "bob").strip()
    log = open(root / "up.log", "w")  # noqa: SIM115 - closed after the daemon stops
    daemon = subprocess.Popen(
        [sys.executable, "-m", "gitferry", "--data-dir", str(data_dir), "-v", "up", "--no-live"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GITFERRY_HTTP_PORT": "0"},
    )
    try:
        address = data_dir / "http.address"

        def serving() -> str:
            assert daemon.poll() is None, f"gitferry up exited:\n{(root / 'up.log').read_text()[-3000:]}"
            return address.read_text().strip() if address.exists() else ""

        wait_for(serving, 30, what="gitferry up's HTTP address in <data-dir>/http.address")
        env = Env(address.read_text().strip(), namespace, admin, viewer, app_commit="")
        wait_for(lambda: env.state(GOOD) == "ready", 90, what="Kustomization web ready")
        wait_for(lambda: env.state(BROKEN) == "failed", 30, what="Kustomization broken failed")
        # The Repository's first look records the app's branches; the push after it starts the pipeline.
        wait_for(lambda: env.state(REPOSITORY) == "ready", 30, what="Repository app watching")
        env.app_commit = app.commit({"version": "2.0.0\n"}, "Version 2")
        env.act("reconcile", REPOSITORY)
        yield env
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        remove_pods_with_prefix(prefix)
        print((root / "up.log").read_text()[-4000:])


@pytest.fixture(scope="module")
def alice(browser: Browser, env: Env) -> Iterator[BrowserContext]:  # noqa: F811 - browser is the fixture
    """A browser profile signed in with the admin token."""
    context = sign_in(browser, env.url, env.admin)
    yield context
    context.close()


@pytest.fixture(scope="module")
def bob(browser: Browser, env: Env) -> Iterator[BrowserContext]:  # noqa: F811
    """A browser profile signed in with the viewer token."""
    context = sign_in(browser, env.url, env.viewer)
    yield context
    context.close()


@pytest.fixture
def page(alice: BrowserContext) -> Iterator[Page]:
    opened = alice.new_page()
    yield opened
    opened.close()


def screenshot(page: Page, name: str) -> None:
    picture = page.screenshot(full_page=True)
    assert picture.startswith(b"\x89PNG") and len(picture) > 10_000, f"{name}: no picture"
    if KEEP_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / name).write_bytes(picture)


def badge(page: Page, obj: tuple[str, str, str]) -> Locator:
    """The state badge of ``obj``'s row in the overview."""
    return page.locator(f'tr[data-object="{"/".join(obj)}"] td .badge').first


def test_a_visitor_without_a_session_is_sent_to_login_and_a_wrong_token_is_refused(
    browser: Browser,  # noqa: F811
    env: Env,
) -> None:
    context = new_context(browser, env.url)
    page = context.new_page()
    page.goto("/ui/")
    expect(page).to_have_url(f"{env.url}/ui/login?next=/ui/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.locator("header nav").count() == 0  # nothing of the app before signing in

    page.fill('input[name="token"]', "gf_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.error")).to_have_text("That token is not valid.")
    expect(page).to_have_url(f"{env.url}/ui/login")
    assert not [c for c in context.cookies() if c["name"] == "gitferry_session"]

    # The right token: back to where the visitor was going, signed in as alice.
    page.fill('input[name="token"]', env.admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{env.url}/ui/")
    expect(page.locator("header .who")).to_have_text("alice · admin")
    [cookie] = [c for c in context.cookies() if c["name"] == "gitferry_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    context.close()


def test_b_the_overview_shows_the_failing_kustomization_with_its_reason(page: Page, env: Env) -> None:
    page.goto("/ui/")
    # Five objects: the root GitRepository and Kustomization, web, broken and the Repository.
    expect(page.locator("h1")).to_have_text("1 of 5 failing")
    failing = page.locator("section.failing li")
    expect(failing).to_have_count(1)
    item = page.locator(f'section.failing li[data-object="{"/".join(BROKEN)}"]')
    expect(item.locator(".badge")).to_have_text("failed")
    expect(item.locator(".message")).to_contain_text(f"directory '{MISSING_PATH}' not found in the source")

    expect(badge(page, BROKEN)).to_have_text("failed")
    row = page.locator(f'tr[data-object="{"/".join(BROKEN)}"]')
    expect(row.locator("td.message")).to_contain_text(f"field spec.path: directory '{MISSING_PATH}' not found")
    expect(row).to_have_class("state-failed")

    expect(badge(page, GOOD)).to_have_text("ready")
    expect(badge(page, ("Kustomization", NS, "flux-system"))).to_have_text("ready")
    expect(badge(page, ("GitRepository", NS, "flux-system"))).to_have_text("ready")
    # The link goes to the object's page, which says the same.
    item.get_by_role("link", name="broken").click()
    expect(page).to_have_url(f"{env.url}{page_of(BROKEN)}")
    expect(page.locator("section.status .badge").first).to_have_text("failed")
    expect(page.locator("section.status .message")).to_contain_text(MISSING_PATH)


def test_c_the_reconcile_button_repairs_drift_that_only_a_reconcile_can_see(page: Page, env: Env) -> None:
    """Proof that the click reconciles, not a timer: every interval is 1h, so once a pod is removed
    behind gitferry's back nothing brings it back but a reconcile. After the click: the answer in
    #flash, a ReconcileRequested event naming alice (live on the page and in the API), the pod
    running again, and a new apply-history entry "<pod>: pod missing", all without a reload."""
    pod = f"{env.namespace}-web-0"
    assert pod_names(f"{env.namespace}-") == [pod]
    history_before = env.get(f"{object_path(GOOD)}/history")
    page.goto(page_of(GOOD))
    wait_live(page)
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(len(history_before))
    assert "pod missing" not in history.first.inner_text()
    page.evaluate("window.__notReloaded = true")

    subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", pod], check=True, capture_output=True)
    page.locator('button[data-action="reconcile"]').click()
    expect(page.locator("#flash")).to_have_text("reconcile requested by token 'alice' (admin) via the HTTP API")
    requested = page.locator("section.events tbody tr", has_text="ReconcileRequested")
    expect(requested).to_have_count(1, timeout=WAIT)  # the live fragment, without a reload
    expect(requested).to_contain_text("reconcile requested by token 'alice' (admin) via the HTTP API")
    assert page.evaluate("window.__notReloaded") is True

    def repaired() -> list[dict[str, Any]]:
        return [h for h in env.get(f"{object_path(GOOD)}/history") if h["id"] > history_before[0]["id"]]

    [entry] = wait_for(repaired, 30, what="the apply the click asked for")
    assert entry["result"] == "Succeeded", entry
    assert entry["changed"] == [f"Deployment/{env.namespace}/web configured ({pod}: pod missing)"], entry
    assert pod_names(f"{env.namespace}-") == [pod]  # running again
    events = [e for e in env.events(GOOD) if e["reason"] == "ReconcileRequested"]
    assert [e["message"] for e in events] == ["reconcile requested by token 'alice' (admin) via the HTTP API"]

    # The new history row arrives live; then the inventory with health and the diff (the docs' screenshot).
    expect(history).to_have_count(len(history_before) + 1, timeout=WAIT)
    assert page.evaluate("window.__notReloaded") is True
    expect(history.first).to_contain_text(f"Deployment/{env.namespace}/web configured ({pod}: pod missing)")
    expect(history.first.locator(".badge")).to_have_text("Succeeded")
    expect(history.first.locator("td.sha a")).to_have_attribute("href", re.compile(r"^/ui/commits/flux-system/"))
    expect(page.locator("#inventory .tree")).to_be_visible(timeout=WAIT)
    deployment = page.locator(f'#inventory li[data-object="Deployment/{env.namespace}/web"] > .badge')
    expect(deployment).to_have_text("Current")
    # The diff is a snapshot (refreshed every 15 s or by its button): the one loaded before the repair
    # showed the missing pod's Deployment; asked again, it is in sync.
    page.locator("section.diff button", has_text="refresh").click()
    expect(page.locator("#diff .in-sync")).to_contain_text("What runs matches Git.", timeout=WAIT)
    screenshot(page, "kustomization.png")


def test_d_suspend_and_resume_buttons(page: Page, env: Env) -> None:
    """Suspend asks for confirmation, then the status badge turns 'suspended' live; Resume undoes it."""
    page.goto(page_of(GOOD))
    wait_live(page)
    status = page.locator("section.status .badge").first
    expect(status).to_have_text("ready")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator('button[data-action="suspend"]').click()
    expect(page.locator("#flash")).to_have_text("suspended by token 'alice' (admin) via the HTTP API")
    assert dialogs == [f"Suspend Kustomization {NS}/web? It will not be reconciled until resumed."]
    expect(status).to_have_text("suspended", timeout=WAIT)
    assert env.object(GOOD)["suspended"] is True
    assert any(e["reason"] == "Suspended" and "'alice'" in e["message"] for e in env.events(GOOD))

    # The buttons follow the state live: Resume replaces Suspend without a reload.
    expect(page.locator('button[data-action="resume"]')).to_be_visible(timeout=WAIT)
    expect(page.locator('button[data-action="suspend"]')).to_have_count(0)
    page.locator('button[data-action="resume"]').click()
    expect(page.locator("#flash")).to_have_text(
        "resumed and reconcile requested by token 'alice' (admin) via the HTTP API"
    )
    expect(page.locator("section.status .badge").first).to_have_text("ready", timeout=WAIT)
    assert env.object(GOOD)["suspended"] is False
    assert any(e["reason"] == "Resumed" and "'alice'" in e["message"] for e in env.events(GOOD))


def test_e_a_viewer_sees_no_buttons_and_may_not_act(bob: BrowserContext, alice: BrowserContext, env: Env) -> None:
    page = bob.new_page()
    page.goto(page_of(GOOD))
    expect(page.locator("header .who")).to_have_text("bob · viewer")
    expect(page.locator("h1")).to_contain_text("web")
    expect(page.locator("section.status .badge").first).to_have_text("ready")
    assert page.locator("button[data-action]").count() == 0
    page.close()

    events_before = env.events(GOOD)
    path = f"{object_path(GOOD)}/reconcile"
    refused = env.api("POST", path, token=env.viewer)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"error": "token 'bob' (viewer) may only read: actions need an admin token"}
    # The viewer's browser session, against the page action and the API alike.
    for url in (f"{env.url}{page_of(GOOD)}/reconcile", f"{env.url}/api/v1{path}"):
        answer = bob.request.post(url)
        assert answer.status == 403, (url, answer.text())
        assert "may only read" in answer.text()
    assert env.api("POST", path, token="").status_code == 401
    # An admin's session cookie sent by a form on another site is refused too.
    forged = alice.request.post(f"{env.url}{page_of(GOOD)}/reconcile", headers={"Origin": "https://evil.example"})
    assert forged.status == 403 and "another site" in forged.text()
    assert env.events(GOOD) == events_before


def test_f_unknown_pages_are_error_pages_with_a_sentence(page: Page, env: Env) -> None:
    cases = {
        f"/ui/objects/Kustomization/{NS}/nope": "Kustomization flux-system/nope not found",
        "/ui/objects/Nope/x/y": "unknown kind 'Nope'",
        "/ui/runs/no-such-run": "PipelineRun no-such-run not found",
        "/ui/no/such/page": "no such page or endpoint: /ui/no/such/page",
    }
    for path, sentence in cases.items():
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.locator("section.problem h1")).to_have_text("That did not work")
        expect(page.locator("section.problem .flash.error")).to_contain_text(sentence)
        content = page.content()
        assert "Traceback" not in content and 'File "' not in content, content


def test_g_the_overview_follows_a_suspend_made_through_the_api(page: Page, env: Env) -> None:
    page.goto("/ui/")
    wait_live(page)
    expect(badge(page, GOOD)).to_have_text("ready")
    page.evaluate("window.__notReloaded = true")
    env.act("suspend", GOOD)
    expect(badge(page, GOOD)).to_have_text("suspended", timeout=10_000)
    expect(page.locator("h1")).to_have_text("1 of 5 failing")
    assert page.evaluate("window.__notReloaded") is True
    # A change right after another reaches the page too: the last one always does.
    env.act("resume", GOOD)
    expect(badge(page, GOOD)).to_have_text("ready", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True


def test_g2_a_change_right_after_another_also_reaches_the_page(page: Page, env: Env) -> None:
    """Two writes 0.3 s apart: the page shows the state after the second, not the first."""
    page.goto("/ui/")
    wait_live(page)
    try:
        env.act("suspend", GOOD)
        expect(badge(page, GOOD)).to_have_text("suspended", timeout=10_000)
        env.act("resume", GOOD)
        expect(badge(page, GOOD)).to_have_text("ready", timeout=5_000)
    finally:
        env.act("resume", GOOD)
        wait_for(lambda: env.state(GOOD) == "ready", 30, what="web ready again")


def test_h_a_pipeline_run_shows_its_task_graph_and_logs(page: Page, env: Env) -> None:
    def finished() -> dict[str, Any] | None:
        runs = env.get("/pipelineruns")
        return runs[0] if runs and runs[0]["status"] in ("Succeeded", "Failed") else None

    run = wait_for(finished, 60, what="the PipelineRun the app push started")
    assert (run["status"], run["revision"], run["trigger"]) == ("Succeeded", env.app_commit, "push"), run
    page.goto("/ui/runs")
    row = page.locator("table.runs tbody tr").first
    expect(row.locator(".badge")).to_have_text("Succeeded")
    row.get_by_role("link", name=run["name"]).click()
    expect(page).to_have_url(f"{env.url}/ui/runs/{run['name']}")

    graph = page.locator('svg[aria-label="task graph"]')
    expect(graph).to_be_visible()
    for task in ("clone", "lint", "test"):
        expect(graph.locator(f'g[data-task="{task}"] .task-status')).to_have_text("Succeeded")
        expect(page.locator(f'tr[data-task="{task}"] .badge')).to_have_text("Succeeded")
    logs = page.locator("#logs .line")
    expect(logs.filter(has_text="testing version 2.0.0")).to_have_count(1, timeout=WAIT)
    expect(logs.filter(has_text="lint: version file is 6 bytes")).to_have_count(1)
    expect(page.locator("#logs .line .where").first).to_have_text("clone/clone")
    screenshot(page, "pipelinerun.png")


def test_i_timeline_and_overview_screenshots(page: Page, env: Env) -> None:
    page.goto("/ui/timeline")
    timeline = page.locator("ol.timeline")
    expect(timeline.locator("li.event").first).to_be_visible()
    for reason in ("ReconcileRequested", "Suspended", "Resumed"):
        expect(timeline.locator("li.event", has_text=reason).first).to_contain_text("by token 'alice' (admin)")
    expect(timeline.locator("li.run").first).to_contain_text("Succeeded")
    expect(timeline.locator("li.event.warning", has_text="broken").first).to_contain_text(MISSING_PATH)
    screenshot(page, "timeline.png")

    page.goto("/ui/")
    expect(page.locator("section.failing li")).to_have_count(1)
    expect(badge(page, GOOD)).to_have_text("ready", timeout=WAIT)
    expect(page.locator("table.runs tbody tr").first.locator(".badge")).to_have_text("Succeeded")
    time.sleep(0.2)  # let the page settle after the last live swap
    screenshot(page, "overview.png")

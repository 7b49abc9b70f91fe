"""The seed scenarios end to end: real git repositories, a real image, real podman, the real CLI.

One ``gitferry up`` process runs for the whole module against a GitOps repository with
``apps/dev`` and ``apps/staging`` (2 replicas each). Tests run in file order and build on
each other, as the seed walk-through does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from tests.conftest import remove_pods_with_prefix
from tests.gitops import GitOpsRepo, free_port_block, http_get, pod_names, wait_for

pytestmark = [pytest.mark.podman, pytest.mark.e2e]

INTERVAL = 4  # seconds: the Kustomizations' interval in this test, so drift is fixed quickly


@dataclass
class Env:
    repo: GitOpsRepo
    data_dir: Path
    dev: int
    staging: int
    prefix: str
    log: TextIO
    daemon: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """``gitferry up`` in the background, as a user would run it."""
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "gitferry", "--data-dir", str(self.data_dir), "-v", "up", "--no-live"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(sig)
        try:
            self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "gitferry", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "COLUMNS": "400"},  # one table row per line, unwrapped
        )
        if check:
            assert done.returncode == 0, f"gitferry {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def ready_message(self, name: str) -> tuple[str, str]:
        out = self.cli("get", "kustomizations").stdout
        for line in out.splitlines():
            cells = line.split(None, 4)
            if cells and cells[0] == name:
                return cells[3], line
        return "", out


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("seed")
    base = free_port_block()
    prefix = f"e{os.getpid() % 100000}"
    repo = GitOpsRepo(
        root, dev_port=base, staging_port=base + 100, image=busybox_image, prefix=prefix, interval=f"{INTERVAL}s"
    )
    data_dir = root / "data"
    boot = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitferry",
            "--data-dir",
            str(data_dir),
            "bootstrap",
            "--url",
            repo.url,
            "--branch",
            "main",
            "--path",
            "./clusters/local",
            "--interval",
            f"{INTERVAL}s",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert boot.returncode == 0, boot.stdout + boot.stderr
    repo.pull()
    log = open(root / "up.log", "w")  # noqa: SIM115 - closed after the daemon stops
    environment = Env(repo, data_dir, base, base + 100, prefix, log)
    environment.start()
    try:
        yield environment
    finally:
        environment.stop()
        log.close()
        remove_pods_with_prefix(prefix)
        print((root / "up.log").read_text()[-4000:])


def test_bootstrap_then_up_runs_both_environments(env: Env) -> None:
    for port in (env.dev, env.dev + 1, env.staging, env.staging + 1):
        wait_for(lambda p=port: http_get(p), timeout=90, what=f"127.0.0.1:{port} to serve")
    assert "hello from dev, version 1" in (http_get(env.dev) or "")
    assert "hello from staging, version 1" in (http_get(env.staging + 1) or "")
    wait_for(lambda: env.ready_message("apps-staging")[0] == "True", timeout=30, what="apps-staging Ready")
    ready, line = env.ready_message("apps-dev")
    assert ready == "True", line
    assert "Service" in line and "not run on podman" in line  # the Service is reported, not dropped
    tree = env.cli("tree", "kustomization", "flux-system").stdout
    assert "Kustomization/flux-system/apps-dev" in tree and f"Deployment/{env.prefix}dev/web" in tree


def test_a_deleted_pod_is_back_within_one_interval(env: Env) -> None:
    victim = f"{env.prefix}staging-web-1"
    subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", victim], check=True, capture_output=True)
    assert http_get(env.staging + 1, timeout=0.5) is None
    started = time.monotonic()
    wait_for(lambda: http_get(env.staging + 1), timeout=INTERVAL + 20, what="the deleted pod to serve again")
    assert time.monotonic() - started < INTERVAL + 20
    events = env.cli("events", "--for", "Kustomization/apps-staging").stdout
    assert f"Deployment/{env.prefix}staging/web configured ({victim}: pod missing)" in events, events


def test_b_replicas_2_to_3_runs_a_third_pod_in_both_namespaces(env: Env) -> None:
    env.repo.edit("apps/base/deployment.yaml", "replicas: 2", "replicas: 3")
    env.repo.commit("Scale web to 3 replicas")
    env.cli("reconcile", "source", "git", "flux-system")
    wait_for(lambda: http_get(env.dev + 2) and http_get(env.staging + 2), timeout=90, what="third replicas")
    assert len(pod_names(f"{env.prefix}dev-web-")) == 3
    assert len(pod_names(f"{env.prefix}staging-web-")) == 3
    history = env.cli("history", "kustomization", "apps-dev").stdout
    assert f"Deployment/{env.prefix}dev/web configured ({env.prefix}dev-web-2: pod missing)" in history, history


def test_d_a_broken_manifest_is_reported_and_old_pods_keep_serving(env: Env) -> None:
    before = http_get(env.dev)
    env.repo.edit("apps/base/deployment.yaml", "replicas: 3", "replicas: 3\n  this is: [not yaml")
    env.repo.commit("Break the deployment")
    env.cli("reconcile", "source", "git", "flux-system")
    wait_for(lambda: env.ready_message("apps-dev")[0] == "False", timeout=60, what="apps-dev to fail")
    _, line = env.ready_message("apps-dev")
    assert "deployment.yaml" in line, line
    events = env.cli("events", "--for", "Kustomization/apps-dev").stdout
    assert "deployment.yaml" in events, events
    assert "keeps running" in events, events
    assert http_get(env.dev) == before and http_get(env.staging) is not None
    env.repo.edit("apps/base/deployment.yaml", "replicas: 3\n  this is: [not yaml", "replicas: 3")
    env.repo.commit("Fix the deployment")
    env.cli("reconcile", "source", "git", "flux-system")
    wait_for(lambda: env.ready_message("apps-dev")[0] == "True", timeout=60, what="apps-dev to recover")


def test_c_removing_an_app_from_git_prunes_its_containers(env: Env) -> None:
    assert pod_names(f"{env.prefix}staging-web-")
    apps = env.repo.work / "clusters" / "local" / "apps.yaml"
    dev_only = apps.read_text().split("---")[0]
    assert "apps-staging" not in dev_only
    apps.write_text(dev_only)
    env.repo.commit("Remove the app from staging")
    env.cli("reconcile", "source", "git", "flux-system")
    wait_for(lambda: not pod_names(f"{env.prefix}staging-web-"), timeout=90, what="staging pods to be pruned")
    assert http_get(env.staging) is None
    assert http_get(env.dev) is not None  # dev untouched
    listed = env.cli("get", "kustomizations").stdout
    assert "apps-staging" not in listed and "apps-dev" in listed
    diff = env.cli("diff", "kustomization", "apps-dev", check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_e_a_killed_daemon_resumes_without_applying_again(env: Env) -> None:
    """SIGKILL mid-life, restart: the same pods keep running (no re-apply), nothing is orphaned."""
    wait_for(lambda: env.ready_message("apps-dev")[0] == "True", timeout=60, what="apps-dev Ready")
    before = pod_ids(f"{env.prefix}dev-")
    history_before = env.cli("events", "--for", "Kustomization/apps-dev").stdout.count("ReconciliationSucceeded")
    env.stop(signal.SIGKILL)
    env.start()
    # The restarted loop reconciles everything at once; give it two intervals.
    time.sleep(2 * INTERVAL)
    assert env.cli("reconcile", "kustomization", "apps-dev").returncode == 0
    assert pod_ids(f"{env.prefix}dev-") == before
    history_after = env.cli("events", "--for", "Kustomization/apps-dev").stdout.count("ReconciliationSucceeded")
    assert history_after == history_before
    assert pod_names(f"{env.prefix}staging-") == []


def pod_ids(prefix: str) -> dict[str, str]:
    out = subprocess.run(
        ["podman", "pod", "ps", "--format", "{{.Name}} {{.Id}}"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.startswith(prefix))

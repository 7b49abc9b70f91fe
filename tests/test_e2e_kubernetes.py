"""``gitferry up`` with the Kubernetes target: the demo's GitOps repository applied to an API server.

The API server is the test one (``tests/kubeapi``, in this process; its simulated controllers make
Deployments available); gitferry is the real CLI as a subprocess, bootstrapped with
``--target kubernetes --kubeconfig``. Git changes reach the cluster, a change made by hand is
put back and named as drift, and a Kustomization removed from Git prunes its objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitops import GitOpsRepo, wait_for
from tests.kubeapi import KubeAPI, serve_kube_api

pytestmark = [pytest.mark.kubernetes, pytest.mark.e2e]


@pytest.fixture
def api() -> Iterator[KubeAPI]:
    with serve_kube_api() as server:
        yield server


def test_git_changes_reach_the_cluster_and_drift_is_put_back(tmp_path: Path, api: KubeAPI) -> None:
    repo = GitOpsRepo(tmp_path, dev_port=18080, staging_port=18180, image="registry.example/web:1", prefix="k-")
    for name in ("k-dev", "k-staging"):  # Flux users keep Namespaces in Git; the demo repository has none
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    data = tmp_path / "data"
    gitferry = [sys.executable, "-m", "gitferry", "--data-dir", str(data)]
    env = {**os.environ, "COLUMNS": "300"}

    def cli(*args: str) -> str:
        done = subprocess.run([*gitferry, *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, f"gitferry {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def diff(name: str) -> tuple[int, str]:
        done = subprocess.run([*gitferry, "diff", "kustomization", name], capture_output=True, text=True, env=env)
        return done.returncode, (done.stdout + done.stderr).strip()

    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cli("bootstrap", "--url", repo.url, "--target", "kubernetes", "--kubeconfig", str(kubeconfig))
    repo.pull()
    assert f"kubernetes API server {api.url} answers" in " ".join(cli("check").split())
    with (tmp_path / "up.log").open("w") as log:
        daemon = subprocess.Popen([*gitferry, "-v", "up", "--no-live"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:

        def replicas(namespace: str) -> int | None:
            found = api.get("Deployment", "web", namespace)
            return found["spec"]["replicas"] if found else None

        wait_for(lambda: replicas("k-dev") == 2 and replicas("k-staging") == 2, 60, what="both environments applied")
        wait_for(lambda: cli("get", "kustomizations").count("True") >= 3, 60, what="Kustomizations Ready")
        web = api.get("Deployment", "web", "k-dev")
        assert web is not None
        assert web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps-dev"
        assert "gitferry" in {m["manager"] for m in web["metadata"]["managedFields"]}

        repo.edit("apps/base/deployment.yaml", "replicas: 2", "replicas: 3")
        repo.commit("three replicas")
        cli("reconcile", "source", "git", "flux-system")
        wait_for(lambda: replicas("k-dev") == 3 and replicas("k-staging") == 3, 60, what="3 replicas in both")

        assert diff("apps-dev") == (0, "✔ no differences")
        api.edit("Deployment", "web", "k-dev", {"spec": {"replicas": 7}})  # someone scales by hand
        code, text = diff("apps-dev")
        assert code == 1 and "-  replicas: 7\n+  replicas: 3" in text, text
        cli("reconcile", "kustomization", "apps-dev")
        assert replicas("k-dev") == 3
        events = " ".join(cli("events", "--for", "Kustomization/apps-dev").split())
        assert "Deployment/k-dev/web configured (drift: .spec.replicas: live 7, desired 3;" in events, events

        os.remove(repo.work / "clusters/local/apps.yaml")
        repo.commit("remove the apps")
        cli("reconcile", "source", "git", "flux-system")
        wait_for(lambda: replicas("k-dev") is None and replicas("k-staging") is None, 60, what="apps pruned")
        assert api.get("ConfigMap", "kube-root-ca.crt", "k-dev") is not None  # not ours: never pruned
    finally:
        daemon.terminate()
        daemon.wait(30)

"""The reconcile loop with real git, real kustomize and the in-memory target twin.

Podman is replaced by ``RecordingTarget`` here (the podman target has its own tests against real
podman, and test_e2e_seed.py runs everything for real); everything else is real. Each bad-input
case asserts the message names the object, the file or the field, and that nothing was applied.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from pathlib import Path

import pytest

from gitferry.api.meta import ObjectKey
from gitferry.clock import FakeClock
from gitferry.controllers import statuses
from gitferry.controllers.bootstrap import bootstrap
from gitferry.controllers.world import World
from gitferry.errors import GitError
from gitferry.reactor.loop import Reactor
from gitferry.store.sqlite import Store
from gitferry.targets.memory import RecordingTarget
from tests.conftest import git
from tests.githttp import serve_git_http

ROOT_SOURCE = ObjectKey("GitRepository", "flux-system", "flux-system")
ROOT = ObjectKey("Kustomization", "flux-system", "flux-system")
APPS = ObjectKey("Kustomization", "flux-system", "apps")
WEB = ObjectKey("Deployment", "dev", "web")

APPS_KS = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 1m
  path: ./apps
  prune: true
  targetNamespace: dev
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      REPLICAS: "2"
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: localhost/web:1
          readinessProbe:
            httpGet: {path: /, port: 8080}
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
"""


class Cluster:
    """A GitOps repository, a store and a reactor over the recording target."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bare = tmp / "gitops.git"
        self.work = tmp / "work"
        git(tmp, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(tmp, "clone", "-q", str(self.bare), str(self.work))
        self.write({"clusters/local/apps.yaml": APPS_KS, "apps/web.yaml": DEPLOYMENT, "apps/config.yaml": CONFIGMAP})
        self.commit("initial")
        self.store = Store(tmp / "data" / "state.db")
        self.target = RecordingTarget()
        self.clock = FakeClock()
        self.world = World(store=self.store, target=self.target, data_dir=tmp / "data", clock=self.clock)
        asyncio.run(bootstrap(self.world, url=f"file://{self.bare}", branch="main", path="./clusters/local"))
        git(self.work, "pull", "-q", "origin", "main")

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())

    def remove(self, name: str) -> None:
        (self.work / name).unlink()

    def commit(self, message: str) -> None:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")

    def run(self, *keys: ObjectKey) -> None:
        """Reconcile these now (and what they wake), or everything due when no key is given."""

        async def go() -> None:
            reactor = Reactor(self.world, idle_start=bool(keys))
            for key in keys:
                reactor.request(key)
            await reactor.run_until_idle()

        asyncio.run(go())

    def status(self, key: ObjectKey) -> statuses.Status:
        return self.store.get_status(key)

    def ready(self, key: ObjectKey) -> tuple[bool | None, str]:
        condition = statuses.condition_of(self.status(key)) or {}
        return statuses.ready_of(self.status(key)), str(condition.get("message", ""))


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    c = Cluster(tmp_path)
    c.run()
    return c


def test_bootstrap_applies_everything_and_records_it(cluster: Cluster) -> None:
    assert cluster.ready(ROOT_SOURCE)[0] is True
    assert cluster.ready(ROOT)[0] is True
    ready, message = cluster.ready(APPS)
    assert ready is True, message
    assert "Deployment/dev/web: podman ignores spec.template.spec.containers[web].readinessProbe" in message
    revision = cluster.status(ROOT_SOURCE)["artifact"]["revision"]
    assert revision.startswith("main@sha1:") and len(revision) == len("main@sha1:") + 40
    assert cluster.status(APPS)["lastAppliedRevision"] == revision
    web = cluster.target.get(WEB)
    assert web is not None and web["spec"]["replicas"] == 2  # substituted, as a number
    assert web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    entries = {e["id"] for e in cluster.status(APPS)["inventory"]["entries"]}
    assert entries == {"dev_web_apps_Deployment", "dev_web-config__ConfigMap"}
    assert [h.result for h in cluster.store.history(APPS)] == ["Succeeded"]
    assert {"Deployment/dev/web created", "ConfigMap/dev/web-config created"} == set(
        cluster.store.history(APPS)[0].changed
    )


def test_nothing_changed_means_no_writes_and_no_history(cluster: Cluster) -> None:
    writes = cluster.target.calls["apply.write"]
    cluster.run(ROOT_SOURCE, APPS)
    cluster.run(APPS)
    assert cluster.target.calls["apply.write"] == writes
    assert len(cluster.store.history(APPS)) == 1


def test_drift_is_corrected_on_the_next_reconcile(cluster: Cluster) -> None:
    cluster.target.delete(WEB)
    cluster.run(APPS)
    assert cluster.target.get(WEB) is not None


def test_a_new_commit_is_applied_and_recorded(cluster: Cluster) -> None:
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace('REPLICAS: "2"', 'REPLICAS: "3"')})
    cluster.commit("three replicas")
    cluster.run(ROOT_SOURCE)
    assert cluster.target.get(WEB)["spec"]["replicas"] == 3  # type: ignore[index]
    assert cluster.store.history(APPS)[-1].changed == ["Deployment/dev/web configured"]


def test_prune_removes_what_left_git(cluster: Cluster) -> None:
    cluster.remove("apps/config.yaml")
    cluster.commit("drop config")
    cluster.run(ROOT_SOURCE)
    assert cluster.target.get(ObjectKey("ConfigMap", "dev", "web-config")) is None
    assert "ConfigMap/dev/web-config pruned" in cluster.store.history(APPS)[-1].changed


def test_removing_a_kustomization_from_git_prunes_its_objects(cluster: Cluster) -> None:
    cluster.remove("clusters/local/apps.yaml")
    cluster.commit("remove apps")
    cluster.run(ROOT_SOURCE)
    assert cluster.store.get_object(APPS) is None
    assert cluster.target.get(WEB) is None


@pytest.mark.parametrize(
    ("prune", "policy", "kept"),
    [
        ("true", "Orphan", True),
        ("false", "Delete", False),
        ("false", "MirrorPrune", True),
        ("true", "MirrorPrune", False),
    ],
)
def test_deletion_policy_decides_what_a_removed_kustomization_leaves(
    tmp_path: Path, prune: str, policy: str, kept: bool
) -> None:
    cluster = Cluster(tmp_path)
    cluster.write(
        {"clusters/local/apps.yaml": APPS_KS.replace("prune: true", f"prune: {prune}\n  deletionPolicy: {policy}")}
    )
    cluster.commit(f"deletionPolicy {policy}")
    cluster.run()
    assert cluster.target.get(WEB) is not None
    cluster.remove("clusters/local/apps.yaml")
    cluster.commit("remove apps")
    cluster.run(ROOT_SOURCE)
    assert cluster.store.get_object(APPS) is None
    assert (cluster.target.get(WEB) is not None) is kept


def test_restart_resumes_without_applying_again(cluster: Cluster) -> None:
    writes = cluster.target.calls["apply.write"]
    cluster.store.close()
    cluster.store = Store(cluster.tmp / "data" / "state.db")
    cluster.world = World(
        store=cluster.store, target=cluster.target, data_dir=cluster.tmp / "data", clock=cluster.clock
    )
    cluster.run()  # a fresh reactor: everything due at once, render cache empty
    assert cluster.ready(APPS)[0] is True
    assert cluster.target.calls["apply.write"] == writes
    assert len(cluster.store.history(APPS)) == 1


def _broken(cluster: Cluster, files: dict[str, str], message: str) -> str:
    """Commit ``files``, reconcile, and check the failure keeps the last good state running."""
    good = cluster.status(APPS)["lastAppliedRevision"]
    writes = cluster.target.calls["apply.write"]
    cluster.write(files)
    cluster.commit(message)
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False, text
    assert cluster.status(APPS)["lastAppliedRevision"] == good
    assert cluster.status(APPS)["lastAttemptedRevision"] != good
    assert cluster.target.calls["apply.write"] == writes, "nothing partial may be applied"
    assert cluster.target.get(WEB) is not None
    assert f"last applied revision '{good}' keeps running" in text
    return text


def test_malformed_yaml_names_the_file(cluster: Cluster) -> None:
    files = {"apps/web.yaml": DEPLOYMENT + "  broken: [\n", "apps/new.yaml": CONFIGMAP.replace("web-config", "new")}
    text = _broken(cluster, files, "bad yaml")
    assert text.startswith("Kustomization flux-system/apps: malformed YAML in apps/web.yaml line 19"), text


def test_unknown_kind_names_the_kind_and_file(cluster: Cluster) -> None:
    text = _broken(
        cluster, {"apps/odd.yaml": "apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: x\n"}, "odd"
    )
    assert "Frobnicator" in text and "apps/odd.yaml" in text


def test_a_kind_named_like_ours_from_another_api_group_is_not_taken_for_ours(cluster: Cluster) -> None:
    """Another project's ``Repository`` is a workload for the target (unknown to podman), not a
    Pipelines-as-Code Repository with a missing ``spec.url``."""
    odd = "apiVersion: example.com/v1\nkind: Repository\nmetadata:\n  name: x\nspec: {}\n"
    text = _broken(cluster, {"apps/odd.yaml": odd}, "foreign Repository")
    assert "Repository/dev/x: kind 'Repository' is not a Kubernetes kind the podman target knows" in text, text
    assert "spec.url" not in text


def test_failing_kustomize_build_gives_kustomizes_reason(cluster: Cluster) -> None:
    text = _broken(cluster, {"apps/kustomization.yaml": "resources:\n- web.yaml\n- missing.yaml\n"}, "missing file")
    assert "missing.yaml" in text
    assert statuses.condition_of(cluster.status(APPS))["reason"] == statuses.BUILD_FAILED  # type: ignore[index]


def test_a_path_not_in_git_is_an_artifact_failure_that_stalls(cluster: Cluster) -> None:
    """As Flux says it: reason ArtifactFailed, and Stalled until Git changes."""
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace("path: ./apps", "path: ./gone")})
    cluster.commit("apps moved, but not in Git")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False and cluster.target.get(WEB) is not None, "what ran keeps running"
    assert "field spec.path: directory './gone' not found in the source" in text, text
    assert statuses.condition_of(cluster.status(APPS))["reason"] == statuses.ARTIFACT_FAILED  # type: ignore[index]
    assert statuses.condition_of(cluster.status(APPS), "Stalled") is not None


def test_strict_substitution_names_the_variable(cluster: Cluster) -> None:
    cluster.world.strict_substitute = True
    text = _broken(cluster, {"apps/web.yaml": DEPLOYMENT.replace("localhost/web:1", "localhost/web:${TAG}")}, "tag var")
    assert "TAG" in text and "apps/web.yaml" in text


def test_without_strict_substitution_an_unset_variable_becomes_empty(cluster: Cluster) -> None:
    cluster.write({"apps/config.yaml": CONFIGMAP.replace("hello", "'hello${MISSING}'")})
    cluster.commit("unset var")
    cluster.run(ROOT_SOURCE)
    assert cluster.ready(APPS)[0] is True
    assert cluster.target.get(ObjectKey("ConfigMap", "dev", "web-config"))["data"] == {"greeting": "hello"}  # type: ignore[index]


def test_depends_on_nothing_is_reported_and_retried(cluster: Cluster) -> None:
    cluster.write(
        {"clusters/local/apps.yaml": APPS_KS.replace("  prune: true", "  prune: true\n  dependsOn:\n    - name: infra")}
    )
    cluster.commit("depends on infra")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False and "dependency 'flux-system/infra' not found" in text and "spec.dependsOn" in text
    assert statuses.condition_of(cluster.status(APPS))["reason"] == statuses.DEPENDENCY_NOT_READY  # type: ignore[index]


def test_depends_on_cycle_is_an_error_naming_the_cycle(cluster: Cluster) -> None:
    other = APPS_KS.replace("name: apps\n", "name: other\n").replace("./apps", "./other").replace("dev", "other")
    cluster.write(
        {
            "clusters/local/apps.yaml": APPS_KS.replace(
                "  prune: true", "  prune: true\n  dependsOn:\n    - name: other"
            ),
            "clusters/local/other.yaml": other.replace(
                "  prune: true", "  prune: true\n  dependsOn:\n    - name: apps"
            ),
            "other/cm.yaml": CONFIGMAP,
        }
    )
    cluster.commit("cycle")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False and "dependency cycle flux-system/apps -> flux-system/other -> flux-system/apps" in text
    assert statuses.condition_of(cluster.status(APPS), "Stalled") is not None


def test_unreachable_repository_keeps_the_last_artifact_and_what_runs(cluster: Cluster) -> None:
    revision = cluster.status(ROOT_SOURCE)["artifact"]["revision"]
    shutil.move(cluster.bare, cluster.tmp / "gone.git")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(ROOT_SOURCE)
    assert ready is False
    assert "flux-system/flux-system" in text and str(cluster.bare) in text, text
    assert f"serving last good revision '{revision}'" in text
    assert cluster.status(ROOT_SOURCE)["artifact"]["revision"] == revision
    cluster.run(APPS)
    assert cluster.ready(APPS)[0] is True and cluster.target.get(WEB) is not None


def test_unsupported_field_is_named_in_status(cluster: Cluster) -> None:
    cluster.write(
        {
            "clusters/local/apps.yaml": APPS_KS.replace(
                "  prune: true", "  prune: true\n  decryption:\n    provider: sops"
            )
        }
    )
    cluster.commit("sops")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False and "spec.decryption" in text
    assert statuses.condition_of(cluster.status(APPS), "Stalled") is not None


def test_invalid_child_kustomization_fails_its_parent_and_the_child_keeps_running(cluster: Cluster) -> None:
    spec_before = cluster.store.get_object(APPS).manifest["spec"]  # type: ignore[union-attr]
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace("interval: 1m", "interval: soon")})
    cluster.commit("bad interval")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(ROOT)
    assert ready is False
    assert text.startswith(
        "Kustomization flux-system/flux-system: Kustomization apps in clusters/local/apps.yaml: field spec.interval"
    ), text
    assert cluster.store.get_object(APPS).manifest["spec"] == spec_before  # type: ignore[union-attr]
    assert cluster.ready(APPS)[0] is True


def test_suspended_kustomization_is_left_alone(cluster: Cluster) -> None:
    cluster.store.set_suspended(APPS, True)
    cluster.target.delete(WEB)
    cluster.run(APPS)
    assert cluster.target.get(WEB) is None
    cluster.store.set_suspended(APPS, False)
    cluster.run(APPS)
    assert cluster.target.get(WEB) is not None


def test_a_failure_midway_keeps_every_applied_object_in_the_inventory(cluster: Cluster) -> None:
    cluster.write({"apps/extra.yaml": CONFIGMAP.replace("web-config", "extra")})
    cluster.commit("extra")
    cluster.target.fail_on.add(WEB)
    cluster.target.delete(WEB)
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False and "injected failure" in text
    owned = cluster.store.get_inventory("flux-system/apps")
    assert ObjectKey("ConfigMap", "dev", "extra") in owned and WEB in owned


def test_bootstrap_with_a_secret_pushes_and_fetches_with_its_credentials(tmp_path: Path) -> None:
    """Over HTTP with Basic auth (a loopback git http-backend): bootstrap pushes with the Secret
    made by 'gitferry create secret git', and the GitRepository it writes fetches with it too."""
    served = tmp_path / "served"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(served / "gitops.git"))
    store = Store(tmp_path / "data" / "state.db")
    world = World(store=store, target=RecordingTarget(), data_dir=tmp_path / "data", clock=FakeClock())
    with serve_git_http(served, "robot", "s3cret-pass") as base:
        url = f"{base}/gitops.git"
        with pytest.raises(GitError, match="authentication failed"):
            asyncio.run(bootstrap(world, url=url, branch="main", path="./clusters/local"))
        store.put_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "git-auth", "namespace": "flux-system"},
                "stringData": {"username": "robot", "password": "s3cret-pass"},
            },
            owner="cli",
        )
        result = asyncio.run(bootstrap(world, url=url, branch="main", path="./clusters/local", secret_ref="git-auth"))
        assert result.commit is not None
        written = git(served / "gitops.git", "show", "main:clusters/local/flux-system/gotk-sync.yaml")
        assert "secretRef:\n    name: git-auth" in written and "s3cret" not in written

        async def fetch_root() -> None:
            reactor = Reactor(world, idle_start=True)
            reactor.request(ROOT_SOURCE)
            await reactor.run_until_idle()

        asyncio.run(fetch_root())
    ready, message = statuses.ready_of(store.get_status(ROOT_SOURCE)), str(store.get_status(ROOT_SOURCE))
    assert ready is True, message
    assert store.get_status(ROOT_SOURCE)["artifact"]["commit"] == result.commit


def test_wait_reports_unhealthy_objects_by_name(cluster: Cluster) -> None:
    cluster.write(
        {"clusters/local/apps.yaml": APPS_KS.replace("  prune: true", "  prune: true\n  wait: true\n  timeout: 5s")}
    )
    cluster.commit("wait")
    cluster.target.set_health(WEB, "Failed", "container web exited with code 1")
    cluster.run(ROOT_SOURCE)
    ready, text = cluster.ready(APPS)
    assert ready is False
    assert "health check failed: Deployment/dev/web Failed: container web exited with code 1" in text
    assert statuses.condition_of(cluster.status(APPS))["reason"] == statuses.HEALTH_CHECK_FAILED  # type: ignore[index]
    cluster.target.set_health(WEB, "InProgress", "1/2 replicas running")
    cluster.run(APPS)
    assert "Deployment/dev/web InProgress: 1/2 replicas running" in cluster.ready(APPS)[1]  # until the timeout
    cluster.target.clear_health(WEB)
    cluster.run(APPS)
    assert cluster.ready(APPS)[0] is True


def test_health_checks_name_only_the_listed_objects(cluster: Cluster) -> None:
    checks = "  healthChecks:\n    - kind: Deployment\n      name: web\n      namespace: dev\n"
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace("  prune: true\n", "  prune: true\n" + checks)})
    cluster.commit("health checks")
    cluster.target.set_health(ObjectKey("ConfigMap", "dev", "web-config"), "Failed", "not checked")
    cluster.run(ROOT_SOURCE)
    assert cluster.ready(APPS)[0] is True
    cluster.target.set_health(WEB, "Failed", "crashloop")
    cluster.run(APPS)
    assert "Deployment/dev/web Failed: crashloop" in cluster.ready(APPS)[1]


def test_force_reapplies_unchanged_objects(cluster: Cluster) -> None:
    writes = cluster.target.calls["apply.write"]
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace("  prune: true", "  prune: true\n  force: true")})
    cluster.commit("force")
    cluster.run(ROOT_SOURCE)
    assert cluster.target.calls["apply.write"] == writes + 2


def test_intervals_and_retry_intervals_schedule_the_next_run(cluster: Cluster) -> None:
    """With a fake clock: success comes back after interval, failure after retryInterval."""
    cluster.write({"clusters/local/apps.yaml": APPS_KS.replace("interval: 1m", "interval: 10m\n  retryInterval: 30s")})
    cluster.commit("intervals")
    cluster.run(ROOT_SOURCE)

    async def schedule() -> tuple[float, float]:
        reactor = Reactor(cluster.world, idle_start=True)
        reactor.request(APPS)
        await reactor.run_until_idle()
        ok = reactor.states[APPS].due - cluster.clock.monotonic()
        cluster.target.fail_on.add(WEB)
        cluster.target.delete(WEB)
        reactor.request(APPS)
        await reactor.run_until_idle()
        return ok, reactor.states[APPS].due - cluster.clock.monotonic()

    after_success, after_failure = asyncio.run(schedule())
    assert after_success == pytest.approx(600)
    assert after_failure == pytest.approx(30)

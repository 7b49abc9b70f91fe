"""Image automation through the reconcile loop: a real docker-registry on loopback, real git, real kustomize.

The chain under test is Flux's: an ImageRepository scan stores tags, its ImagePolicy picks the
latest, the ImageUpdateAutomation commits the new tag to the GitOps repository and pushes, and
the Kustomization applies it. Podman is replaced by the recording target (the podman e2e test
is test_e2e_images.py); every other piece is real.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.registry as local
from gitferry.api.meta import ObjectKey
from gitferry.sources import worktree
from tests.conftest import git
from tests.gitops import image_automation_yaml, marked_deployment
from tests.test_controllers import ROOT, ROOT_SOURCE, Cluster

REPO = ObjectKey("ImageRepository", "flux-system", "app")
POLICY = ObjectKey("ImagePolicy", "flux-system", "app")
AUTOMATION = ObjectKey("ImageUpdateAutomation", "flux-system", "app")
APPS = ObjectKey("Kustomization", "flux-system", "apps")
WEB = ObjectKey("Deployment", "dev", "web")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[local.LocalRegistry]:
    with local.serve_registry(tmp_path / "registry") as reg:
        local.upload_tiny_image(reg, "app", "1.0.0")
        yield reg


def following_app(tmp_path: Path, registry: local.LocalRegistry, message: str) -> Cluster:
    """The seed's GitOps repository with a deployment at app:1.0.0 and the three image objects, reconciled."""
    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster")
    cluster.write(
        {
            "apps/web.yaml": marked_deployment(f"{registry.image('app')}:1.0.0"),
            "clusters/local/images.yaml": image_automation_yaml(registry.image("app")),
        }
    )
    cluster.commit(message)
    cluster.run()
    return cluster


@pytest.fixture
def images(tmp_path: Path, registry: local.LocalRegistry) -> Cluster:
    return following_app(tmp_path, registry, "web follows the app image")


def bare_log(cluster: Cluster, branch: str = "main") -> list[str]:
    return git(cluster.bare, "log", "--format=%an <%ae>|%s", branch).splitlines()


def deployed_image(cluster: Cluster) -> str:
    web = cluster.target.get(WEB)
    assert web is not None
    return str(web["spec"]["template"]["spec"]["containers"][0]["image"])


def test_steady_state_scans_selects_and_commits_nothing(images: Cluster, registry: local.LocalRegistry) -> None:
    for key in (REPO, POLICY, AUTOMATION, APPS):
        ready, message = images.ready(key)
        assert ready is True, f"{key}: {message}"
    scan = images.status(REPO)["lastScanResult"]
    assert scan["tagCount"] == 1 and scan["latestTags"] == ["1.0.0"]
    assert images.status(POLICY)["latestRef"] == {"name": registry.image("app"), "tag": "1.0.0"}
    assert images.ready(AUTOMATION)[1] == "repository up-to-date"
    assert bare_log(images)[0].endswith("|web follows the app image")
    assert deployed_image(images) == f"{registry.image('app')}:1.0.0"


def test_a_new_tag_is_committed_with_the_template_and_deployed(images: Cluster, registry: local.LocalRegistry) -> None:
    local.add_tags(registry, "app", "1.0.0", ["1.0.1", "2.0.0", "1.0.1-rc.1"])
    images.run(REPO)
    assert images.status(POLICY)["latestRef"]["tag"] == "1.0.1"
    assert images.status(POLICY)["observedPreviousRef"]["tag"] == "1.0.0"
    assert images.ready(POLICY)[1] == f"Latest image tag for '{registry.image('app')}' updated from 1.0.0 to 1.0.1"
    log = bare_log(images)
    assert log[0] == "Image Bot <bot@example.com>|Automated image update"
    body = git(images.bare, "log", "-1", "--format=%B", "main")
    assert body == (
        "Automated image update\n\nAutomation name: flux-system/app\n\n"
        f"{registry.image('app')}:1.0.0 -> {registry.image('app')}:1.0.1\n\n"
    )
    status = images.status(AUTOMATION)
    head = git(images.bare, "rev-parse", "main").strip()
    assert status["lastPushCommit"] == head
    assert status["observedSourceRevision"] == f"main@sha1:{head}"
    assert images.ready(AUTOMATION)[1] == f"pushed commit '{head[:7]}' to branch 'main'"
    # Every other byte of the file is kept: the comment, the quotes, the marker.
    git(images.work, "pull", "-q", "origin", "main")
    text = (images.work / "apps/web.yaml").read_text()
    assert text == marked_deployment(f"{registry.image('app')}:1.0.1")
    # The push woke the source, so the new image is applied in the same round, not at the next interval.
    assert images.status(ROOT_SOURCE)["artifact"]["commit"] == head
    assert deployed_image(images) == f"{registry.image('app')}:1.0.1"
    # Nothing new: no clone, no commit.
    images.run(REPO, AUTOMATION)
    assert len(bare_log(images)) == len(log)


def test_registry_down_keeps_the_latest_image_and_commits_nothing(tmp_path: Path) -> None:
    with local.serve_registry(tmp_path / "registry") as registry:
        local.upload_tiny_image(registry, "app", "1.0.0")
        cluster = following_app(tmp_path, registry, "web follows the app image")
        assert cluster.ready(POLICY)[0] is True
    commits = len(bare_log(cluster))
    cluster.run(REPO)
    ready, message = cluster.ready(REPO)
    assert ready is False
    assert message.startswith("ImageRepository flux-system/app: ")
    assert registry.host in message and "policies keep the tags of the last good scan" in message
    assert cluster.status(POLICY)["latestRef"]["tag"] == "1.0.0"
    assert cluster.ready(POLICY)[0] is True
    cluster.run(AUTOMATION)
    assert len(bare_log(cluster)) == commits


def test_invalid_range_stalls_the_policy_and_quotes_it(images: Cluster, registry: local.LocalRegistry) -> None:
    images.write({"clusters/local/images.yaml": image_automation_yaml(registry.image("app"), semver_range=">=1.0 <<2")})
    images.commit("typo in the range")
    images.run(ROOT_SOURCE)
    ready, message = images.ready(POLICY)
    assert ready is False
    assert "spec.policy.semver.range '>=1.0 <<2' is not a valid semver range" in message
    assert "latest image stays" in message and message.endswith(":1.0.0)")
    assert any(c["type"] == "Stalled" for c in images.status(POLICY)["conditions"])


def test_a_marker_naming_a_missing_policy_is_reported_and_the_others_updated(
    images: Cluster, registry: local.LocalRegistry
) -> None:
    images.write(
        {
            "apps/worker.yaml": marked_deployment(f"{registry.image('app')}:0.9", "flux-system:nope").replace(
                "name: web", "name: worker"
            )
        }
    )
    images.commit("a worker following a policy that does not exist")
    local.add_tags(registry, "app", "1.0.0", ["1.0.2"])
    images.run(ROOT_SOURCE, REPO)
    ready, message = images.ready(AUTOMATION)
    assert ready is True
    assert "1 markers not applied: worker.yaml:" in message and "flux-system:nope" in message
    git(images.work, "pull", "-q", "origin", "main")
    assert f"{registry.image('app')}:1.0.2" in (images.work / "apps/web.yaml").read_text()
    assert f"{registry.image('app')}:0.9" in (images.work / "apps/worker.yaml").read_text()


def test_a_push_rejected_because_the_branch_moved_is_retried_without_losing_commits(
    images: Cluster, registry: local.LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = worktree.clone_branch
    moved: list[bool] = []

    async def clone_then_someone_pushes(*args: object, **kwargs: object) -> None:
        await clone(*args, **kwargs)  # type: ignore[arg-type]
        if not moved:  # a person pushes between our clone and our push, once
            moved.append(True)
            images.write({"README.md": "someone else's change\n"})
            images.commit("a person's commit")

    monkeypatch.setattr(worktree, "clone_branch", clone_then_someone_pushes)
    local.add_tags(registry, "app", "1.0.0", ["1.0.3"])
    images.run(REPO)
    assert images.ready(AUTOMATION)[0] is True
    log = bare_log(images)
    assert log[0] == "Image Bot <bot@example.com>|Automated image update"
    assert log[1].endswith("|a person's commit")


def test_a_push_branch_collects_updates_and_leaves_the_checkout_branch_alone(
    images: Cluster, registry: local.LocalRegistry
) -> None:
    images.write(
        {"clusters/local/images.yaml": image_automation_yaml(registry.image("app"), push_branch="image-updates")}
    )
    images.commit("updates go to a branch for review")
    images.run(ROOT_SOURCE)
    main_before = bare_log(images)
    local.add_tags(registry, "app", "1.0.0", ["1.0.4"])
    images.run(REPO)
    local.add_tags(registry, "app", "1.0.0", ["1.0.5"])
    images.run(REPO)
    assert bare_log(images) == main_before
    updates = bare_log(images, "image-updates")
    assert updates[:2] == ["Image Bot <bot@example.com>|Automated image update"] * 2
    assert updates[2:] == main_before
    assert images.ready(AUTOMATION)[1].endswith("to branch 'image-updates'")
    assert deployed_image(images) == f"{registry.image('app')}:1.0.0"  # main did not change


def test_a_template_that_does_not_parse_stalls_the_automation(images: Cluster, registry: local.LocalRegistry) -> None:
    broken = image_automation_yaml(registry.image("app")).replace(
        "{{ .AutomationObject }}", "{{ nosuchfunc .AutomationObject }}"
    )
    images.write({"clusters/local/images.yaml": broken})
    images.commit("broken template")
    images.run(ROOT_SOURCE)
    ready, message = images.ready(AUTOMATION)
    assert ready is False
    assert "field spec.git.commit.messageTemplate: template line 3" in message
    assert 'function "nosuchfunc" not defined' in message
    assert any(c["type"] == "Stalled" for c in images.status(AUTOMATION)["conditions"])
    assert images.ready(ROOT)[0] is True  # the other objects of the commit were applied


def test_a_locked_registry_needs_the_secret_and_says_so(tmp_path: Path) -> None:
    with local.serve_registry(tmp_path / "registry", username="ferry", password="s3cret") as registry:
        local.upload_tiny_image(registry, "app", "1.0.0")
        cluster = following_app(tmp_path, registry, "no credentials yet")
        ready, message = cluster.ready(REPO)
        assert ready is False
        assert "authentication" in message.lower() and registry.host in message
        assert cluster.ready(POLICY)[1].endswith("has not been scanned yet")
        ready, message = cluster.ready(AUTOMATION)
        assert ready is False and "no ImagePolicy in namespace 'flux-system' has selected an image yet" in message

        secret = textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Secret
            metadata:
              name: registry-auth
              namespace: flux-system
            type: kubernetes.io/dockerconfigjson
            stringData:
              .dockerconfigjson: '{registry.dockerconfigjson()}'
            """
        )
        with_secret = image_automation_yaml(registry.image("app")).replace(
            "  insecure: true\n", "  insecure: true\n  secretRef:\n    name: registry-auth\n", 1
        )
        cluster.write({"clusters/local/registry-auth.yaml": secret, "clusters/local/images.yaml": with_secret})
        cluster.commit("registry credentials")
        cluster.run(ROOT_SOURCE)
        assert cluster.ready(REPO) == (True, "successful scan: found 1 tags")
        assert cluster.status(POLICY)["latestRef"]["tag"] == "1.0.0"
        assert "s3cret" not in str(cluster.store.events(limit=1000))


def test_a_bad_exclusion_pattern_stalls_the_repository_and_quotes_it(
    images: Cluster, registry: local.LocalRegistry
) -> None:
    bad = image_automation_yaml(registry.image("app")).replace(
        "  insecure: true\n", "  insecure: true\n  exclusionList: ['^.*[.]sig$', 'beta(']\n", 1
    )
    images.write({"clusters/local/images.yaml": bad})
    images.commit("a bad exclusion pattern")
    images.run(ROOT_SOURCE)
    ready, message = images.ready(REPO)
    assert ready is False
    assert "field spec.exclusionList[1]: 'beta(' is not a valid regular expression" in message
    assert any(c["type"] == "Stalled" for c in images.status(REPO)["conditions"])
    assert images.status(POLICY)["latestRef"]["tag"] == "1.0.0"


def test_digest_reflection_pins_the_image_by_digest(images: Cluster, registry: local.LocalRegistry) -> None:
    digest = local.upload_tiny_image(registry, "app", "1.0.0")
    images.write({"clusters/local/images.yaml": image_automation_yaml(registry.image("app"), digests="IfNotPresent")})
    images.commit("pin images by digest")
    images.run(ROOT_SOURCE)
    latest = images.status(POLICY)["latestRef"]
    assert latest == {"name": registry.image("app"), "tag": "1.0.0", "digest": digest}
    git(images.work, "pull", "-q", "origin", "main")
    assert f'"{registry.image("app")}:1.0.0@{digest}"' in (images.work / "apps/web.yaml").read_text()
    assert deployed_image(images) == f"{registry.image('app')}:1.0.0@{digest}"

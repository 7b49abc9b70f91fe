"""Issue 3's end to end test: a new image in a real registry reaches running pods with nobody involved.

Real ``docker-registry`` on loopback, images built and pushed by buildah, the real ``gitferry up``
process, real git and real podman. The deployment in the GitOps repository carries a Setters
marker; pushing ``app:1.0.1`` must produce one automation commit ``1.0.0 -> 1.0.1`` with the
templated message, and the pods must then serve the new image.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.registry as local
from tests.conftest import git, remove_pods_with_prefix
from tests.gitops import GitOpsRepo, free_port_block, http_get, image_automation_yaml, wait_for

pytestmark = [pytest.mark.podman, pytest.mark.e2e]

SCAN_INTERVAL = 1  # seconds, as in the latency figure

# Flux's doc form: print/println, trim markers, and "[ci skip]" so a CI trigger ignores the commit.
TEMPLATE = """\
[ci skip] {{ .AutomationObject }}: update images

{{ range .Changed.Changes -}}
{{ print .OldValue }} -> {{ println .NewValue -}}
{{ end -}}
"""


def build_app_image(base: str, version: str, tmp: Path) -> str:
    """An image whose /version says which build it is; returns its local name."""
    context = tmp / f"app-{version}"
    context.mkdir()
    (context / "Containerfile").write_text(f'FROM {base}\nRUN ["/bin/sh", "-c", "echo {version} > /version"]\n')
    name = f"localhost/gitferry-test/app:{version}"
    subprocess.run(
        ["buildah", "build", "--isolation=chroot", "-q", "-t", name, str(context)], check=True, capture_output=True
    )
    return name


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[local.LocalRegistry]:
    with local.serve_registry(tmp_path / "registry") as reg:
        yield reg


def test_a_pushed_image_is_committed_and_served(
    tmp_path: Path, registry: local.LocalRegistry, busybox_image: str, podman_namespace: str
) -> None:
    local.push_with_buildah(registry, build_app_image(busybox_image, "1.0.0", tmp_path), "app", "1.0.0")
    dev = free_port_block()
    prefix = podman_namespace + "-"
    image = registry.image("app")
    repo = GitOpsRepo(tmp_path, dev_port=dev, staging_port=free_port_block(), image=f"{image}:1.0.0", prefix=prefix)
    repo.edit(
        "apps/base/deployment.yaml",
        f"image: {image}:1.0.0",
        f'image: {image}:1.0.0 # {{"$imagepolicy": "flux-system:app"}}',
    )
    repo.edit("apps/base/deployment.yaml", '"$MESSAGE from $HOSTNAME"', '"$MESSAGE, image $(cat /version)"')
    objects = image_automation_yaml(image, scan_interval=f"{SCAN_INTERVAL}s", semver_range="1.0.x", template=TEMPLATE)
    (repo.work / "clusters/local/images.yaml").write_text(objects)
    repo.commit("web follows the app image")
    data_dir = tmp_path / "data"
    gitferry = [sys.executable, "-m", "gitferry", "--data-dir", str(data_dir), "--no-tls-verify"]
    subprocess.run([*gitferry, "bootstrap", "--url", repo.url, "--interval", "1m"], check=True, capture_output=True)
    with (tmp_path / "up.log").open("w") as log:
        daemon = subprocess.Popen([*gitferry, "-v", "up", "--no-live"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "image 1.0.0" in (http_get(dev) or ""), 120, what="dev serving app 1.0.0")
        commits_before = len(git(repo.bare, "rev-list", "main").split())

        local.push_with_buildah(registry, build_app_image(busybox_image, "1.0.1", tmp_path), "app", "1.0.1")
        pushed = time.monotonic()
        subject = wait_for(
            lambda: (
                git(repo.bare, "log", "-1", "--format=%s", "main").strip().endswith(": update images")
                and git(repo.bare, "log", "-1", "--format=%B", "main")
            ),
            SCAN_INTERVAL + 15,
            interval=0.05,
            what="the automation commit",
        )
        committed = time.monotonic() - pushed
        assert subject == (f"[ci skip] flux-system/app: update images\n\n{image}:1.0.0 -> {image}:1.0.1\n\n"), subject
        assert git(repo.bare, "log", "-1", "--format=%an <%ae>", "main").strip() == ("Image Bot <bot@example.com>")
        assert len(git(repo.bare, "rev-list", "main").split()) == commits_before + 1
        wait_for(lambda: "image 1.0.1" in (http_get(dev) or ""), 90, what="dev serving app 1.0.1")
        # One commit only: later scans find the repository up to date.
        time.sleep(SCAN_INTERVAL * 3)
        assert len(git(repo.bare, "rev-list", "main").split()) == commits_before + 1
        wide = {**os.environ, "COLUMNS": "250"}
        listed = subprocess.run(
            [*gitferry, "get", "images", "policy"], check=True, capture_output=True, text=True, env=wide
        )
        assert f"{image}:1.0.1" in listed.stdout and "updated from 1.0.0 to 1.0.1" in listed.stdout
        print(f"registry push -> GitOps commit: {committed:.2f}s")
    finally:
        daemon.terminate()
        daemon.wait(30)
        remove_pods_with_prefix(prefix)
        local.remove_local_images("localhost/gitferry-test/app:")

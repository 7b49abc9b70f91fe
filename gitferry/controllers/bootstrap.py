"""Bootstrap: write the two root objects into the GitOps repository and register them.

As ``flux bootstrap`` does, the repository gets ``<path>/flux-system/gotk-sync.yaml`` (a
GitRepository and a Kustomization named ``flux-system``) and a kustomization.yaml; from then on
everything under ``<path>`` is applied, including further GitRepositories and Kustomizations.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitferry.api.kustomizations import parse_kustomization
from gitferry.api.manifests import Resource, dump_documents
from gitferry.api.sources import parse_git_repository
from gitferry.controllers.gitrepository import credentials_for
from gitferry.controllers.world import World
from gitferry.sources import refs, worktree
from gitferry.sources.remote import RemoteSession
from gitferry.store.sqlite import BOOTSTRAP_OWNER

ROOT_NAME = "flux-system"
ROOT_NAMESPACE = "flux-system"


@dataclass(frozen=True)
class BootstrapResult:
    commit: str | None  # None when the repository already held these files
    files: list[str]
    objects: list[Resource]


def root_objects(url: str, branch: str, path: str, interval: str, secret_ref: str | None = None) -> list[Resource]:
    clean = "./" + path.strip().removeprefix("./").strip("/")
    source: Resource = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": ROOT_NAME, "namespace": ROOT_NAMESPACE},
        "spec": {"interval": interval, "ref": {"branch": branch}, "url": url},
    }
    if secret_ref:
        source["spec"]["secretRef"] = {"name": secret_ref}
    kustomization: Resource = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": ROOT_NAME, "namespace": ROOT_NAMESPACE},
        "spec": {
            "interval": interval,
            "path": clean,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": ROOT_NAME},
        },
    }
    # Validate with the same models the controllers use: bootstrap must not write what they reject.
    parse_git_repository(source, "bootstrap")
    parse_kustomization(kustomization, "bootstrap")
    return [source, kustomization]


async def bootstrap(
    world: World, *, url: str, branch: str, path: str, interval: str = "1m", secret_ref: str | None = None
) -> BootstrapResult:
    """``secret_ref`` names a Secret (``gitferry create secret git``) whose credentials are used to
    push here and are referenced by the GitRepository for every later fetch."""
    objects = root_objects(url, branch, path, interval, secret_ref)
    repo = parse_git_repository(objects[0], "bootstrap")
    credentials = credentials_for(repo, world)
    folder = Path(path.strip().removeprefix("./").strip("/")) / "flux-system"
    files = {
        folder / "gotk-sync.yaml": "# Written by gitferry bootstrap: the root source and Kustomization.\n"
        + dump_documents(objects),
        folder / "kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- gotk-sync.yaml\n",
    }
    with tempfile.TemporaryDirectory(prefix="gitferry-bootstrap-") as tmp:
        checkout = Path(tmp) / "repo"
        async with RemoteSession(repo, refs.target_of(repo.spec.ref), credentials) as remote:
            await worktree.clone_branch(remote, checkout, branch)
            for relative, text in files.items():
                target = checkout / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            commit = await worktree.commit_all(checkout, f"Add gitferry sync manifests for {folder.parent}")
            if commit is not None:
                await worktree.push(remote, checkout, branch)
    for obj in objects:
        world.store.put_object(obj, owner=BOOTSTRAP_OWNER, origin=str(folder / "gotk-sync.yaml"))
    return BootstrapResult(commit=commit, files=[str(f) for f in files], objects=objects)

"""The Git source: fetch a GitRepository's reference and export it as an artifact directory.

One bare mirror per GitRepository lives under ``<storage>/repos/<namespace>/<name>.git``; each
fetch asks the remote (``git ls-remote``) where the reference points first, so an unchanged
source costs one round trip and no fetch, as Flux's source-controller does. Only the needed ref
is fetched, shallow. ``refs`` decides which ref and what revision string, ``artifacts`` builds
the directory, ``ignore`` and ``semver`` hold the pure rules.

Secrets never reach argv or messages: basic and bearer credentials travel as an
``http.<url>.extraHeader`` set through ``GIT_CONFIG_*`` variables, an SSH key as a 0600 file
named in ``GIT_SSH_COMMAND``. Every git failure becomes a ``GitError`` naming the
GitRepository, its URL and its reference.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitferry import process
from gitferry.api import semver
from gitferry.api.sources import GitRepository
from gitferry.errors import CommandError, DependencyNotReadyError, GitError
from gitferry.sources import artifacts, refs
from gitferry.sources.remote import GitCredentials, RemoteSession

__all__ = ["Artifact", "GitCredentials", "fetch", "resolve_remote"]

# Neutralise .gitattributes for the export: Flux's checkout applies no export-ignore,
# export-subst, end-of-line conversion or filters, so neither may git archive.
_EXPORT_ATTRIBUTES = "* -export-ignore -export-subst -text -eol -filter -ident -working-tree-encoding\n"


@dataclass(frozen=True)
class Artifact:
    revision: str  # as Flux writes it: main@sha1:<sha>, v1.2.0@sha1:<sha>, sha1:<sha>, refs/x@sha1:<sha>
    commit: str
    path: Path  # directory holding the tree after ignore rules and includes
    digest: str  # sha256:<hex> over the files
    message: str  # commit subject
    author: str  # Name <email>


async def resolve_remote(repo: GitRepository, *, storage: Path, credentials: GitCredentials | None = None) -> str:
    """The commit the followed reference points at on the remote now (``git ls-remote``, no fetch).

    ``storage`` is part of the interface for symmetry with ``fetch``; nothing is written there.
    """
    target = refs.target_of(repo.spec.ref)
    async with RemoteSession(repo, target, credentials) as remote:
        _, commit = await _remote_commit(remote, target)
    return commit


def mirror_path(storage: Path, namespace: str, name: str) -> Path:
    """The bare mirror a GitRepository fetches into."""
    return storage / "repos" / namespace / f"{name}.git"


async def show_commit(storage: Path, namespace: str, name: str, commit: str) -> str:
    """``git show --stat`` of a commit the GitRepository fetched: what the web page of a revision shows."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise GitError(f"{commit!r} is not a commit id")
    mirror = mirror_path(storage, namespace, name)
    argv = ["git", "--git-dir", str(mirror), "show", "--stat", "--format=fuller", "--no-color", commit, "--"]
    try:
        done = await process.run(argv, timeout=30)
    except CommandError as e:
        raise GitError(f"GitRepository {namespace}/{name}: commit {commit} is not in its mirror {mirror}") from e
    return done.stdout


async def fetch(
    repo: GitRepository,
    *,
    storage: Path,
    credentials: GitCredentials | None = None,
    last: Artifact | None = None,
    includes: Mapping[str, Artifact] | None = None,
) -> Artifact:
    """Produce the artifact for the reference's current commit; return ``last`` if nothing changed."""
    target = refs.target_of(repo.spec.ref)
    copies = _include_copies(repo, includes or {})
    inputs = artifacts.inputs_digest(repo.spec.ignore, copies)
    parent = storage / "artifacts" / repo.metadata.namespace / repo.metadata.name
    mirror = mirror_path(storage, repo.metadata.namespace, repo.metadata.name)
    async with RemoteSession(repo, target, credentials) as remote:
        full_ref, commit = await _remote_commit(remote, target)
        if last is not None and _unchanged(last, refs.revision(target, full_ref, commit), inputs):
            return last
        await _prepare_mirror(remote, mirror)
        commit = await _fetch_into(remote, mirror, target, full_ref, commit)
        author, message = await _describe_commit(remote, mirror, commit)
        parent.mkdir(parents=True, exist_ok=True)
        archive = parent / f"{artifacts.BUILDING_PREFIX}{uuid.uuid4().hex}.tar"
        try:
            await remote.local(mirror, "archive", "--format=tar", f"--output={archive}", commit)
            path, digest = await asyncio.to_thread(
                artifacts.build,
                archive,
                parent,
                commit=commit,
                inputs=inputs,
                spec_ignore=repo.spec.ignore,
                includes=copies,
                describe=remote.who,
            )
        finally:
            archive.unlink(missing_ok=True)
    return Artifact(refs.revision(target, full_ref, commit), commit, path, digest, message, author)


def _unchanged(last: Artifact, revision: str, inputs: str) -> bool:
    """Flux's no-op: same revision, same ignore/include inputs, and the directory still there."""
    expected = artifacts.directory_name(last.commit, inputs)
    return last.revision == revision and last.path.name == expected and last.path.is_dir()


def _include_copies(repo: GitRepository, includes: Mapping[str, Artifact]) -> list[artifacts.IncludeCopy]:
    copies = []
    for include in repo.spec.include:
        name = include.repository.name
        artifact = includes.get(name)
        if artifact is None:
            raise DependencyNotReadyError(
                f"GitRepository {repo.metadata.namespace}/{repo.metadata.name}: included GitRepository "
                f"{repo.metadata.namespace}/{name} has no artifact yet"
            )
        copies.append(artifacts.IncludeCopy(name, artifact.path, artifact.digest, include.from_path, include.to_path))
    return copies


async def _remote_commit(remote: RemoteSession, target: refs.Target) -> tuple[str, str]:
    """The full ref and the commit it points at on the remote, from one ``git ls-remote``."""
    if target.kind == "commit":
        # A commit cannot move: nothing to ask the remote until it has to be fetched.
        return target.full_ref(), target.value
    if target.kind == "semver":
        listed = refs.parse_ls_remote(await remote.remote("ls-remote", "--tags", remote.url, action="listing tags"))
        tag = semver.highest_matching(refs.tag_names(listed), target.value)
        if tag is None:
            raise remote.error(f"no tag matches semver range '{target.value}'")
        full_ref = f"refs/tags/{tag}"
    else:
        full_ref = target.full_ref()
        patterns = [full_ref, full_ref + "^{}"]
        listed = refs.parse_ls_remote(await remote.remote("ls-remote", remote.url, *patterns, action="listing refs"))
    commit = refs.commit_of(listed, full_ref)
    if commit is None:
        raise remote.error(f"{target.describe()} not found")
    return full_ref, commit


async def _prepare_mirror(remote: RemoteSession, mirror: Path) -> None:
    """Create the bare mirror; start afresh when the URL changed, so no object of another repository is used."""
    url_file = mirror / "gitferry-url"
    if mirror.exists() and (not url_file.exists() or url_file.read_text() != remote.url):
        await asyncio.to_thread(shutil.rmtree, mirror)
    if not mirror.exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        await remote.local(None, "init", "--quiet", "--bare", str(mirror))
        url_file.write_text(remote.url)
    (mirror / "info").mkdir(exist_ok=True)
    (mirror / "info" / "attributes").write_text(_EXPORT_ATTRIBUTES)


async def _fetch_into(remote: RemoteSession, mirror: Path, target: refs.Target, full_ref: str, commit: str) -> str:
    """Fetch what the artifact needs into the mirror and return the commit to export."""
    if target.kind != "commit":
        local = refs.local_ref(full_ref)
        action = f"fetching {target.describe()}"
        await remote.fetch(mirror, f"+{full_ref}:{local}", options=("--depth=1",), action=action)
        return await remote.local(mirror, "rev-parse", "--verify", f"{local}^{{commit}}")
    if target.branch:
        # The whole branch, since Flux requires the commit to be in its history.
        local = refs.local_ref(full_ref)
        shallow = await remote.local(mirror, "rev-parse", "--is-shallow-repository") == "true"
        options = ("--unshallow",) if shallow else ()
        await remote.fetch(mirror, f"+{full_ref}:{local}", options=options, action=f"fetching branch '{target.branch}'")
        if not await remote.succeeds(mirror, "merge-base", "--is-ancestor", commit, local):
            raise remote.error(f"commit '{commit}' is not in branch '{target.branch}'")
        return commit
    if not await remote.succeeds(mirror, "cat-file", "-e", f"{commit}^{{commit}}"):
        try:
            await remote.fetch(mirror, commit, action=f"fetching commit '{commit}'")
        except GitError:
            # Servers that refuse to serve an unadvertised commit: take every branch and tag.
            everything = ["+refs/heads/*:refs/gitferry/heads/*", "+refs/tags/*:refs/gitferry/tags/*"]
            await remote.fetch(mirror, *everything, action=f"fetching all branches to find commit '{commit}'")
        if not await remote.succeeds(mirror, "cat-file", "-e", f"{commit}^{{commit}}"):
            raise remote.error(f"commit '{commit}' not found")
    return commit


async def _describe_commit(remote: RemoteSession, mirror: Path, commit: str) -> tuple[str, str]:
    """The author (``Name <email>``) and subject of a commit."""
    out = await remote.local(mirror, "log", "-1", "--format=%an%x00%ae%x00%s", commit)
    parts = out.split("\0", 2)
    name, email, subject = parts + [""] * (3 - len(parts))
    return f"{name} <{email}>", subject

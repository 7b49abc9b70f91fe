"""A bare mirror of an application repository, for CI: which branches moved, what ``.tekton/`` holds
at a commit, and a work tree of that commit for a pipeline's workspace.

Commands that reach the remote go through the ``RemoteSession`` (credentials in the environment,
failures as GitError naming the repository); the rest run on the local mirror.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePosixPath

from gitferry import process
from gitferry.errors import CommandError, GitError
from gitferry.sources.remote import RemoteSession

YAML_SUFFIXES = (".yaml", ".yml")


class Mirror:
    def __init__(self, remote: RemoteSession, path: Path) -> None:
        self.remote = remote
        self.path = path

    async def heads(self) -> dict[str, str]:
        """Branch -> commit on the remote now."""
        listed = await self.remote.remote("ls-remote", "--heads", self.remote.url, action="listing branches")
        out = {}
        for line in listed.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                out[ref.removeprefix("refs/heads/")] = sha
        return out

    async def fetch(self, branch: str) -> str:
        """Bring ``branch`` into the mirror (whole history: builds may describe tags); return its commit."""
        if not (self.path / "HEAD").exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            await self.remote.local(None, "init", "--quiet", "--bare", str(self.path))
        ref = f"refs/heads/{branch}"
        await self.remote.fetch(self.path, f"+{ref}:{ref}", action=f"fetching branch '{branch}'")
        return await self.remote.local(self.path, "rev-parse", "--verify", f"{ref}^{{commit}}")

    async def files(self, commit: str, folder: str) -> dict[str, str]:
        """The YAML files under ``folder`` at ``commit`` (path -> text); empty when there is no such folder."""
        listed = await self.remote.local(self.path, "ls-tree", "-r", "--name-only", commit, "--", folder)
        out = {}
        for name in sorted(listed.splitlines()):
            if PurePosixPath(name).suffix in YAML_SUFFIXES:
                out[name] = await self.remote.local(self.path, "show", f"{commit}:{name}")
        return out

    async def describe(self, commit: str) -> tuple[str, str]:
        """Author (``Name <email>``) and the whole message of ``commit``."""
        out = await self.remote.local(self.path, "log", "-1", "--format=%an <%ae>%x00%B", commit)
        author, _, message = out.partition("\x00")
        return author, message.strip()

    async def checkout(self, commit: str, dest: Path) -> None:
        """A work tree of ``commit`` at ``dest``, with its history (objects shared with the mirror)."""
        if dest.exists():
            await asyncio.to_thread(shutil.rmtree, dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            await process.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(self.path), str(dest)])
            await process.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", commit], cwd=dest)
        except CommandError as e:
            raise GitError(f"{self.remote.who}: cannot check out commit {commit[:12]}: {e}", argv=e.argv) from e


async def clone_url(url: str, revision: str, dest: Path) -> None:
    """A plain clone of another repository (no credentials), at ``revision`` when one is given."""
    if dest.exists():
        await asyncio.to_thread(shutil.rmtree, dest)
    try:
        await process.run(["git", "clone", "--quiet", url, str(dest)], env={"GIT_TERMINAL_PROMPT": "0"})
        if revision:
            await process.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", revision], cwd=dest)
    except CommandError as e:
        raise GitError(f"cannot clone {url} at {revision or 'its default branch'}: {e}", argv=e.argv) from e

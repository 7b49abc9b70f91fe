"""Writing to a Git repository: clone a branch, commit what changed, push without force.

Used by bootstrap and by image update automations; reading sources lives in ``git.py``. Commands
that talk to the remote go through a ``RemoteSession``, so they carry the GitRepository's
credentials the same way fetches do (environment only, never argv) and fail with the same
messages; commands on the local clone run plainly.
"""

from __future__ import annotations

from pathlib import Path

from gitferry import process
from gitferry.errors import CommandError, GitError, PushRejectedError
from gitferry.sources.remote import RemoteSession

AUTHOR = ("gitferry", "gitferry@localhost")
# What git prints when the remote branch is not an ancestor of what we push.
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "Updates were rejected")


def _identity(author: tuple[str, str]) -> dict[str, str]:
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


async def _git(cwd: Path, *args: str, author: tuple[str, str] = AUTHOR, stdin: str | None = None) -> str:
    try:
        done = await process.run(["git", *args], cwd=cwd, env=_identity(author), stdin=stdin)
    except CommandError as e:
        raise GitError(str(e), argv=e.argv, stderr=e.stderr) from e
    return done.stdout


async def clone_branch(remote: RemoteSession, dest: Path, branch: str, *, start_from: str | None = None) -> None:
    """Clone ``branch`` into ``dest``.

    A branch the remote does not have yet starts from ``start_from`` when that one exists (a push
    branch made from the checkout branch, as Flux does), else empty (a new repository).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    await remote.remote("clone", "--quiet", "--no-checkout", remote.url, str(dest), action="cloning")
    # The clone holds every remote branch: which ones exist is a local question, no second round trip.
    listed = await _git(dest, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin/")
    heads = set(listed.split())
    base = next((b for b in (branch, start_from) if b is not None and b in heads), None)
    if base is None:
        await _git(dest, "checkout", "--quiet", "--orphan", branch)
    else:
        await _git(dest, "checkout", "--quiet", "-B", branch, f"origin/{base}")


async def head(repo: Path) -> str | None:
    """The commit checked out, or None on an unborn branch."""
    done = await process.run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=repo, check=False)
    return done.stdout.strip() or None


async def commit_all(repo: Path, message: str, author: tuple[str, str] = AUTHOR) -> str | None:
    """Commit every change in the work tree as ``author`` (name, email); None when nothing changed."""
    await _git(repo, "add", "--all")
    if not (await _git(repo, "status", "--porcelain")).strip():
        return None
    await _git(repo, "commit", "--quiet", "--no-verify", "--cleanup=verbatim", "-F", "-", author=author, stdin=message)
    return (await _git(repo, "rev-parse", "HEAD")).strip()


async def push(remote: RemoteSession, repo: Path, branch: str) -> None:
    """Push HEAD to ``branch``; PushRejectedError when the branch moved on (never a force-push)."""
    try:
        await remote.remote("-C", str(repo), "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", action="pushing")
    except GitError as e:
        if any(marker in e.stderr for marker in _REJECTED):
            raise PushRejectedError(
                f"{remote.who}: push to branch '{branch}' was rejected because the branch moved on",
                argv=e.argv,
                stderr=e.stderr,
            ) from e
        raise

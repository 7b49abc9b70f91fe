"""Writing to a Git repository: clone a branch, commit what changed, push without force.

Used by bootstrap (and by image automation later); reading sources lives in ``git.py``. Commands
that talk to the remote go through a ``RemoteSession``, so they carry the GitRepository's
credentials the same way fetches do (environment only, never argv) and fail with the same
messages; commands on the local clone run plainly.
"""

from __future__ import annotations

from pathlib import Path

from gitferry import process
from gitferry.errors import CommandError, GitError
from gitferry.sources.remote import RemoteSession

AUTHOR = ("gitferry", "gitferry@localhost")


def _identity(author: tuple[str, str]) -> dict[str, str]:
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_TERMINAL_PROMPT": "0",
    }


async def _git(cwd: Path, *args: str, timeout: float = 60.0) -> str:
    try:
        done = await process.run(["git", *args], cwd=cwd, env=_identity(AUTHOR), timeout=timeout)
    except CommandError as e:
        raise GitError(str(e), argv=e.argv, stderr=e.stderr) from e
    return done.stdout


async def clone_branch(remote: RemoteSession, dest: Path, branch: str) -> None:
    """Clone ``branch`` into ``dest``; an empty repository or a new branch starts empty."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    await remote.remote("clone", "--quiet", "--no-checkout", remote.url, str(dest), action="cloning")
    heads = await remote.remote("-C", str(dest), "ls-remote", "--heads", "origin", branch, action="listing branches")
    if heads.strip():
        await _git(dest, "checkout", "--quiet", "-B", branch, f"origin/{branch}")
    else:
        await _git(dest, "checkout", "--quiet", "--orphan", branch)


async def commit_all(repo: Path, message: str, author: tuple[str, str] = AUTHOR) -> str | None:
    """Commit every change in the work tree; None (and no commit) when nothing changed."""
    await _git(repo, "add", "--all")
    if not (await _git(repo, "status", "--porcelain")).strip():
        return None
    name, email = author
    await _git(repo, "-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "--quiet", "-m", message)
    return (await _git(repo, "rev-parse", "HEAD")).strip()


async def push(remote: RemoteSession, repo: Path, branch: str) -> None:
    """Push ``branch``; a rejected push (the branch moved) is an error, never a force-push."""
    await remote.remote("-C", str(repo), "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", action="pushing")

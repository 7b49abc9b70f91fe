"""Which Git reference a GitRepository follows, and the revision string Flux reports for it.

Flux's rules (source-controller docs and its git client):

- ``spec.ref`` fields take precedence ``commit`` > ``name`` > ``semver`` > ``tag`` > ``branch``.
- With no ``spec.ref`` (or an empty one) the ``master`` branch is followed.
- ``commit`` may be combined with ``branch``: the branch is fetched and must contain the commit.
- Revisions are ``<short ref>@sha1:<sha>`` where the short ref drops the first two parts of the
  full ref (``refs/heads/main`` -> ``main``, ``refs/tags/v1.2.0`` -> ``v1.2.0``); a bare commit is
  ``sha1:<sha>``; a ``name`` ref keeps the full name (``refs/pull/1/head@sha1:<sha>``).

Pure functions only: parsing ``git ls-remote`` output is here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gitferry.api import semver
from gitferry.api.sources import GitRef
from gitferry.errors import InvalidObjectError

DEFAULT_BRANCH = "master"

TargetKind = Literal["branch", "tag", "semver", "name", "commit"]

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
# What git check-ref-format forbids, reduced to what a user can get wrong in YAML.
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|[/.]$|\.lock$|^@$")


@dataclass(frozen=True)
class Target:
    """The reference to follow: ``value`` is the branch, tag, range, ref name or commit sha."""

    kind: TargetKind
    value: str
    branch: str = ""  # commit only: the branch that must contain it
    name: str = ""  # commit only: a ref name given next to it, which shapes the revision

    def describe(self) -> str:
        """How a message names this reference: ``branch 'main'``, ``semver range '^1.0'``."""
        label = {"branch": "branch", "tag": "tag", "semver": "semver range", "name": "ref", "commit": "commit"}
        return f"{label[self.kind]} '{self.value}'"

    def full_ref(self) -> str:
        """The remote ref to list and fetch; empty for a commit without a branch (and for semver)."""
        if self.kind == "branch":
            return f"refs/heads/{self.value}"
        if self.kind == "tag":
            return f"refs/tags/{self.value}"
        if self.kind == "name":
            return self.value
        if self.kind == "commit" and self.branch:
            return f"refs/heads/{self.branch}"
        return ""


def target_of(ref: GitRef | None) -> Target:
    """The reference a spec follows; InvalidObjectError for a value that can never resolve."""
    ref = ref or GitRef()
    if ref.commit:
        if not _FULL_SHA.match(ref.commit):
            raise InvalidObjectError(f"spec.ref.commit '{ref.commit}' must be a full lowercase commit SHA")
        return Target("commit", ref.commit, branch=_checked(ref.branch or "", "branch"), name=ref.name or "")
    if ref.name:
        if not ref.name.startswith("refs/") or _BAD_REF.search(ref.name[5:]):
            raise InvalidObjectError(f"spec.ref.name '{ref.name}' is not a full Git reference such as refs/heads/main")
        return Target("name", ref.name)
    if ref.semver:
        try:
            semver.parse_range(ref.semver)
        except ValueError as e:
            raise InvalidObjectError(f"spec.ref.semver '{ref.semver}' is not a valid semver range: {e}") from e
        return Target("semver", ref.semver)
    if ref.tag:
        return Target("tag", _checked(ref.tag, "tag"))
    return Target("branch", _checked(ref.branch or DEFAULT_BRANCH, "branch"))


def _checked(value: str, field: str) -> str:
    if value and _BAD_REF.search(value):
        raise InvalidObjectError(f"spec.ref.{field} '{value}' is not a valid Git {field} name")
    return value


def revision(target: Target, full_ref: str, sha: str) -> str:
    """The revision string Flux writes into ``status.artifact.revision``."""
    digest = f"{'sha1' if len(sha) == 40 else 'sha256'}:{sha}"
    name = target.value if target.kind == "name" else target.name
    if name:
        return f"{name}@{digest}"
    parts = full_ref.split("/", 2)
    return f"{parts[2]}@{digest}" if len(parts) == 3 else digest


def parse_ls_remote(output: str) -> dict[str, str]:
    """``git ls-remote`` output as ref name -> object id (peeled tags appear as ``<ref>^{}``)."""
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if name:
            refs[name.strip()] = sha.strip()
    return refs


def commit_of(refs: Mapping[str, str], full_ref: str) -> str | None:
    """The commit a ref points at: an annotated tag's peeled commit rather than the tag object."""
    return refs.get(full_ref + "^{}") or refs.get(full_ref)


def tag_names(refs: Mapping[str, str]) -> list[str]:
    """The tag names among listed refs, each once."""
    prefix = "refs/tags/"
    return sorted({name.removeprefix(prefix).removesuffix("^{}") for name in refs if name.startswith(prefix)})


def local_ref(full_ref: str) -> str:
    """Where the mirror keeps a fetched remote ref: a private namespace, never a local branch."""
    return "refs/gitferry/" + full_ref.removeprefix("refs/")

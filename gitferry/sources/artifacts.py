"""Artifact directories: build one from an exported tree, publish it atomically, prune old ones.

Layout: ``<storage>/artifacts/<namespace>/<name>/<sha>-<inputs>/`` where ``<inputs>`` is a short
digest of everything besides the commit that shapes the content (``spec.ignore``, the includes
and the included artifacts' digests). A directory under its final name is always complete:
it is built under a dot-name and renamed into place, and removed the same way in reverse.

These functions block on the filesystem; the git adapter runs them in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
import tarfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitferry.errors import InvalidObjectError
from gitferry.sources import ignore

# Bump when the way an artifact is built changes, so old directories are not reused.
LAYOUT_VERSION = 1
KEEP_ARTIFACTS = 2
BUILDING_PREFIX = ".tmp-"  # also for the archive the git adapter writes next to the artifacts
_DOOMED = ".old-"


@dataclass(frozen=True)
class IncludeCopy:
    """One ``spec.include`` entry resolved against the included GitRepository's artifact."""

    name: str
    source: Path  # the included artifact's directory
    digest: str
    from_path: str = ""
    to_path: str = ""


def inputs_digest(spec_ignore: str | None, includes: Sequence[IncludeCopy]) -> str:
    """Digest of what, besides the commit, decides the artifact's content."""
    inputs = {
        "layout": LAYOUT_VERSION,
        "ignore": spec_ignore,
        "include": [[i.name, i.from_path, i.to_path, i.digest] for i in includes],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def directory_name(commit: str, inputs: str) -> str:
    return f"{commit}-{inputs[:12]}"


def build(
    archive: Path,
    parent: Path,
    *,
    commit: str,
    inputs: str,
    spec_ignore: str | None,
    includes: Sequence[IncludeCopy],
    describe: str,
) -> tuple[Path, str]:
    """Turn a ``git archive`` tarball into a published artifact directory; return it and its digest.

    Order as in Flux: the tree, then the includes copied in, then the ignore rules over the whole.
    ``describe`` names the GitRepository in error messages.
    """
    parent.mkdir(parents=True, exist_ok=True)
    work = parent / f"{BUILDING_PREFIX}{uuid.uuid4().hex}"
    try:
        extract_regular_files(archive, work)
        for include in includes:
            copy_include(include, work, describe)
        remove_ignored(work, spec_ignore)
        digest = tree_digest(work)
        final = publish(work, parent / directory_name(commit, inputs))
    finally:
        if work.exists():
            shutil.rmtree(work)
    prune(parent, keep=final)
    return final, digest


def extract_regular_files(archive: Path, dest: Path) -> None:
    """Unpack regular files only: Flux leaves symlinks (and submodule placeholders) out."""
    dest.mkdir()
    with tarfile.open(archive) as tar:
        for member in tar:
            if not member.isfile():
                continue
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular member always has content
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            target.chmod(0o755 if member.mode & 0o111 else 0o644)


def copy_include(include: IncludeCopy, root: Path, describe: str) -> None:
    """Copy ``fromPath`` of an included artifact to ``toPath`` (default: the include's name)."""
    source = include.source / _inside(include.from_path)
    dest = root / _inside(include.to_path or include.name)
    where = f"{describe}: include '{include.name}'"
    if not source.exists():
        raise InvalidObjectError(f"{where}: fromPath '{include.from_path}' does not exist in its artifact")
    # Flux moves the included tree into place and fails when something non-empty is there.
    if (dest.is_dir() and any(dest.iterdir())) or (dest.exists() and source.is_dir() != dest.is_dir()):
        raise InvalidObjectError(f"{where}: toPath '{include.to_path or include.name}' already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=False)
    else:
        shutil.copyfile(source, dest)
        shutil.copymode(source, dest)


def _inside(path: str) -> str:
    """A user path clamped inside the artifact root, as Flux's SecureJoin does (``../x`` -> ``x``)."""
    return posixpath.normpath("/" + path).lstrip("/")


def remove_ignored(root: Path, spec_ignore: str | None) -> None:
    """Delete what ``.sourceignore`` files (found in the tree itself) and ``spec.ignore`` exclude."""
    files = sorted(_relative_files(root))
    sourceignores = {}
    for path in files:
        directory = ignore.sourceignore_directory(path)
        if directory is not None:
            sourceignores[directory] = (root / path).read_text(errors="replace")
    rules = ignore.ignore_spec(sourceignores, spec_ignore)
    kept = set(ignore.kept_paths(files, rules))
    for path in files:
        if path not in kept:
            (root / path).unlink()
    # Directories emptied by the rules go too: an artifact holds files, as Flux's tarball does.
    for directory, _, _ in os.walk(root, topdown=False):
        if Path(directory) != root and not any(Path(directory).iterdir()):
            Path(directory).rmdir()


def _relative_files(root: Path) -> list[str]:
    out = []
    for directory, _, names in os.walk(root):
        for name in names:
            out.append((Path(directory) / name).relative_to(root).as_posix())
    return out


def tree_digest(root: Path) -> str:
    """``sha256:<hex>`` over paths, executable bits and contents, in path order; never over mtimes."""
    outer = hashlib.sha256()
    for path in sorted(_relative_files(root)):
        file = root / path
        inner = hashlib.sha256()
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                inner.update(chunk)
        executable = b"x" if file.stat().st_mode & stat.S_IXUSR else b"-"
        outer.update(os.fsencode(path) + b"\0" + executable + inner.digest())
    return "sha256:" + outer.hexdigest()


def publish(work: Path, final: Path) -> Path:
    """Rename the built directory into place; an existing one under that name is already complete."""
    if final.exists():
        shutil.rmtree(work)
    else:
        work.rename(final)
    os.utime(final)  # newest first when pruning
    return final


def prune(parent: Path, *, keep: Path, count: int = KEEP_ARTIFACTS) -> list[Path]:
    """Remove all but the ``count`` newest artifact directories (always keeping ``keep``).

    Dot-named leftovers of an interrupted build or removal go too: reconciles of one object never
    overlap, so no other build of this repository can be running.
    """
    leftovers = [p for p in parent.iterdir() if p.name.startswith((BUILDING_PREFIX, _DOOMED))]
    artifacts = sorted(
        (p for p in parent.iterdir() if p.is_dir() and p not in leftovers and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    doomed = artifacts[count - 1 :] + leftovers
    for path in doomed:
        if path.is_file():
            path.unlink(missing_ok=True)
            continue
        # Rename first: a half-deleted directory must never sit under an artifact's name.
        trash = path if path.name.startswith(_DOOMED) else path.with_name(f"{_DOOMED}{uuid.uuid4().hex}")
        if trash != path:
            path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    return doomed

"""Apply the Setters strategy to a directory in place: Flux's ``update.path`` walk.

Flux reads every ``*.yaml``, ``*.yml`` and ``Kustomization`` file under the path that holds the
text ``"$imagepolicy"``, skips (and reports) files that are not YAML, and writes back only the
files a setter changed. The rewriting itself is ``gitferry.images.setters``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitferry.errors import InvalidObjectError
from gitferry.images import setters

_SKIPPED_DIRS = frozenset({".git"})


@dataclass(frozen=True)
class FileChanges:
    """The changes made to one file; ``path`` is relative to the updated directory, with '/'."""

    path: str
    changes: tuple[setters.Change, ...]


@dataclass(frozen=True)
class FileWarning:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class UpdateResult:
    files: tuple[FileChanges, ...] = ()
    warnings: tuple[FileWarning, ...] = ()

    @property
    def changes(self) -> tuple[setters.Change, ...]:
        return tuple(change for file in self.files for change in file.changes)

    @property
    def objects(self) -> dict[setters.ObjectRef, tuple[setters.Change, ...]]:
        """Changes by the object holding them (Flux's ``.Changed.Objects``); unidentified documents left out."""
        out: dict[setters.ObjectRef, tuple[setters.Change, ...]] = {}
        for change in self.changes:
            if change.object is not None:
                out[change.object] = (*out.get(change.object, ()), change)
        return out


def is_candidate(path: Path) -> bool:
    """Whether Flux would read this file at all (by name only)."""
    return path.suffix in (".yaml", ".yml") or path.name == "Kustomization"


def update_with_setters(root: Path, images: Mapping[str, setters.LatestImage]) -> UpdateResult:
    """Set every marked value under ``root`` (a directory or one file); write only changed files.

    Raise FileNotFoundError when ``root`` does not exist; OSError from reading or writing passes through.
    """
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist")
    files: list[FileChanges] = []
    warnings: list[FileWarning] = []
    base = root if root.is_dir() else root.parent
    for path in _candidates(root):
        shown = path.relative_to(base).as_posix()
        raw = path.read_bytes()
        if setters.SCREENING_TOKEN.encode() not in raw:
            continue
        try:
            rewrite = setters.apply_setters(raw.decode("utf-8"), images)
        except (UnicodeDecodeError, InvalidObjectError) as e:
            warnings.append(FileWarning(shown, None, f"skipped: {e}"))
            continue
        warnings.extend(FileWarning(shown, w.line, w.message) for w in rewrite.warnings)
        if rewrite.changed:
            path.write_bytes(rewrite.text.encode("utf-8"))
            files.append(FileChanges(shown, rewrite.changes))
    return UpdateResult(files=tuple(files), warnings=tuple(warnings))


def _candidates(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        found.extend(Path(folder, name) for name in sorted(names) if is_candidate(Path(name)))
    return [path for path in found if path.is_file()]

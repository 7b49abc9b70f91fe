"""Which files of a checkout stay out of the artifact, decided as Flux's source-controller does.

Flux's rules, as read from its ``sourceignore`` package and storage filter:

- ``.sourceignore`` files (gitignore syntax) may sit in any directory; their patterns apply
  below that directory. They are read root first, then subdirectories depth first by name.
- ``spec.ignore`` (gitignore syntax, relative to the root) comes after them, so it can
  re-include what a ``.sourceignore`` excluded.
- Git's own files (``VCS_PATTERNS``) are always excluded.
- ``DEFAULT_PATTERNS`` (images, archives, CI configs) apply only while there is no pattern at all
  from ``.sourceignore`` files or ``spec.ignore``: any user pattern replaces them.
- The last pattern that matches a path decides, as in ``.gitignore``.

Everything here is pure: callers hand in file contents and paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pathspec import GitIgnoreSpec

SOURCEIGNORE_FILE = ".sourceignore"

VCS_PATTERNS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
DEFAULT_PATTERNS = (
    # file extensions
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    # CI configuration
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    # tool configuration
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
)

_GLOB_SPECIAL = "\\*?[]"


def read_patterns(text: str, directory: str = "") -> list[str]:
    """The patterns in one ignore file, rewritten so they are relative to the repository root.

    ``directory`` is where the file sits (``""`` for the root, ``"a/b"`` below it). Blank lines and
    lines starting with ``#`` carry no pattern.
    """
    return [scope_pattern(line, directory) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def scope_pattern(line: str, directory: str) -> str:
    """Rewrite a gitignore pattern found in ``directory`` into an equivalent root-relative one.

    Gitignore's rule: a pattern with a slash before its end is anchored to the file's directory;
    one without matches at any depth below it. Both become anchored at the root under
    ``directory``, with ``**/`` standing for "any depth" in the second case.
    """
    directory = directory.strip("/")
    if not directory:
        return line
    negate = "!" if line.startswith("!") else ""
    body = line[len(negate) :]
    prefix = "/" + _escape(directory) + "/"
    if "/" in body.rstrip().rstrip("/"):
        return negate + prefix + body.lstrip("/")
    return negate + prefix + "**/" + body


def _escape(path: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in path)


def ignore_spec(sourceignore_files: Mapping[str, str], spec_ignore: str | None) -> GitIgnoreSpec:
    """Compile the rules for one artifact.

    ``sourceignore_files`` maps each directory holding a ``.sourceignore`` (``""`` for the root) to
    the file's text; ``spec_ignore`` is ``spec.ignore`` as written (None when absent).
    """
    # Sorting by path components visits a directory before its children, children by name:
    # the same order as Flux's recursive directory walk.
    user: list[str] = []
    for directory in sorted(sourceignore_files, key=lambda d: tuple(p for p in d.split("/") if p)):
        user.extend(read_patterns(sourceignore_files[directory], directory))
    if spec_ignore is not None:
        user.extend(read_patterns(spec_ignore))
    defaults = list(VCS_PATTERNS) if user else [*VCS_PATTERNS, *DEFAULT_PATTERNS]
    return GitIgnoreSpec.from_lines([*defaults, *user])


def sourceignore_directory(path: str) -> str | None:
    """The directory a ``.sourceignore`` at ``path`` governs, or None when ``path`` is another file."""
    head, _, name = path.rpartition("/")
    return head if name == SOURCEIGNORE_FILE else None


def kept_paths(paths: Iterable[str], spec: GitIgnoreSpec) -> list[str]:
    """The paths (relative, ``/``-separated) that the rules let into the artifact, in input order."""
    return [p for p in paths if not spec.match_file(p)]

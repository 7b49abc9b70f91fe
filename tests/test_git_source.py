"""The Git source adapter against real git repositories in temp dirs (file:// and a loopback HTTP server).

Pure rules (semver ranges, ignore patterns, refs and revision strings) are table-driven; the
adapter itself runs the real ``git`` binary.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gitferry import process
from gitferry.api import semver
from gitferry.api.sources import GitRef, GitRepository, parse_git_repository
from gitferry.errors import DependencyNotReadyError, GitError, InvalidObjectError
from gitferry.sources import artifacts, git, ignore, refs
from tests.conftest import git as run_git
from tests.githttp import serve_git_http

# --- pure rules ------------------------------------------------------------------------------

TAGS = ["v1.0.0", "v1.2.0", "v1.2.3", "v1.3.0-rc.1", "v2.0.0", "0.9.0", "latest", "v1.2", "1.10.0"]


@pytest.mark.parametrize(
    ("tags", "range_text", "expected"),
    [
        (TAGS, "*", "v2.0.0"),
        (TAGS, ">=1.0.0 <2.0.0", "1.10.0"),
        (TAGS, ">=1.0.0, <1.3.0", "v1.2.3"),
        (TAGS, "1.2.x", "v1.2.3"),
        (TAGS, "1.2", "v1.2.3"),  # a partial version is a tilde range in Masterminds
        (TAGS, "~1.2", "v1.2.3"),
        (TAGS, "~1.2.0", "v1.2.3"),
        (TAGS, "^1.0", "1.10.0"),
        (TAGS, "^0.9", "0.9.0"),
        (TAGS, "1.0.0", "v1.0.0"),
        (TAGS, "=1.2.0", "v1.2.0"),
        (TAGS, "!=2.0.0", "1.10.0"),
        (TAGS, "<1.0.0 || >=2.0.0", "v2.0.0"),
        (TAGS, "1.0.0 - 1.2.0", "v1.2.0"),
        (TAGS, ">1.2 <2", "1.10.0"),
        (["v1.2.3"], ">1.2", None),  # >1.2 means a higher minor, not a higher patch
        (TAGS, "<=1.2", "v1.2.3"),
        # a prerelease is considered only by an alternative in which some comparison names one
        (TAGS, ">=1.3.0-0 <1.4.0-0", "v1.3.0-rc.1"),
        (TAGS, ">=1.3.0-0 <1.4.0", "v1.3.0-rc.1"),  # Masterminds 3.4+ decides per alternative
        (TAGS, ">=1.3.0 <1.4.0", None),
        (TAGS, ">=5.0.0", None),
        (["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11"], ">=1.0.0-0", "1.0.0-beta.11"),
        (["v1.0.0", "1.0.0"], "1.0.0", "v1.0.0"),  # equal versions tie-break on the name
        (["01.0.0", "vv1.0.0", "1.0"], "*", None),  # strict semver only
    ],
)
def test_semver_highest_matching(tags: list[str], range_text: str, expected: str | None) -> None:
    assert semver.highest_matching(tags, range_text) == expected


@pytest.mark.parametrize("range_text", ["", "junk", ">=1.0.0 <", "1.0.0 ||", ">> 1.0", "~=1.0", "1.x.y"])
def test_semver_invalid_ranges(range_text: str) -> None:
    with pytest.raises(ValueError, match="improper constraint"):
        semver.parse_range(range_text)


@pytest.mark.parametrize(
    ("sourceignores", "spec_ignore", "path", "ignored"),
    [
        # Flux's defaults while nobody wrote a pattern
        ({}, None, "deploy.yaml", False),
        ({}, None, "logo.png", True),
        ({}, None, "docs/img/a.jpeg", True),
        ({}, None, ".github/workflows/ci.yml", True),
        ({}, None, "app/.sops.yaml", True),
        ({}, None, ".gitignore", True),
        ({}, "", "logo.png", True),  # an empty spec.ignore has no pattern
        ({"": "# just a comment\n"}, None, "logo.png", True),
        # any user pattern replaces the defaults (VCS files stay excluded)
        ({"": "*.txt\n"}, None, "notes.txt", True),
        ({"": "*.txt\n"}, None, "d/notes.txt", True),
        ({"": "*.txt\n"}, None, "logo.png", False),
        ({"": "*.txt\n"}, None, ".gitignore", True),
        ({}, "*.md", ".github/ci.yml", False),
        # a .sourceignore governs its own directory and below
        ({"sub": "*.yaml\n"}, None, "sub/a.yaml", True),
        ({"sub": "*.yaml\n"}, None, "sub/x/b.yaml", True),
        ({"sub": "*.yaml\n"}, None, "a.yaml", False),
        ({"sub": "/only.yaml\n"}, None, "sub/only.yaml", True),
        ({"sub": "/only.yaml\n"}, None, "sub/x/only.yaml", False),
        ({"a/b": "x/y.md\n"}, None, "a/b/x/y.md", True),
        ({"a/b": "x/y.md\n"}, None, "a/b/q/x/y.md", False),
        ({"": "*.yaml\n", "sub": "!keep.yaml\n"}, None, "sub/keep.yaml", False),
        # spec.ignore comes last and may re-include
        ({"": "*.txt\n"}, "!keep.txt", "keep.txt", False),
        ({}, "/*\n!/deploy\n/deploy/**/*.md\n", "deploy/app.yaml", False),
        ({}, "/*\n!/deploy\n/deploy/**/*.md\n", "deploy/x/README.md", True),
        ({}, "/*\n!/deploy\n/deploy/**/*.md\n", "top.yaml", True),
        ({}, "/*\n!/deploy\n/deploy/**/*.md\n", "other/a.yaml", True),
    ],
)
def test_ignore_rules(sourceignores: dict[str, str], spec_ignore: str | None, path: str, ignored: bool) -> None:
    assert bool(ignore.ignore_spec(sourceignores, spec_ignore).match_file(path)) is ignored


@pytest.mark.parametrize(
    ("line", "directory", "scoped"),
    [
        ("*.md", "", "*.md"),
        ("*.md", "docs", "/docs/**/*.md"),
        ("build/", "docs", "/docs/**/build/"),
        ("/only", "docs", "/docs/only"),
        ("a/b", "docs/x", "/docs/x/a/b"),
        ("!keep.md", "docs", "!/docs/**/keep.md"),
        ("*.md", "we[ir]d", "/we\\[ir\\]d/**/*.md"),
    ],
)
def test_scope_pattern(line: str, directory: str, scoped: str) -> None:
    assert ignore.scope_pattern(line, directory) == scoped


SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("ref", "kind", "value", "full_ref", "revision"),
    [
        (None, "branch", "master", "refs/heads/master", f"master@sha1:{SHA}"),
        (GitRef(), "branch", "master", "refs/heads/master", f"master@sha1:{SHA}"),
        (GitRef(branch="feature/x"), "branch", "feature/x", "refs/heads/feature/x", f"feature/x@sha1:{SHA}"),
        (GitRef(branch="main", tag="v1.2.0"), "tag", "v1.2.0", "refs/tags/v1.2.0", f"v1.2.0@sha1:{SHA}"),
        (GitRef(tag="v1", semver="^1.0"), "semver", "^1.0", "", None),
        (GitRef(semver="^1.0", name="refs/pull/1/head"), "name", "refs/pull/1/head", "refs/pull/1/head", None),
        (GitRef(name="refs/heads/x"), "name", "refs/heads/x", "refs/heads/x", f"refs/heads/x@sha1:{SHA}"),
        (GitRef(commit=SHA, tag="v1"), "commit", SHA, "", f"sha1:{SHA}"),
        (GitRef(commit=SHA, branch="main"), "commit", SHA, "refs/heads/main", f"main@sha1:{SHA}"),
    ],
)
def test_target_and_revision(ref: GitRef | None, kind: str, value: str, full_ref: str, revision: str | None) -> None:
    target = refs.target_of(ref)
    assert (target.kind, target.value, target.full_ref()) == (kind, value, full_ref)
    if revision is not None:
        assert refs.revision(target, full_ref, SHA) == revision


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        (GitRef(commit="abc123"), "spec.ref.commit"),
        (GitRef(name="main"), "spec.ref.name"),
        (GitRef(branch="a..b"), "spec.ref.branch"),
        (GitRef(tag="v1 2"), "spec.ref.tag"),
        (GitRef(semver=">= nonsense"), "spec.ref.semver"),
    ],
)
def test_target_rejects_impossible_refs(ref: GitRef, field: str) -> None:
    with pytest.raises(InvalidObjectError, match=field):
        refs.target_of(ref)


def test_ls_remote_parsing_prefers_peeled_tags() -> None:
    listed = refs.parse_ls_remote(
        f"{'1' * 40}\trefs/tags/v1\n{'2' * 40}\trefs/tags/v1^{{}}\n{'3' * 40}\trefs/tags/v2\n"
    )
    assert refs.commit_of(listed, "refs/tags/v1") == "2" * 40
    assert refs.commit_of(listed, "refs/tags/v2") == "3" * 40
    assert refs.tag_names(listed) == ["v1", "v2"]


def test_tree_digest_follows_content_not_mtime(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "b.sh").write_text("echo\n")
    first = artifacts.tree_digest(tmp_path)
    os.utime(tmp_path / "d" / "a.yaml", (1, 1))
    assert artifacts.tree_digest(tmp_path) == first
    (tmp_path / "b.sh").chmod(0o755)
    executable = artifacts.tree_digest(tmp_path)
    assert executable != first
    (tmp_path / "d" / "a.yaml").write_text("a: 2\n")
    assert artifacts.tree_digest(tmp_path) not in (first, executable)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64


# --- the adapter against real repositories ---------------------------------------------------


class Upstream:
    """A work repository used as the remote through file://."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        path.mkdir(parents=True)
        self.path = path
        self.url = f"file://{path}"
        run_git(path, "init", "-q", "-b", branch)

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        run_git(self.path, "add", "-A")
        run_git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return run_git(self.path, "rev-parse", f"{ref}^{{commit}}").strip()


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return Upstream(tmp_path / "upstream")


def repository(url: str, *, name: str = "app", **spec: Any) -> GitRepository:
    return parse_git_repository(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"url": url, "interval": "1m", "timeout": "30s", **spec},
        }
    )


def fetch(repo: GitRepository, storage: Path, **kwargs: Any) -> git.Artifact:
    return asyncio.run(git.fetch(repo, storage=storage, **kwargs))


def files_in(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def test_branch_artifact(upstream: Upstream, tmp_path: Path) -> None:
    sha = upstream.commit({"deploy/app.yaml": "kind: ConfigMap\n", "run.sh": "echo\n"}, "Add the app\n\nbody")
    artifact = fetch(repository(upstream.url, ref={"branch": "main"}), tmp_path / "storage")
    assert artifact.revision == f"main@sha1:{sha}"
    assert (artifact.commit, artifact.message, artifact.author) == (sha, "Add the app", "Test <test@example.com>")
    assert artifact.path.parent == tmp_path / "storage" / "artifacts" / "flux-system" / "app"
    assert artifact.path.name.startswith(f"{sha}-")
    assert files_in(artifact.path) == {"deploy/app.yaml", "run.sh"}
    assert (artifact.path / "deploy" / "app.yaml").read_text() == "kind: ConfigMap\n"
    assert artifact.digest == artifacts.tree_digest(artifact.path)
    assert (tmp_path / "storage" / "repos" / "flux-system" / "app.git").is_dir()


def test_missing_ref_follows_master_as_flux_does(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "up", branch="master")
    sha = upstream.commit({"a.yaml": "a: 1\n"})
    run_git(upstream.path, "branch", "main")
    artifact = fetch(repository(upstream.url), tmp_path / "storage")
    assert artifact.revision == f"master@sha1:{sha}"


def test_tag_semver_name_and_commit_refs(upstream: Upstream, tmp_path: Path) -> None:
    first = upstream.commit({"v.txt": "1.0.0\n"})
    run_git(upstream.path, "tag", "-a", "v1.0.0", "-m", "release")  # annotated: revision names the commit
    second = upstream.commit({"v.txt": "1.2.0\n"})
    run_git(upstream.path, "tag", "v1.2.0")
    third = upstream.commit({"v.txt": "2.0.0\n"})
    run_git(upstream.path, "tag", "v2.0.0")
    run_git(upstream.path, "tag", "v1.3.0-rc.1")
    run_git(upstream.path, "branch", "feature", second)
    storage = tmp_path / "storage"
    cases = [
        ({"tag": "v1.0.0"}, f"v1.0.0@sha1:{first}", "1.0.0\n"),
        ({"semver": ">=1.0.0 <2.0.0"}, f"v1.2.0@sha1:{second}", "1.2.0\n"),
        ({"semver": "^1.0.0-0"}, f"v1.3.0-rc.1@sha1:{third}", "2.0.0\n"),
        ({"name": "refs/heads/feature"}, f"refs/heads/feature@sha1:{second}", "1.2.0\n"),
        ({"name": "refs/tags/v1.0.0"}, f"refs/tags/v1.0.0@sha1:{first}", "1.0.0\n"),
        ({"commit": first}, f"sha1:{first}", "1.0.0\n"),
        ({"branch": "main", "commit": second}, f"main@sha1:{second}", "1.2.0\n"),
    ]
    for index, (ref, revision, content) in enumerate(cases):
        artifact = fetch(repository(upstream.url, name=f"r{index}", ref=ref), storage)
        assert artifact.revision == revision, ref
        assert (artifact.path / "v.txt").read_text() == content, ref


def test_commit_must_be_in_the_branch(upstream: Upstream, tmp_path: Path) -> None:
    upstream.commit({"a": "1"})
    run_git(upstream.path, "checkout", "-q", "-b", "other")
    elsewhere = upstream.commit({"a": "2"})
    run_git(upstream.path, "checkout", "-q", "main")
    with pytest.raises(GitError, match=f"commit '{elsewhere}' is not in branch 'main'"):
        fetch(repository(upstream.url, ref={"branch": "main", "commit": elsewhere}), tmp_path / "s")


def fetch_head_mtime(storage: Path) -> int:
    return (storage / "repos" / "flux-system" / "app.git" / "FETCH_HEAD").stat().st_mtime_ns


def test_unchanged_remote_is_a_no_op_and_new_commits_are_picked_up(upstream: Upstream, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    repo = repository(upstream.url, ref={"branch": "main"})
    upstream.commit({"a.yaml": "a: 1\n"})
    first = fetch(repo, storage)
    fetch_head = storage / "repos" / "flux-system" / "app.git" / "FETCH_HEAD"
    os.utime(fetch_head, ns=(1, 1))  # any new fetch would rewrite it
    assert fetch(repo, storage, last=first) is first
    assert fetch_head.stat().st_mtime_ns == 1
    assert asyncio.run(git.resolve_remote(repo, storage=storage)) == first.commit

    second_sha = upstream.commit({"a.yaml": "a: 2\n"})
    assert asyncio.run(git.resolve_remote(repo, storage=storage)) == second_sha
    second = fetch(repo, storage, last=first)
    assert second.revision == f"main@sha1:{second_sha}"
    assert second.digest != first.digest and second.path != first.path
    assert (second.path / "a.yaml").read_text() == "a: 2\n"
    assert fetch_head.stat().st_mtime_ns != 1


def test_changed_ignore_or_missing_directory_rebuilds(upstream: Upstream, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    upstream.commit({"a.yaml": "a\n", "b.txt": "b\n"})
    first = fetch(repository(upstream.url, ref={"branch": "main"}), storage)
    ignored = fetch(repository(upstream.url, ref={"branch": "main"}, ignore="*.txt"), storage, last=first)
    assert ignored is not first and ignored.path != first.path and ignored.revision == first.revision
    assert files_in(ignored.path) == {"a.yaml"}
    shutil.rmtree(ignored.path)
    rebuilt = fetch(repository(upstream.url, ref={"branch": "main"}, ignore="*.txt"), storage, last=ignored)
    assert rebuilt.path == ignored.path and rebuilt.path.is_dir() and rebuilt.digest == ignored.digest


TREE = {
    "deploy/app.yaml": "kind: Deployment\n",
    "deploy/README.md": "docs\n",
    "logo.png": "not really a png\n",
    ".github/workflows/ci.yml": "on: push\n",
    ".gitignore": "*.log\n",
    "notes.txt": "notes\n",
    "sub/a.yaml": "a\n",
    "sub/README.md": "docs\n",
}


def test_default_exclusions(upstream: Upstream, tmp_path: Path) -> None:
    upstream.commit(TREE)
    artifact = fetch(repository(upstream.url, ref={"branch": "main"}), tmp_path / "s")
    assert files_in(artifact.path) == {
        "deploy/app.yaml",
        "deploy/README.md",
        "notes.txt",
        "sub/a.yaml",
        "sub/README.md",
    }


def test_sourceignore_in_a_subdirectory_replaces_the_defaults(upstream: Upstream, tmp_path: Path) -> None:
    upstream.commit({**TREE, "sub/.sourceignore": "*.md\n"})
    artifact = fetch(repository(upstream.url, ref={"branch": "main"}), tmp_path / "s")
    # Flux drops its default list as soon as any pattern exists; Git's own files stay out.
    assert files_in(artifact.path) == {
        "deploy/app.yaml",
        "deploy/README.md",
        "logo.png",
        ".github/workflows/ci.yml",
        "notes.txt",
        "sub/a.yaml",
        "sub/.sourceignore",
    }


def test_spec_ignore(upstream: Upstream, tmp_path: Path) -> None:
    upstream.commit({**TREE, ".sourceignore": "deploy/app.yaml\n"})
    spec_ignore = "/*\n!/deploy\n/deploy/**/*.md\n!/deploy/app.yaml\n"
    artifact = fetch(repository(upstream.url, ref={"branch": "main"}, ignore=spec_ignore), tmp_path / "s")
    assert files_in(artifact.path) == {"deploy/app.yaml"}


def test_export_is_the_committed_tree(upstream: Upstream, tmp_path: Path) -> None:
    """Symlinks are left out as in Flux; .gitattributes cannot hide or rewrite files."""
    (upstream.path / "link.yaml").symlink_to("a.yaml")
    attributes = "secret.yaml export-ignore\n*.yaml text eol=crlf\n"
    upstream.commit({"a.yaml": "a: 1\n", "secret.yaml": "s: 1\n", ".gitattributes": attributes})
    artifact = fetch(repository(upstream.url, ref={"branch": "main"}), tmp_path / "s")
    assert files_in(artifact.path) == {"a.yaml", "secret.yaml"}
    assert (artifact.path / "a.yaml").read_bytes() == b"a: 1\n"


def test_include(upstream: Upstream, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    library = Upstream(tmp_path / "library")
    library.commit({"base/x.yaml": "x\n", "base/deep/y.yaml": "y\n", "other.txt": "o\n"})
    lib = fetch(repository(library.url, name="lib", ref={"branch": "main"}), storage)
    upstream.commit({"app.yaml": "app\n"})
    includes = [
        {"repository": {"name": "lib"}, "fromPath": "base", "toPath": "vendor/lib"},
        {"repository": {"name": "lib"}},
    ]
    repo = repository(upstream.url, ref={"branch": "main"}, include=includes)
    artifact = fetch(repo, storage, includes={"lib": lib})
    assert files_in(artifact.path) == {
        "app.yaml",
        "vendor/lib/x.yaml",
        "vendor/lib/deep/y.yaml",
        "lib/base/x.yaml",
        "lib/base/deep/y.yaml",
        "lib/other.txt",
    }
    assert files_in(lib.path) == {"base/x.yaml", "base/deep/y.yaml", "other.txt"}  # the source is untouched

    # A change in the included repository alone makes a new artifact.
    library.commit({"base/x.yaml": "x2\n"})
    lib2 = fetch(repository(library.url, name="lib", ref={"branch": "main"}), storage, last=lib)
    again = fetch(repo, storage, last=artifact, includes={"lib": lib2})
    assert again.revision == artifact.revision and again.digest != artifact.digest
    assert (again.path / "vendor" / "lib" / "x.yaml").read_text() == "x2\n"

    with pytest.raises(DependencyNotReadyError, match="GitRepository flux-system/lib has no artifact yet"):
        fetch(repo, storage, includes={})
    clash = repository(upstream.url, ref={"branch": "main"}, include=[{"repository": {"name": "lib"}, "toPath": "."}])
    with pytest.raises(InvalidObjectError, match=re.escape("toPath '.' already exists")):
        fetch(clash, storage, includes={"lib": lib2})
    leftovers = [p.name for p in again.path.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # a failed build leaves no half-made directory or archive behind


def test_artifact_directories_are_published_whole_and_pruned(upstream: Upstream, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    parent = storage / "artifacts" / "flux-system" / "app"
    repo = repository(upstream.url, ref={"branch": "main"})
    made = []
    for n in range(4):
        upstream.commit({"n.txt": f"{n}\n"})
        if n == 2:
            (parent / ".tmp-crashed").mkdir()  # what an interrupted build leaves behind
            (parent / ".tmp-crashed" / "half.yaml").write_text("x")
        made.append(fetch(repo, storage, last=made[-1] if made else None))
    assert sorted(p.name for p in parent.iterdir()) == sorted(a.path.name for a in made[-2:])
    assert all(a.path.is_dir() and (a.path / "n.txt").exists() for a in made[-2:])


# --- errors ------------------------------------------------------------------------------------


def test_unreachable_repository(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/nowhere.git"
    with pytest.raises(GitError) as caught:
        fetch(repository(url, ref={"branch": "main"}), tmp_path / "s")
    message = str(caught.value)
    assert message == (
        f"GitRepository flux-system/app: cannot read the repository at {url}: fatal: '{tmp_path}/nowhere.git' "
        "does not appear to be a git repository (check spec.url and that the repository exists)"
    )


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"branch": "mian"}, "branch 'mian' not found"),
        ({"tag": "v9.9.9"}, "tag 'v9.9.9' not found"),
        ({"semver": ">=5.0.0"}, "no tag matches semver range '>=5.0.0'"),
        ({"name": "refs/heads/nope"}, "ref 'refs/heads/nope' not found"),
        ({"commit": "f" * 40}, f"commit '{'f' * 40}' not found"),
    ],
)
def test_missing_references(upstream: Upstream, tmp_path: Path, ref: dict[str, str], message: str) -> None:
    upstream.commit({"a": "1"})
    run_git(upstream.path, "tag", "v1.0.0")
    with pytest.raises(GitError) as caught:
        fetch(repository(upstream.url, ref=ref), tmp_path / "s")
    assert str(caught.value) == f"GitRepository flux-system/app: {message} at {upstream.url}"


def test_invalid_semver_range_is_permanent(upstream: Upstream, tmp_path: Path) -> None:
    with pytest.raises(InvalidObjectError, match=re.escape("spec.ref.semver '>= one' is not a valid semver range")):
        fetch(repository(upstream.url, ref={"semver": ">= one"}), tmp_path / "s")


def test_timeout_names_the_spec_field(tmp_path: Path) -> None:
    # A loopback listener that never answers: the TCP handshake completes, the reply never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/repo.git"
        repo = repository(url, ref={"branch": "main"}, timeout="1s")
        with pytest.raises(GitError, match=r"timed out after 1s listing refs at .* \(spec.timeout is 1s\)$"):
            fetch(repo, tmp_path / "s")


# --- https-style basic auth against a loopback git http-backend ---------------------------------


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[tuple[str, Upstream]]:
    upstream = Upstream(tmp_path / "served" / "repo")
    with serve_git_http(tmp_path / "served", "robot", "s3cret-pass") as base:
        yield f"{base}/repo/.git", upstream


def test_basic_auth_over_http_keeps_the_password_out_of_argv_and_messages(
    http_remote: tuple[str, Upstream], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, upstream = http_remote
    sha = upstream.commit({"a.yaml": "a: 1\n"})
    seen: list[list[str]] = []
    real_run = process.run

    async def recording_run(argv: Any, **kwargs: Any) -> process.Completed:
        seen.append([str(a) for a in argv])
        return await real_run(argv, **kwargs)

    monkeypatch.setattr(process, "run", recording_run)
    repo = repository(url, ref={"branch": "main"})
    good = git.GitCredentials(username="robot", password="s3cret-pass")
    artifact = fetch(repo, tmp_path / "s", credentials=good)
    assert artifact.revision == f"main@sha1:{sha}" and files_in(artifact.path) == {"a.yaml"}
    assert seen and not any("s3cret" in arg for argv in seen for arg in argv)

    with pytest.raises(GitError) as anonymous:
        fetch(repo, tmp_path / "s2")
    assert str(anonymous.value).startswith(f"GitRepository flux-system/app: authentication failed at {url}: ")
    assert str(anonymous.value).endswith("(check the credentials in spec.secretRef)")

    with pytest.raises(GitError) as refused:
        fetch(repo, tmp_path / "s3", credentials=git.GitCredentials(username="robot", password="wrong-pass"))
    error = refused.value
    assert str(error).startswith(f"GitRepository flux-system/app: authentication failed at {url}")
    assert "wrong-pass" not in str(error) + error.stderr + " ".join(error.argv)


# --- ssh: the plumbing, with a stand-in ssh that records how git called it -------------------

FAKE_SSH = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_SSH_RECORD/args"
prev=""
for arg in "$@"; do
  if [ "$prev" = "-i" ]; then stat -c %a "$arg" > "$FAKE_SSH_RECORD/mode"; cat "$arg" > "$FAKE_SSH_RECORD/key"; fi
  prev="$arg"
done
echo "git@127.0.0.1: Permission denied (publickey)." >&2
exit 255
"""


def test_ssh_key_and_known_hosts_reach_ssh_as_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_RECORD", str(record))
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----"
    credentials = git.GitCredentials(identity=key, known_hosts="127.0.0.1 ssh-ed25519 AAAA")
    url = "ssh://git@127.0.0.1:2222/repo.git"
    with pytest.raises(GitError) as caught:
        fetch(repository(url, ref={"branch": "main"}), tmp_path / "s", credentials=credentials)
    assert str(caught.value).startswith(f"GitRepository flux-system/app: authentication failed at {url}: ")
    args = (record / "args").read_text().splitlines()
    assert (record / "mode").read_text().strip() == "600"
    assert (record / "key").read_text() == key + "\n"
    for option in ("BatchMode=yes", "IdentitiesOnly=yes", "StrictHostKeyChecking=yes"):
        assert option in args
    known_hosts = next(a for a in args if a.startswith("UserKnownHostsFile="))
    key_file = args[args.index("-i") + 1]
    assert not Path(key_file).exists() and not Path(known_hosts.split("=", 1)[1]).exists()  # removed afterwards
    assert not any("not-a-real-key" in a for a in args)

"""Render a Flux Kustomization into objects as kustomize-controller does, with real kustomize.

The steps follow kustomize-controller's reconcile: copy the source (the artifact is never
touched), write the kustomization.yaml Flux would write (``generator``), run ``kustomize build``
with Flux's options (files may be loaded from anywhere in the source, plugins off), substitute
``postBuild`` variables in each object (``substitute``), set the ownership labels, then
``commonMetadata``. gitferry adds: each object keeps the file it came from (kustomize's origin
annotations), namespaced objects without a namespace get ``default``, and the set is checked for
duplicates before anything is applied.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml.error import YAMLError

from gitferry import process
from gitferry.api import goyaml, kinds, manifests
from gitferry.api.keys import ObjectKey
from gitferry.api.kustomizations import API_VERSION, Kustomization
from gitferry.api.manifests import Manifest, Resource
from gitferry.errors import CommandError, InvalidObjectError, PathNotFoundError, RenderError
from gitferry.render import generator, substitute

_GROUP = API_VERSION.split("/")[0]
NAME_LABEL = f"{_GROUP}/name"
NAMESPACE_LABEL = f"{_GROUP}/namespace"
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


@dataclass(frozen=True)
class _Workspace:
    root: Path  # the copy of the source
    build_dir: Path  # spec.path inside the copy
    path: str  # spec.path as origins are written: relative to the source root, "." for the root
    keep_origins: bool  # Flux itself switched origin annotations on, so they stay on the objects


async def build(
    source_root: Path,
    kustomization: Kustomization,
    *,
    variables: Mapping[str, str],
    strict_substitute: bool = False,
    kustomization_file: Path | None = None,
    scratch_dir: Path | None = None,
) -> list[Manifest]:
    """The objects ``kustomization`` renders from ``source_root``, labelled and validated.

    InvalidObjectError for what the repository must fix (missing path, malformed YAML, duplicate
    objects); RenderError when kustomize or the substitution fails, with the reason.
    ``scratch_dir`` should be on the source's filesystem, so the working copy can be hard links.
    """
    meta = kustomization.metadata
    label = f"Kustomization {meta.namespace}/{meta.name}" + (f" ({kustomization_file})" if kustomization_file else "")
    if not source_root.is_dir():
        raise RenderError(f"{label}: source directory {source_root} does not exist")
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="gitferry-render-", dir=scratch_dir))
    try:
        workspace = await asyncio.to_thread(_prepare, source_root, scratch / "source", kustomization, label)
        output = await _kustomize(workspace, kustomization, label)
        return await asyncio.to_thread(_finish, output, workspace, kustomization, variables, strict_substitute, label)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)


def _prepare(source_root: Path, root: Path, kustomization: Kustomization, label: str) -> _Workspace:
    path = PurePosixPath(kustomization.spec.path or ".").as_posix()
    try:
        # Hard links where the filesystem allows: a render reads the tree and writes one file,
        # which is unlinked first, so the artifact is never changed and large trees cost little.
        shutil.copytree(
            source_root, root, symlinks=True, ignore=shutil.ignore_patterns(".git"), copy_function=_link_or_copy
        )
    except OSError as e:
        raise RenderError(f"{label}: cannot copy the source to a working directory: {e}") from e
    _drop_escaping_symlinks(root)
    build_dir = root / path
    if not build_dir.is_dir():
        raise PathNotFoundError(
            f"{label}: field spec.path: directory {kustomization.spec.path!r} not found in the source"
        )
    found = _kustomization_file(build_dir)
    if found is None:
        content, target = generator.generated(_scan(build_dir, root)), build_dir / "kustomization.yaml"
    else:
        content, target = _read_kustomization_file(found, root), found
    missing = [
        c for c in kustomization.spec.components if generator.is_local_relative(c) and not (build_dir / c).exists()
    ]
    written = generator.flux_kustomization(kustomization, content, created=found is None, missing_components=missing)
    keep_origins = generator.ORIGIN_ANNOTATIONS in (written.get("buildMetadata") or [])
    if not keep_origins:  # switched on only to learn each object's file; removed from the output again
        written["buildMetadata"] = [*(written.get("buildMetadata") or []), generator.ORIGIN_ANNOTATIONS]
    target.unlink(missing_ok=True)  # it may be a hard link into the artifact
    target.write_text(goyaml.dump(written))
    _check_confined(root, build_dir, label)
    return _Workspace(root, build_dir, path, keep_origins)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another filesystem, or links not allowed: copy
        shutil.copy2(source, destination)


def _drop_escaping_symlinks(root: Path) -> None:
    """Flux reads the source through a filesystem that refuses to leave it; a link that points
    outside the copy is removed, so kustomize finds nothing there instead of a host file."""
    inside = root.resolve()
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            entry = Path(directory, name)
            if entry.is_symlink() and not entry.resolve().is_relative_to(inside):
                entry.unlink()


def _kustomization_file(directory: Path) -> Path | None:
    return next((directory / n for n in generator.KUSTOMIZATION_FILE_NAMES if (directory / n).is_file()), None)


def _scan(build_dir: Path, root: Path) -> list[str]:
    """Flux's walk: lexical order, files checked as manifests, kustomization directories listed whole."""
    found: list[Path] = []

    def walk(directory: Path) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                if _kustomization_file(path) is not None:
                    found.append(path)
                else:
                    walk(path)
            elif path.suffix in generator.MANIFEST_SUFFIXES:
                generator.check_manifest_file(_read_text(path, root), path.relative_to(root).as_posix())
                found.append(path)

    walk(build_dir)
    return ["./" + p.relative_to(build_dir).as_posix() for p in found]


def _read_text(path: Path, root: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidObjectError(f"cannot read {path.relative_to(root).as_posix()}: {e}") from e


def _read_kustomization_file(path: Path, root: Path) -> dict[str, Any]:
    """The file as Flux reads it: Go's YAML typing, so that ``"on"`` stays a string when written back."""
    origin = path.relative_to(root).as_posix()
    try:
        docs = [doc for doc in goyaml.load(_read_text(path, root)) if doc is not None]
    except YAMLError as e:
        raise InvalidObjectError(f"malformed YAML in {origin}: {' '.join(str(e).split())}") from e
    if len(docs) > 1 or (docs and not isinstance(docs[0], dict)):
        raise InvalidObjectError(f"{origin}: a kustomization file must hold one mapping")
    return docs[0] if docs else {}


def _check_confined(root: Path, build_dir: Path, label: str) -> None:
    """kustomize reads any path it is given (``/etc/...``, ``../../..``); Flux's filesystem stops at
    the source root. Follow the local paths of every kustomization file the build can reach."""
    inside, pending, seen = root.resolve(), [build_dir.resolve()], set()
    while pending:
        directory = pending.pop()
        found = _kustomization_file(directory) if directory not in seen else None
        seen.add(directory)
        if found is None:
            continue
        try:
            content = goyaml.load(found.read_text())[0]
        except (YAMLError, IndexError, OSError, UnicodeDecodeError):
            continue  # kustomize reports a broken kustomization file in its own words
        for reference in generator.local_references(content if isinstance(content, dict) else {}):
            target = (directory / reference).resolve()
            if not target.is_relative_to(inside):
                where = found.relative_to(inside).as_posix()
                raise InvalidObjectError(f"{label}: {where} refers to {reference!r}, which is outside the source")
            if target.is_dir():
                pending.append(target)


async def _kustomize(workspace: _Workspace, kustomization: Kustomization, label: str) -> str:
    command = ["kustomize", "build"] if shutil.which("kustomize") else ["kubectl", "kustomize"]
    argv = [*command, "--load-restrictor", "LoadRestrictionsNone", str(workspace.build_dir)]
    try:
        done = await process.run(argv, timeout=kustomization.spec.timeout_seconds, cwd=workspace.root)
    except CommandError as e:
        reason = _kustomize_reason(e.stderr or str(e), workspace.root)
        message = f"{label}: kustomize build of path {workspace.path!r} failed: {reason}"
        raise RenderError(message, argv=e.argv, stderr=e.stderr) from e
    return done.stdout


def _kustomize_reason(stderr: str, root: Path) -> str:
    """kustomize's own sentence, without kubectl's log prefix and with paths relative to the source."""
    text = stderr.strip()
    logged = re.search(r'err="((?:[^"\\]|\\.)*)"', text)  # kubectl: E1122 ... "command failed" err="..."
    if logged:
        text = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), logged.group(1))
    text = re.sub(r"^(Error|error): ", "", text)
    for prefix in {str(root.resolve()), str(root)}:
        text = text.replace(prefix + "/", "").replace(prefix, ".")
    return text


def _finish(
    output: str,
    workspace: _Workspace,
    kustomization: Kustomization,
    variables: Mapping[str, str],
    strict: bool,
    label: str,
) -> list[Manifest]:
    try:
        docs = [doc for doc in goyaml.load(output) if doc is not None]
    except YAMLError as e:
        raise RenderError(f"{label}: kustomize printed invalid YAML: {str(e).splitlines()[0]}") from e
    post_build = kustomization.spec.post_build
    # Flux substitutes only when there is a variable, unless postBuild.substituteStrategy is Always.
    always = post_build is not None and getattr(post_build, "substitute_strategy", None) == "Always"
    substituting = post_build is not None and (bool(variables) or always)
    rendered: list[Manifest] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"{label}: kustomize printed a document that is not an object: {doc!r:.80}")
        origin = _take_origin(doc, workspace)
        manifests.check_identity(doc, origin)
        if substituting:
            doc = substitute.substitute_object(doc, variables, strict=strict, origin=origin)
            manifests.check_identity(doc, origin)
        _label(doc, kustomization)
        rendered.append(Manifest(doc, origin))
    _set_namespaces(rendered)
    _check_unique(rendered, label)
    return rendered


def _take_origin(obj: Resource, workspace: _Workspace) -> str:
    """The source file of ``obj`` from its origin annotation, removing it unless Flux keeps it."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(annotations, dict) or ORIGIN_ANNOTATION not in annotations:
        return workspace.path
    raw = annotations[ORIGIN_ANNOTATION] if workspace.keep_origins else annotations.pop(ORIGIN_ANNOTATION)
    if not annotations:
        del meta["annotations"]
    try:
        info = goyaml.load(raw)[0] if isinstance(raw, str) else None
    except (YAMLError, IndexError):
        info = None
    if not isinstance(info, dict):
        return workspace.path
    path = info.get("path") or info.get("configuredIn")  # configuredIn: made by a generator
    if not isinstance(path, str):
        return workspace.path
    if info.get("repo"):  # a remote base
        return f"{info['repo']}//{path}" + (f"?ref={info['ref']}" if info.get("ref") else "")
    return posixpath.normpath(posixpath.join(workspace.path, path))


def _label(obj: Resource, kustomization: Kustomization) -> None:
    """Flux's ownership labels, then ``commonMetadata``, which overrides existing keys."""
    meta = obj["metadata"]
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    labels.update({NAME_LABEL: kustomization.metadata.name, NAMESPACE_LABEL: kustomization.metadata.namespace})
    common = kustomization.spec.common_metadata
    if common is not None:
        labels.update(common.labels)
        if common.annotations:
            annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
            meta["annotations"] = {**annotations, **common.annotations}
    meta["labels"] = labels


def _set_namespaces(rendered: list[Manifest]) -> None:
    """Namespaced objects must name their namespace, as Flux's apply demands (no silent ``default``);
    cluster-scoped objects lose theirs, which the API server drops (kustomize's namespace
    setting reaches unknown kinds too)."""
    cluster_scoped = kinds.cluster_scoped_kinds(m.obj for m in rendered)
    for manifest in rendered:
        meta = manifest.obj["metadata"]
        if kinds.is_cluster_scoped(manifest.obj["kind"], cluster_scoped):
            meta.pop("namespace", None)
        elif not meta.get("namespace"):
            raise InvalidObjectError(
                f"{manifest.obj['kind']}/{meta.get('name')} in {manifest.origin}: field metadata.namespace: "
                "namespace not specified (set it, or spec.targetNamespace on the Kustomization)"
            )


def _check_unique(rendered: list[Manifest], label: str) -> None:
    seen: dict[ObjectKey, str] = {}
    for manifest in rendered:
        if manifest.key in seen:
            raise InvalidObjectError(
                f"{label}: {manifest.key} is defined twice: in {seen[manifest.key]} and in {manifest.origin}"
            )
        seen[manifest.key] = manifest.origin

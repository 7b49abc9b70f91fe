"""Offline helpers for image automation: ``gitferry image policy test`` and ``gitferry image update``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gitferry.api.images import POLICY_KIND, ImagePolicy, parse_image_policy
from gitferry.api.manifests import load_documents
from gitferry.cli.context import err, fail
from gitferry.errors import GitferryError
from gitferry.images import policy as image_policy
from gitferry.images import setters, update

image_app = typer.Typer(help="Image automation helpers that need no registry or store.", no_args_is_help=True)
policy_app = typer.Typer(help="ImagePolicy helpers.", no_args_is_help=True)
image_app.add_typer(policy_app, name="policy")


@policy_app.command(
    "test",
    help="Print the tag an ImagePolicy selects from a list of tags, exactly as the image automation would."
    " Exit 1 when the policy is invalid or no tag qualifies.",
)
def test_policy(
    policy: Annotated[Path, typer.Option("--policy", help="YAML file holding the ImagePolicy.")],
    tags: Annotated[
        Path, typer.Option("--tags", help="Tags, one a line, in registry order; '#' comments. '-' reads stdin.")
    ],
    name: Annotated[str | None, typer.Option("--name", help="Which ImagePolicy, when the file holds several.")] = None,
) -> None:
    obj = _policy_from_file(policy, name)
    listed = _read_tags(tags)
    try:
        selection = image_policy.select_latest(obj.spec, listed)
    except GitferryError as e:
        raise _fail(f"ImagePolicy {obj.metadata.name} in {policy}: {e}") from e
    typer.echo(selection.tag)


@image_app.command(
    "update",
    help="Apply Setters markers ('# {\"$imagepolicy\": \"NS:NAME\"}', ':tag', ':name', ':digest') under DIR in place,"
    " exactly as the image automation would, and print each change. Markers naming another policy are reported.",
)
def update_images(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Directory (or one YAML file) to update.")],
    assignments: Annotated[
        list[str],
        typer.Option("--set", metavar="NS:NAME=IMAGE:TAG", help="The latest image of a policy; repeatable."),
    ],
) -> None:
    images = _parse_assignments(assignments)
    if not directory.exists():
        raise _fail(f"{directory} does not exist")
    try:
        result = update.update_with_setters(directory, images)
    except OSError as e:
        raise _fail(f"cannot update {e.filename or directory}: {e.strerror}") from e
    for file in result.files:
        typer.echo(file.path)
        for change in file.changes:
            typer.echo(f"  {change.line}: {change.old_value} -> {change.new_value}  ({change.setter})")
    for warning in result.warnings:
        err.print(f"[yellow]![/yellow] {escape(str(warning))}")
    if not result.files:
        typer.echo("no changes")


def _parse_assignments(assignments: list[str]) -> dict[str, setters.LatestImage]:
    images: dict[str, setters.LatestImage] = {}
    for assignment in assignments:
        policy, equals, image = assignment.partition("=")
        namespace, colon, name = policy.partition(":")
        if not equals or not colon or not namespace or not name or ":" in name:
            raise _fail(f"--set {assignment!r}: expected NS:NAME=IMAGE:TAG, e.g. flux-system:app=ghcr.io/org/app:1.0.1")
        try:
            images[policy] = setters.parse_image(image)
        except GitferryError as e:
            raise _fail(f"--set {assignment!r}: {e}") from e
    return images


def _policy_from_file(path: Path, name: str | None) -> ImagePolicy:
    try:
        docs = load_documents(path.read_text(), str(path))
    except OSError as e:
        raise _fail(f"cannot read {path}: {e.strerror}") from e
    except GitferryError as e:
        raise _fail(str(e)) from e
    found = [doc for doc in docs if doc.get("kind") == POLICY_KIND and _named(doc, name)]
    if not found:
        which = f" named {name!r}" if name else ""
        raise _fail(f"no ImagePolicy{which} in {path}")
    if len(found) > 1:
        names = ", ".join(str((doc.get("metadata") or {}).get("name", "?")) for doc in found)
        raise _fail(f"{path} holds several ImagePolicies ({names}): choose one with --name")
    try:
        return parse_image_policy(found[0], str(path))
    except GitferryError as e:
        raise _fail(str(e)) from e


def _named(doc: dict[str, Any], name: str | None) -> bool:
    return name is None or (doc.get("metadata") or {}).get("name") == name


def _read_tags(path: Path) -> list[str]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as e:
        raise _fail(f"cannot read {path}: {e.strerror}") from e
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _fail(message: str) -> typer.Exit:
    # Patterns hold brackets ("[a-f0-9]+") that the console would read as markup.
    return fail(escape(message))

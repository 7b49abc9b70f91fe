"""Verbs that look: get, events, tree, build, diff."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import dump_documents, load_documents
from gitferry.cli import views
from gitferry.cli.context import console, fail, make_world, open_store
from gitferry.errors import GitferryError

if TYPE_CHECKING:
    from gitferry.api.kustomizations import Kustomization

get_app = typer.Typer(help="Show objects and their status (as flux get).", no_args_is_help=True)
sources_app = typer.Typer(help="Sources.", no_args_is_help=True)
get_app.add_typer(sources_app, name="sources")
images_app = typer.Typer(help="Image automation objects.", no_args_is_help=True)
get_app.add_typer(images_app, name="images")
tree_app = typer.Typer(help="Show what an object owns (as flux tree).", no_args_is_help=True)
diff_app = typer.Typer(help="Compare what Git wants with what runs (as flux diff).", no_args_is_help=True)
history_app = typer.Typer(
    help="Show every apply of an object: revision, result, duration, changes.", no_args_is_help=True
)
build_app = typer.Typer(help="Render offline what would be applied (as flux build).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Object name.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Object namespace.")]
AllNamespaces = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")]


@sources_app.command("git", help="List GitRepositories: revision, suspended, ready, message.")
def get_sources_git(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "GitRepository", None if all_namespaces else namespace))


@get_app.command("kustomizations", help="List Kustomizations: revision, suspended, ready, message.")
def get_kustomizations(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "Kustomization", None if all_namespaces else namespace))


@images_app.command("repository", help="List ImageRepositories: last scan, suspended, ready, message.")
def get_images_repository(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "ImageRepository", None if all_namespaces else namespace))


@images_app.command("policy", help="List ImagePolicies: latest image, suspended, ready, message.")
def get_images_policy(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "ImagePolicy", None if all_namespaces else namespace))


@images_app.command("update", help="List ImageUpdateAutomations: last run, suspended, ready, message.")
def get_images_update(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "ImageUpdateAutomation", None if all_namespaces else namespace))


@get_app.command("repositories", help="List Pipelines-as-Code Repositories: branches watched, ready, message.")
def get_repositories(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "Repository", None if all_namespaces else namespace))


@get_app.command("receivers", help="List webhook Receivers: webhook path, suspended, ready, message.")
def get_receivers(namespace: Namespace = "flux-system", all_namespaces: AllNamespaces = False) -> None:
    console.print(views.objects_table(open_store(), "Receiver", None if all_namespaces else namespace))


def events(
    for_: Annotated[str | None, typer.Option("--for", help="Only events of Kind/name.")] = None,
    namespace: Namespace = "flux-system",
    limit: Annotated[int, typer.Option(help="How many of the newest events.")] = 100,
) -> None:
    key = None
    if for_:
        kind, _, name = for_.partition("/")
        if not name:
            raise fail(f"--for {for_!r}: expected Kind/name, e.g. Kustomization/apps")
        key = ObjectKey(kind, namespace, name)
    console.print(views.events_table(open_store().events(key, limit=limit)))


@tree_app.command("kustomization", help="Print the inventory of a Kustomization as a tree.")
def tree_kustomization(name: Name, namespace: Namespace = "flux-system") -> None:
    store = open_store()
    key = ObjectKey("Kustomization", namespace, name)
    if store.get_object(key) is None:
        raise fail(f"Kustomization '{namespace}/{name}' not found")
    console.print(views.inventory_tree(store, key))


def _kustomization_from_file(path: Path, name: str, namespace: str) -> Kustomization:
    from gitferry.api.kustomizations import parse_kustomization

    try:
        docs = load_documents(path.read_text(), str(path))
    except OSError as e:
        raise fail(f"cannot read {path}: {e.strerror}") from e
    for doc in docs:
        meta = doc.get("metadata") or {}
        is_flux = str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/")
        same = meta.get("name") == name and meta.get("namespace", namespace) == namespace
        if is_flux and doc.get("kind") == "Kustomization" and same:
            return parse_kustomization(doc, str(path))
    raise fail(f"no Kustomization '{namespace}/{name}' in {path}")


@history_app.command("kustomization", help="Every apply of a Kustomization, oldest first.")
def history_kustomization(
    name: Name,
    namespace: Namespace = "flux-system",
    limit: Annotated[int, typer.Option(help="How many of the newest applies.")] = 50,
) -> None:
    store = open_store()
    key = ObjectKey("Kustomization", namespace, name)
    if store.get_object(key) is None and not store.history(key, limit=1):
        raise fail(f"Kustomization '{namespace}/{name}' not found")
    console.print(views.history_table(store.history(key, limit=limit)))


@build_app.command("kustomization", help="Render a local folder exactly as the Kustomization would; print YAML.")
def build_kustomization(
    name: Name,
    path: Annotated[Path, typer.Option("--path", help="Local folder to render (replaces spec.path).")],
    kustomization_file: Annotated[
        Path | None, typer.Option("--kustomization-file", help="Read the Kustomization from this file.")
    ] = None,
    namespace: Namespace = "flux-system",
) -> None:
    from gitferry.api.kustomizations import parse_kustomization
    from gitferry.controllers import diffs

    store = open_store()
    try:
        if kustomization_file is not None:
            ks = _kustomization_from_file(kustomization_file, name, namespace)
        else:
            stored = store.get_object(ObjectKey("Kustomization", namespace, name))
            if stored is None:
                raise fail(f"Kustomization '{namespace}/{name}' not found; pass --kustomization-file")
            ks = parse_kustomization(stored.manifest, stored.origin)
        if not path.is_dir():
            raise fail(f"--path {path}: not a directory")
        ks = ks.model_copy(update={"spec": ks.spec.model_copy(update={"path": ""})})
        objects = asyncio.run(diffs.render_local(make_world(store), ks, path))
    except GitferryError as e:
        raise fail(str(e)) from e
    typer.echo(dump_documents(objects), nl=False)


@diff_app.command("kustomization", help="Diff rendered desired state with live state; exit 1 when they differ.")
def diff_kustomization(name: Name, namespace: Namespace = "flux-system") -> None:
    store = open_store()
    key = ObjectKey("Kustomization", namespace, name)
    stored = store.get_object(key)
    if stored is None:
        raise fail(f"Kustomization '{namespace}/{name}' not found", code=2)
    from gitferry.controllers import diffs

    try:
        text = asyncio.run(diffs.diff(make_world(store), stored))
    except GitferryError as e:
        raise fail(str(e), code=2) from e
    if text:
        typer.echo(text, nl=False)
        raise typer.Exit(1)
    console.print("[green]✔[/green] no differences")

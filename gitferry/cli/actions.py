"""Verbs that act: reconcile, suspend, resume. They go through a running ``gitferry up`` when
there is one (its control socket), and otherwise run the reconcile in this process."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from gitferry.api.keys import ObjectKey
from gitferry.cli.context import console, exclusive_lock, fail, make_world, open_store, settings
from gitferry.reactor import control
from gitferry.store.sqlite import Store

reconcile_app = typer.Typer(help="Reconcile an object now (as flux reconcile).", no_args_is_help=True)
suspend_app = typer.Typer(help="Stop reconciling an object (as flux suspend).", no_args_is_help=True)
resume_app = typer.Typer(help="Resume reconciling an object and reconcile it now.", no_args_is_help=True)
source_reconcile = typer.Typer(help="Sources.", no_args_is_help=True)
reconcile_app.add_typer(source_reconcile, name="source")
source_suspend = typer.Typer(help="Sources.", no_args_is_help=True)
suspend_app.add_typer(source_suspend, name="source")
source_resume = typer.Typer(help="Sources.", no_args_is_help=True)
resume_app.add_typer(source_resume, name="source")

image_reconcile = typer.Typer(help="Image automation objects.", no_args_is_help=True)
reconcile_app.add_typer(image_reconcile, name="image")
image_suspend = typer.Typer(help="Image automation objects.", no_args_is_help=True)
suspend_app.add_typer(image_suspend, name="image")
image_resume = typer.Typer(help="Image automation objects.", no_args_is_help=True)
resume_app.add_typer(image_resume, name="image")

Name = Annotated[str, typer.Argument(help="Object name.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Object namespace.")]


def _existing(store: Store, key: ObjectKey) -> ObjectKey:
    if store.get_object(key) is None:
        raise fail(f"{key.kind} '{key.namespace}/{key.name}' not found (see 'gitferry get')")
    return key


async def _reconcile_keys(keys: list[ObjectKey]) -> list[tuple[ObjectKey, bool | None, str]]:
    """Each key in turn, through the daemon if one runs, else here."""
    socket = control.socket_path(settings.data_dir)
    results: list[tuple[ObjectKey, bool | None, str]] = []
    for key in keys:
        reply = await control.call(socket, {"op": "reconcile", "key": str(key)})
        if reply is None:
            return await _reconcile_here(keys)
        if not reply.get("ok"):
            raise fail(str(reply.get("message")))
        results.append((key, reply.get("ready"), str(reply.get("message", ""))))
    return results


async def _reconcile_here(keys: list[ObjectKey]) -> list[tuple[ObjectKey, bool | None, str]]:
    from gitferry.reactor.loop import Reactor

    with exclusive_lock() as locked:
        if not locked:
            raise fail(f"another gitferry process holds {settings.data_dir}; try again when it is done")
        store = open_store()
        world = make_world(store)
        reactor = Reactor(world, idle_start=True)
        results = []
        for key in keys:
            future = reactor.request(key)
            await reactor.run_until_idle()
            outcome = future.result()
            results.append((key, outcome.ready, outcome.message))
        # Pipeline runs a reconcile started belong to this process: see them to their end.
        await asyncio.gather(*(world.pipelines.wait(name) for name in list(world.pipelines.active)))
        return results


def _run(keys: list[ObjectKey]) -> None:
    with console.status("reconciling " + ", ".join(f"{k.kind}/{k.name}" for k in keys)):
        results = asyncio.run(_reconcile_keys(keys))
    failed = False
    for key, ready, message in results:
        mark = "[green]✔[/green]" if ready else "[red]✗[/red]"
        failed = failed or ready is False
        console.print(f"{mark} {key.kind} {key.namespace}/{key.name}: {message}")
    if failed:
        raise typer.Exit(1)


@reconcile_app.command("kustomization", help="Render and apply a Kustomization now.")
def reconcile_kustomization(
    name: Name,
    namespace: Namespace = "flux-system",
    with_source: Annotated[bool, typer.Option("--with-source", help="Fetch its source first.")] = False,
) -> None:
    store = open_store()
    key = _existing(store, ObjectKey("Kustomization", namespace, name))
    keys = [key]
    if with_source:
        ref = (store.get_object(key).manifest.get("spec") or {}).get("sourceRef") or {}  # type: ignore[union-attr]
        keys.insert(0, ObjectKey(str(ref.get("kind")), str(ref.get("namespace") or namespace), str(ref.get("name"))))
    _run(keys)


def _set_suspended(key: ObjectKey, suspended: bool) -> None:
    store = open_store()
    _existing(store, key)
    store.set_suspended(key, suspended)
    word = "suspended" if suspended else "resumed"
    # The same trail as the HTTP API's actions: who, and how.
    store.add_event(key, "Normal", word.capitalize(), f"{word} by {getpass.getuser()} with the CLI")
    console.print(f"[green]✔[/green] {key.kind} {key.namespace}/{key.name} {word}")
    if not suspended:
        _run([key])


def _register(
    groups: tuple[typer.Typer, typer.Typer, typer.Typer], command: str, kind: str, now: str, stops: str
) -> None:
    """``reconcile``, ``suspend`` and ``resume`` of one kind, as ``<group> <command> NAME [-n NS]``.

    ``now`` says what a reconcile does (empty: the kind registers its own); ``stops`` what suspend stops.
    """
    reconcile_group, suspend_group, resume_group = groups

    def reconcile(name: Name, namespace: Namespace = "flux-system") -> None:
        _run([_existing(open_store(), ObjectKey(kind, namespace, name))])

    def suspend(name: Name, namespace: Namespace = "flux-system") -> None:
        _set_suspended(ObjectKey(kind, namespace, name), True)

    def resume(name: Name, namespace: Namespace = "flux-system") -> None:
        _set_suspended(ObjectKey(kind, namespace, name), False)

    if now:
        reconcile_group.command(command, help=now)(reconcile)
    suspend_group.command(command, help=f"Suspend a {kind}: {stops} until resumed.")(suspend)
    resume_group.command(command, help=f"Resume a {kind} and reconcile it now.")(resume)


_TOP = (reconcile_app, suspend_app, resume_app)
_SOURCE = (source_reconcile, source_suspend, source_resume)
_IMAGE = (image_reconcile, image_suspend, image_resume)
for _groups, _command, _kind, _now, _stops in [
    (_TOP, "kustomization", "Kustomization", "", "nothing is applied or pruned"),
    (_SOURCE, "git", "GitRepository", "Fetch a GitRepository now; Kustomizations using a new revision follow.",
     "no fetches"),
    (_IMAGE, "repository", "ImageRepository", "Scan an ImageRepository now; its policies and automations follow.",
     "no scans"),
    (_IMAGE, "update", "ImageUpdateAutomation",
     "Run an ImageUpdateAutomation now: commit and push the latest images.", "no commits"),
    (_TOP, "repository", "Repository", "Look at a Pipelines-as-Code Repository now: a moved branch starts its runs.",
     "no pipeline runs start"),
    (_TOP, "receiver", "Receiver", "Read a Receiver's token Secret again and publish its webhook path.",
     "its webhook answers 503 and triggers nothing"),
]:  # fmt: skip
    _register(_groups, _command, _kind, _now, _stops)

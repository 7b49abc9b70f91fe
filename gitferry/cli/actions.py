"""Verbs that act: reconcile, suspend, resume. They go through a running ``gitferry up`` when
there is one (its control socket), and otherwise run the reconcile in this process."""

from __future__ import annotations

import asyncio
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


@source_reconcile.command("git", help="Fetch a GitRepository now; Kustomizations using a new revision follow.")
def reconcile_source_git(name: Name, namespace: Namespace = "flux-system") -> None:
    _run([_existing(open_store(), ObjectKey("GitRepository", namespace, name))])


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
    console.print(f"[green]✔[/green] {key.kind} {key.namespace}/{key.name} {word}")
    if not suspended:
        _run([key])


@suspend_app.command("kustomization", help="Suspend a Kustomization: nothing is applied or pruned until resumed.")
def suspend_kustomization(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("Kustomization", namespace, name), True)


@resume_app.command("kustomization", help="Resume a Kustomization and reconcile it now.")
def resume_kustomization(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("Kustomization", namespace, name), False)


@source_suspend.command("git", help="Suspend a GitRepository: no fetches until resumed.")
def suspend_source_git(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("GitRepository", namespace, name), True)


@source_resume.command("git", help="Resume a GitRepository and fetch it now.")
def resume_source_git(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("GitRepository", namespace, name), False)


@image_reconcile.command("repository", help="Scan an ImageRepository now; its policies and automations follow.")
def reconcile_image_repository(name: Name, namespace: Namespace = "flux-system") -> None:
    _run([_existing(open_store(), ObjectKey("ImageRepository", namespace, name))])


@image_reconcile.command("update", help="Run an ImageUpdateAutomation now: commit and push the latest images.")
def reconcile_image_update(name: Name, namespace: Namespace = "flux-system") -> None:
    _run([_existing(open_store(), ObjectKey("ImageUpdateAutomation", namespace, name))])


@image_suspend.command("repository", help="Suspend an ImageRepository: no scans until resumed.")
def suspend_image_repository(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("ImageRepository", namespace, name), True)


@image_resume.command("repository", help="Resume an ImageRepository and scan it now.")
def resume_image_repository(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("ImageRepository", namespace, name), False)


@image_suspend.command("update", help="Suspend an ImageUpdateAutomation: no commits until resumed.")
def suspend_image_update(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("ImageUpdateAutomation", namespace, name), True)


@image_resume.command("update", help="Resume an ImageUpdateAutomation and run it now.")
def resume_image_update(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("ImageUpdateAutomation", namespace, name), False)


@reconcile_app.command("repository", help="Look at a Pipelines-as-Code Repository now: a moved branch starts its runs.")
def reconcile_repository(name: Name, namespace: Namespace = "flux-system") -> None:
    _run([_existing(open_store(), ObjectKey("Repository", namespace, name))])


@reconcile_app.command("receiver", help="Read a Receiver's token Secret again and publish its webhook path.")
def reconcile_receiver(name: Name, namespace: Namespace = "flux-system") -> None:
    _run([_existing(open_store(), ObjectKey("Receiver", namespace, name))])


@suspend_app.command("receiver", help="Suspend a Receiver: its webhook answers 503 and triggers nothing.")
def suspend_receiver(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("Receiver", namespace, name), True)


@resume_app.command("receiver", help="Resume a Receiver.")
def resume_receiver(name: Name, namespace: Namespace = "flux-system") -> None:
    _set_suspended(ObjectKey("Receiver", namespace, name), False)

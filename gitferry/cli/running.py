"""``gitferry up`` (the loop, with a live status table) and ``gitferry check`` (prerequisites)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.live import Live

from gitferry.cli import views
from gitferry.cli.context import (
    DEFAULT_HTTP_PORT,
    HTTP_ADDRESS_FILE,
    console,
    exclusive_lock,
    fail,
    make_target,
    make_world,
    open_store,
    settings,
    target_settings,
)
from gitferry.errors import GitferryError
from gitferry.store.runs import PipelineRuns
from gitferry.store.sqlite import Store


def up(
    concurrency: Annotated[int, typer.Option(help="Reconciles that may run at once.")] = 4,
    task_concurrency: Annotated[
        int, typer.Option(min=1, help="Pipeline tasks that may run at once, across all pipeline runs.")
    ] = 4,
    http_port: Annotated[
        int,
        typer.Option(
            envvar="GITFERRY_HTTP_PORT",
            help="Port on 127.0.0.1 for webhook Receivers (Flux's 9292); 0 picks a free one.",
        ),
    ] = DEFAULT_HTTP_PORT,
    live: Annotated[
        bool, typer.Option(help="Show a live status table (default when on a terminal).")
    ] = sys.stdout.isatty(),
) -> None:
    with exclusive_lock() as locked:
        if not locked:
            raise fail(f"another 'gitferry up' is already running on {settings.data_dir}")
        store = open_store()
        if not store.list_objects():
            raise fail("nothing to reconcile: run 'gitferry bootstrap --url ... --branch ... --path ...' first")
        console.print(f"gitferry up: data in {settings.data_dir}; Ctrl-C stops (running containers keep running)")
        asyncio.run(_up(concurrency, task_concurrency, live, http_port))


async def _up(concurrency: int, task_concurrency: int, live: bool, http_port: int) -> None:
    from gitferry.reactor import control
    from gitferry.reactor.loop import Reactor
    from gitferry.server.app import create_app
    from gitferry.server.serving import HttpServer

    store = open_store()
    world = make_world(store)
    world.pipeline_concurrency = task_concurrency
    reactor = Reactor(world, concurrency=concurrency)
    try:
        http = HttpServer(create_app(reactor), http_port)
    except GitferryError as e:
        raise fail(f"{e} (another program uses it? pass --http-port, or 0 for any free port)") from e
    world.http_address = http.address
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    socket = control.socket_path(settings.data_dir)
    interrupted = await world.pipelines.recover()
    if interrupted:
        console.print(f"marked {len(interrupted)} interrupted pipeline runs failed: {', '.join(interrupted)}")
    server = await control.serve(reactor, socket)
    await http.start()
    # What start-up built lives as long as the process: keep it out of every full collection (a list
    # of 1,000 objects made them ~25 ms each, a fifth of the server's time).
    gc.freeze()
    address_file = settings.data_dir / HTTP_ADDRESS_FILE
    address_file.write_text(http.address + "\n")
    console.print(f"web UI: {http.address}/ui/ · API: {http.address}/api/v1 (sign in with 'gitferry token create')")
    console.print(f"webhooks: {http.address}/hook/... (see 'gitferry get receivers')")
    runner = asyncio.ensure_future(reactor.run(stop))
    try:
        if live:
            with Live(_status(store), console=console, refresh_per_second=2) as screen:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
                    screen.update(_status(store))
        else:
            await stop.wait()
    finally:
        stop.set()
        await runner
        await world.pipelines.stop()
        await http.stop()
        server.close()
        for path in (socket, address_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    console.print("gitferry up: stopped")


_SHOWN = {
    "GitRepository": "GitRepositories",
    "Kustomization": "Kustomizations",
    "ImageRepository": "ImageRepositories",
    "ImagePolicy": "ImagePolicies",
    "ImageUpdateAutomation": "ImageUpdateAutomations",
    "Repository": "Repositories (Pipelines-as-Code)",
    "Receiver": "Receivers",
}


def _status(store: Store) -> Group:
    """A table per kind that has objects (image automation only when it is used), then the latest events."""
    present = {stored.key.kind for stored in store.list_objects()}
    parts: list[RenderableType] = []
    for kind, title in _SHOWN.items():
        if kind in present:
            parts += [f"[bold]{title}[/bold]", views.objects_table(store, kind, None), ""]
    runs = PipelineRuns(store).recent(limit=5)
    if runs:
        parts += ["[bold]Pipeline runs (newest first)[/bold]", views.runs_table(runs), ""]
    parts += ["[bold]Latest events[/bold]", views.events_table(store.events(limit=6))]
    return Group(*parts)


async def _check_kubernetes() -> int:
    """1 when the bootstrap's Kubernetes API server cannot be reached or refuses the credentials."""
    from gitferry.targets.kubernetes import KubernetesTarget

    try:
        target = make_target()
        assert isinstance(target, KubernetesTarget)
        try:
            served = await target.client.resources()
        finally:
            await target.client.close()
    except GitferryError as e:
        console.print(f"[red]✗[/red] kubernetes target: {e}")
        return 1
    console.print(f"[green]✔[/green] kubernetes API server {target.client.server} answers ({len(served)} kinds served)")
    return 0


_INSTALL = {
    "git": "apt-get install git",
    "podman": "apt-get install podman runc catatonit (and set CONTAINERS_CONF, see README)",
    "buildah": "apt-get install buildah (the built-in build-image pipeline task builds with it)",
    "kubectl": "install kubectl (its 'kubectl kustomize' is real kustomize) or a kustomize binary",
}


def check() -> None:
    problems = 0
    for tool, hint in _INSTALL.items():
        found = shutil.which(tool) or (tool == "kubectl" and shutil.which("kustomize"))
        if found:
            console.print(f"[green]✔[/green] {tool}: {found}")
        else:
            problems += 1
            console.print(f"[red]✗[/red] {tool} not found: {hint}")
    if shutil.which("podman"):
        info = subprocess.run(
            ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True, text=True
        )
        if info.returncode == 0:
            console.print(f"[green]✔[/green] podman works (runtime {info.stdout.strip()})")
        else:
            problems += 1
            console.print(f"[red]✗[/red] podman info failed: {info.stderr.strip()[:300]}")
        if not os.environ.get("CONTAINERS_CONF"):
            console.print("  note: CONTAINERS_CONF is not set; on hosts where crun fails use scripts/containers.conf")
    if target_settings().get("kind") == "kubernetes":
        problems += asyncio.run(_check_kubernetes())
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        console.print(f"[green]✔[/green] data directory {settings.data_dir} is writable")
    except OSError as e:
        problems += 1
        console.print(f"[red]✗[/red] data directory {settings.data_dir}: {e.strerror}")
    if problems:
        raise typer.Exit(1)
    console.print("[green]✔[/green] all checks passed")

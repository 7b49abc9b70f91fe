"""Entry point: ``gitferry`` and its verbs. Each verb is thin: it opens the store and calls down."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from gitferry import __version__
from gitferry.cli import actions, images, inspect, pipelineruns, receivers, running, secrets, tokens
from gitferry.cli.context import TARGET_FILE, console, fail, make_world, open_store, settings
from gitferry.errors import GitferryError

app = typer.Typer(
    help="GitOps on podman with the Flux YAML you already have. Verbs mirror the flux CLI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(inspect.get_app, name="get")
app.add_typer(actions.reconcile_app, name="reconcile")
app.add_typer(actions.suspend_app, name="suspend")
app.add_typer(actions.resume_app, name="resume")
app.add_typer(inspect.tree_app, name="tree")
app.add_typer(inspect.diff_app, name="diff")
app.add_typer(inspect.build_app, name="build")
app.add_typer(inspect.history_app, name="history")
app.add_typer(secrets.create_app, name="create")
app.add_typer(images.image_app, name="image")
app.add_typer(pipelineruns.pipelinerun_app, name="pipelinerun")
app.add_typer(receivers.receiver_app, name="receiver")
app.add_typer(tokens.token_app, name="token")
app.command("events", help="Show events, newest last (as flux events).")(inspect.events)
app.command("up", help="Run the reconcile loop in the foreground, with live status in the terminal.")(running.up)
app.command("check", help="Check that git, podman and kustomize work and the data directory is usable.")(running.check)


def _choose_target(kind: str, kubeconfig: Path | None, context: str | None) -> None:
    """Record where workloads go, after checking a kubernetes target's kubeconfig can be read."""
    if kind not in ("podman", "kubernetes"):
        raise fail(f"--target {kind!r}: choose podman or kubernetes")
    chosen: dict[str, str | None] = {"kind": kind}
    if kind == "kubernetes":
        from gitferry.targets.kube_client import load_config

        try:
            load_config(kubeconfig, context)
        except GitferryError as e:
            raise fail(f"--target kubernetes: {e}") from e
        chosen |= {"kubeconfig": str(kubeconfig.resolve()) if kubeconfig else None, "context": context}
    elif kubeconfig or context:
        raise fail("--kubeconfig and --context are for --target kubernetes")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / TARGET_FILE).write_text(json.dumps(chosen) + "\n")


def _version(value: bool) -> None:
    if value:
        console.print(f"gitferry {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="GITFERRY_DATA_DIR", help="Where state, sources and logs live."),
    ] = None,
    tls_verify: Annotated[bool, typer.Option(help="Verify registry TLS when podman pulls images.")] = True,
    strict_substitute: Annotated[
        bool, typer.Option(help="Fail a Kustomization when a ${var} has no value (Flux's --strict-substitute).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each reconcile.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    if data_dir is not None:
        settings.data_dir = data_dir
    settings.tls_verify = tls_verify
    settings.strict_substitute = strict_substitute
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # httpx logs every request at INFO: one line per registry scan would drown the reconcile log.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command(help="Write the root GitRepository and Kustomization into the GitOps repository and register them.")
def bootstrap(
    url: Annotated[str, typer.Option(help="GitOps repository URL (file://, https:// or ssh://).")],
    branch: Annotated[str, typer.Option(help="Branch to read and write.")] = "main",
    path: Annotated[str, typer.Option(help="Folder in the repository for this cluster.")] = "./clusters/local",
    interval: Annotated[str, typer.Option(help="How often to check Git and correct drift.")] = "1m",
    secret_ref: Annotated[
        str | None,
        typer.Option(
            help="Secret with the Git credentials (made with 'gitferry create secret git'), for push and fetch."
        ),
    ] = None,
    target: Annotated[
        str, typer.Option(help="Where workloads run: podman (this host) or kubernetes (a cluster's API).")
    ] = "podman",
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubernetes: the kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubernetes: the kubeconfig context (default: current).")] = None,
) -> None:
    from gitferry.controllers.bootstrap import bootstrap as run_bootstrap

    _choose_target(target, kubeconfig, context)
    world = make_world(open_store())
    try:
        with console.status(f"bootstrapping {url} ({branch}, {path})"):
            result = asyncio.run(
                run_bootstrap(world, url=url, branch=branch, path=path, interval=interval, secret_ref=secret_ref)
            )
    except GitferryError as e:
        raise fail(f"bootstrap failed: {e}") from e
    if result.commit:
        console.print(f"[green]✔[/green] committed {', '.join(result.files)} ({result.commit[:12]}) to {branch}")
    else:
        console.print(f"[green]✔[/green] {', '.join(result.files)} already up to date in {branch}")
    console.print(f"[green]✔[/green] registered GitRepository and Kustomization flux-system in {settings.data_dir}")
    console.print("next: run [bold]gitferry up[/bold]")

"""Opening the data directory, the store and a World for CLI commands."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from gitferry.errors import GitferryError
from gitferry.store.sqlite import Store

if TYPE_CHECKING:
    from gitferry.controllers.world import World
    from gitferry.targets.base import Target

DEFAULT_HTTP_PORT = 9292  # Flux's notification-controller serves its receivers on 9292
HTTP_ADDRESS_FILE = "http.address"  # written by 'gitferry up': where its HTTP server listens
TARGET_FILE = "target.json"  # written by 'gitferry bootstrap --target': where workloads go

console = Console()
err = Console(stderr=True)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(os.environ.get("GITFERRY_DATA_DIR") or Path(base) / "gitferry")


class Settings:
    data_dir: Path = default_data_dir()
    tls_verify: bool = True
    strict_substitute: bool = False


settings = Settings()


def open_store() -> Store:
    return Store(settings.data_dir / "state.db")


def target_settings() -> dict[str, str]:
    """What 'gitferry bootstrap --target' chose: {"kind": "podman"} unless it chose kubernetes."""
    try:
        chosen = json.loads((settings.data_dir / TARGET_FILE).read_text())
    except (OSError, ValueError):
        return {"kind": "podman"}
    return {str(k): str(v) for k, v in chosen.items() if v is not None} if isinstance(chosen, dict) else {}


def make_target() -> Target:
    # Imported here: 'reconcile' through a running daemon should not pay for the whole engine.
    chosen = target_settings()
    if chosen.get("kind") == "kubernetes":
        from gitferry.targets.kube_client import KubeClient, load_config
        from gitferry.targets.kubernetes import KubernetesTarget

        kubeconfig = chosen.get("kubeconfig")
        config = load_config(Path(kubeconfig) if kubeconfig else None, chosen.get("context"))
        return KubernetesTarget(KubeClient.connect(config), settings.data_dir / "kubernetes")
    from gitferry.targets.podman import PodmanTarget

    return PodmanTarget(state_dir=settings.data_dir / "podman", tls_verify=settings.tls_verify)


def make_world(store: Store) -> World:
    from gitferry.clock import SystemClock
    from gitferry.controllers.world import World

    try:
        target = make_target()
    except GitferryError as e:
        raise fail(f"target: {e}") from e
    return World(
        store=store,
        target=target,
        data_dir=settings.data_dir,
        clock=SystemClock(),
        strict_substitute=settings.strict_substitute,
        tls_verify=settings.tls_verify,
    )


def http_address() -> str | None:
    """``http://127.0.0.1:PORT`` of the running ``gitferry up``, None when none runs."""
    try:
        return (settings.data_dir / HTTP_ADDRESS_FILE).read_text().strip() or None
    except OSError:
        return None


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]✗[/red] {message}")
    return typer.Exit(code)


@contextmanager
def exclusive_lock(block: bool = False) -> Iterator[bool]:
    """The data directory's lock: held by ``gitferry up`` so two loops never act on one store.

    Yields False when another process holds it and ``block`` is False.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "gitferry.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

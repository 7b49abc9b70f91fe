"""``gitferry create secret git|receiver``: Secrets that objects name but Git should not hold.

As ``flux create secret git`` does, ``git`` makes a Secret with the keys source-controller reads
(``username``/``password``, ``bearerToken``, ``identity``/``known_hosts``); ``receiver`` makes the
``token`` Secret of a webhook Receiver. Values come from environment variables or files, never
from the command line, where ``ps`` would show them.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Annotated

import typer

from gitferry.cli.context import console, fail, open_store

create_app = typer.Typer(help="Create objects gitferry reads but Git should not hold.", no_args_is_help=True)
secret_app = typer.Typer(help="Secrets.", no_args_is_help=True)
create_app.add_typer(secret_app, name="secret")

CLI_OWNER = "cli"


def _from_env(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise fail(f"environment variable {variable} is not set")
    return value


@secret_app.command("git", help="Store Git credentials (basic auth, bearer token or ssh key) as a Secret.")
def create_secret_git(
    name: Annotated[str, typer.Argument(help="Secret name, as in the GitRepository's spec.secretRef.name.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Secret namespace.")] = "flux-system",
    username: Annotated[str | None, typer.Option(help="Basic auth user name.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Name of the environment variable holding the password or token.")
    ] = None,
    bearer_token_env: Annotated[
        str | None, typer.Option(help="Name of the environment variable holding a bearer token.")
    ] = None,
    private_key_file: Annotated[Path | None, typer.Option(help="SSH private key file (for ssh:// URLs).")] = None,
    known_hosts_file: Annotated[Path | None, typer.Option(help="known_hosts file for the ssh server.")] = None,
) -> None:
    data: dict[str, str] = {}
    if username:
        data["username"] = username
    if password_env:
        data["password"] = _from_env(password_env)
    if bearer_token_env:
        data["bearerToken"] = _from_env(bearer_token_env)
    for key, path in (("identity", private_key_file), ("known_hosts", known_hosts_file)):
        if path is not None:
            try:
                data[key] = path.read_text()
            except OSError as e:
                raise fail(f"cannot read {path}: {e.strerror}") from e
    if not data:
        raise fail("give --username/--password-env, --bearer-token-env or --private-key-file")
    _store_secret(name, namespace, data, "gitferry create secret git")


@secret_app.command("receiver", help="Store the token of a webhook Receiver (its spec.secretRef) as a Secret.")
def create_secret_receiver(
    name: Annotated[str, typer.Argument(help="Secret name, as in the Receiver's spec.secretRef.name.")],
    token_env: Annotated[str, typer.Option(help="Name of the environment variable holding the token.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Secret namespace.")] = "flux-system",
) -> None:
    _store_secret(name, namespace, {"token": _from_env(token_env)}, "gitferry create secret receiver")


def _store_secret(name: str, namespace: str, data: dict[str, str], origin: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    open_store().put_object(secret, owner=CLI_OWNER, origin=origin)
    console.print(f"[green]✔[/green] Secret {namespace}/{name} stored with keys {', '.join(sorted(data))}")

"""``gitferry token create|list|revoke``: who may use the HTTP API and the web UI.

The token is printed once, on stdout alone (so ``TOKEN=$(gitferry token create ...)`` works);
the store keeps its SHA-256. A running ``gitferry up`` sees new and revoked tokens at once.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gitferry.api.tokens import Role
from gitferry.cli.context import console, err, fail, http_address, open_store
from gitferry.errors import StoreError
from gitferry.store.tokens import Tokens

token_app = typer.Typer(help="API and web UI tokens.", no_args_is_help=True)


@token_app.command("create", help="Make a token and print it (only this once).")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses it; shown in the audit trail.")] = "",
    role: Annotated[Role, typer.Option("--role", help="viewer reads; admin also reconciles, suspends, resumes.")] = (
        Role.VIEWER
    ),
) -> None:
    chosen = name or role.value
    try:
        value = Tokens(open_store()).create(chosen, role)
    except (ValueError, StoreError) as e:
        raise fail(f"--name: {e}" if isinstance(e, ValueError) else str(e)) from e
    print(value)
    where = http_address() or "the address 'gitferry up' prints"
    err.print(
        f"token '{chosen}' ({role.value}) created: sign in at {where}/ui/ or send 'Authorization: Bearer <token>'"
    )


@token_app.command("list", help="Tokens by name, with role and last use (never their values).")
def list_tokens() -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "ROLE", "CREATED", "LAST USED"):
        table.add_column(column)
    for record in Tokens(open_store()).list():
        table.add_row(record.name, record.role.value, record.created, record.last_used or "never")
    console.print(table)


@token_app.command("revoke", help="Delete a token: requests with it are refused from now on.")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    if not Tokens(open_store()).revoke(name):
        raise fail(f"no token named {name!r} (see 'gitferry token list')")
    console.print(f"[green]✔[/green] token '{name}' revoked")

"""Verbs for Flux ``Receiver`` webhooks: the token Secret, and a git ``post-receive`` hook that
calls the webhook, for plain bare repositories that have no GitHub or GitLab to send one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from gitferry.api.keys import ObjectKey
from gitferry.api.receivers import parse_receiver, webhook_path
from gitferry.cli.context import console, fail, http_address, open_store
from gitferry.errors import GitferryError, InvalidObjectError

receiver_app = typer.Typer(help="Webhook Receivers (Flux notification.toolkit.fluxcd.io/v1).", no_args_is_help=True)

HOOK_MARK = "# Installed by 'gitferry receiver hook'"

# The hook is Python (git hosts have it, curl they may not), sends one push event per updated
# ref, signs it as the Receiver's type asks, and never fails a push: git has already stored it.
_HOOK = """#!/usr/bin/env python3
{mark}: tells gitferry's Receiver {receiver} about each push.
import hashlib, hmac, json, sys, urllib.request

URL = {url!r}
REPOSITORY = {repository!r}
TYPE = {type!r}
TOKEN = {token!r}  # only for the types that sign (github, gitlab, generic-hmac)

for line in sys.stdin:
    before, after, ref = line.split()
    body = json.dumps({{"ref": ref, "before": before, "after": after, "repository": {{"url": REPOSITORY}}}}).encode()
    headers = {{"Content-Type": "application/json"}}
    signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    if TYPE == "github":
        headers.update({{"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}})
    elif TYPE == "gitlab":
        headers.update({{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN}})
    elif TYPE == "generic-hmac":
        headers["X-Signature"] = signature
    try:
        urllib.request.urlopen(urllib.request.Request(URL, body, headers), timeout=5).read()
    except Exception as error:  # the push is stored either way; say why gitferry was not told
        print(f"gitferry: could not notify {{URL}}: {{error}}", file=sys.stderr)
"""


def _hooks_dir(git_dir: Path) -> Path:
    """Where git runs this repository's hooks (core.hooksPath respected), bare or not."""
    if not git_dir.is_dir():
        raise fail(f"{git_dir} is not a directory")
    found = subprocess.run(
        ["git", "rev-parse", "--git-path", "hooks"], cwd=git_dir, capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        raise fail(f"{git_dir} is not a git repository: {found.stderr.strip()}")
    return (git_dir / found.stdout.strip()).resolve()


@receiver_app.command("hook", help="Install a post-receive hook in a repository that calls a Receiver on each push.")
def install_hook(
    git_dir: Annotated[Path, typer.Argument(help="The repository pushed to (bare or not).")],
    name: Annotated[str, typer.Option("--receiver", help="Receiver name.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Receiver namespace.")] = "flux-system",
    url: Annotated[
        str | None, typer.Option(help="Base URL of gitferry's HTTP server (default: where 'gitferry up' listens).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a post-receive hook gitferry did not write.")] = False,
) -> None:
    store = open_store()
    stored = store.get_object(ObjectKey("Receiver", namespace, name))
    if stored is None:
        raise fail(f"Receiver '{namespace}/{name}' not found (see 'gitferry get receivers')")
    try:
        receiver = parse_receiver(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        raise fail(str(e)) from e
    from gitferry.controllers.receiver import token_of

    try:
        token = token_of(receiver, store)
    except GitferryError as e:
        raise fail(f"Receiver {namespace}/{name}: {e}") from e
    base = url or http_address()
    if base is None:
        raise fail("no 'gitferry up' is running here to say its address: start it, or pass --url")
    hook_url = base.rstrip("/") + webhook_path(token, name, namespace)
    hooks = _hooks_dir(git_dir)
    hook = hooks / "post-receive"
    if hook.exists() and HOOK_MARK not in hook.read_text(errors="replace") and not force:
        raise fail(f"{hook} exists and was not written by gitferry; pass --force to replace it")
    hooks.mkdir(parents=True, exist_ok=True)
    signed = receiver.spec.type != "generic"
    text = _HOOK.format(
        mark=HOOK_MARK, receiver=f"{namespace}/{name}", url=hook_url, type=receiver.spec.type,
        token=token if signed else "", repository=str(git_dir.resolve()),
    )  # fmt: skip
    hook.write_text(text)
    hook.chmod(0o700)  # it may hold the token
    console.print(f"[green]✔[/green] {hook} posts each push to {hook_url} ({receiver.spec.type})")

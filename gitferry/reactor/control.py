"""A local control socket so the CLI can ask a running ``gitferry up`` to act now.

Protocol: one JSON object per line each way, over a Unix socket in the data directory (only the
user who owns the data directory can reach it). Requests:
``{"op": "reconcile", "key": "Kind/namespace/name"}`` -> ``{"ok": true, "ready": ..., "message": ...}``;
``{"op": "cancel-run", "name": "<pipelinerun>"}`` -> ``{"ok": true|false, "message": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitferry.api.keys import ObjectKey

if TYPE_CHECKING:
    from gitferry.reactor.loop import Reactor

log = logging.getLogger("gitferry.control")

SOCKET_NAME = "control.sock"
_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes on Linux


def socket_path(data_dir: Path) -> Path:
    """The control socket of the daemon on ``data_dir``: inside it, or, when that path would be
    too long for a Unix socket, under the temp dir with a name derived from it (same for both ends)."""
    inside = data_dir / SOCKET_NAME
    if len(str(inside.resolve())) <= _MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"gitferry-{os.getuid()}-{digest}.sock"


async def serve(reactor: Reactor, path: Path) -> asyncio.AbstractServer:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            reply = await _answer(reactor, json.loads(line or b"{}"))
        except (ValueError, KeyError) as e:
            reply = {"ok": False, "message": str(e).strip("'\"")}
        writer.write(json.dumps(reply).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    path.chmod(0o600)
    return server


async def _answer(reactor: Reactor, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "reconcile":
        outcome = await reactor.request(ObjectKey.parse(str(request["key"])))
        return {"ok": True, "ready": outcome.ready, "message": outcome.message}
    if op == "cancel-run":
        name = str(request["name"])
        if reactor.world.pipelines.cancel(name):
            return {"ok": True, "message": f"PipelineRun {name} is being cancelled"}
        return {"ok": False, "message": f"PipelineRun {name} is not running in this gitferry process"}
    raise ValueError(f"unknown op {op!r}")


async def call(path: Path, request: dict[str, Any], timeout: float = 600.0) -> dict[str, Any] | None:
    """Send one request to a running daemon; None when no daemon listens on ``path``."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), timeout)
    writer.close()
    return dict(json.loads(line))

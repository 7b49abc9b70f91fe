"""Serving the HTTP application inside ``gitferry up``'s own asyncio loop, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from gitferry.errors import GitferryError

HOST = "127.0.0.1"


class _Embedded(uvicorn.Server):
    """uvicorn without its signal handlers: ``gitferry up`` owns SIGINT/SIGTERM and stops us itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Bound at construction (a port in use fails there, with the port named); port 0 picks a free one."""

    def __init__(self, app: FastAPI, port: int) -> None:
        # IPPROTO_TCP named, or asyncio does not set TCP_NODELAY on accepted connections and every small
        # answer waits ~40 ms for the client's delayed ACK (uvicorn writes headers and body apart).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((HOST, port))
        except OSError as e:
            self._socket.close()
            raise GitferryError(f"cannot listen on {HOST}:{port}: {e.strerror}") from e
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
        self._server = _Embedded(config)
        self._app = app
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise GitferryError(f"the HTTP server on {self.address} stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        stopping = getattr(self._app.state, "stopping", None)
        if stopping is not None:  # ends the open event streams, which would hold the shutdown up
            stopping.set()
        if self._task is not None:
            self._server.should_exit = True
            await self._task
        self._socket.close()

"""Server-sent event streams: "something changed" for live pages, and a pipeline run's log lines.

Both poll the store (a few microseconds a read) rather than hook into the writers: the writer
may be this process or a CLI next to it, and the store is where both meet.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request

from gitferry.store import runs as records
from gitferry.store.sqlite import Store

CHANGE_POLL = 0.4  # seconds between looks at the store's change mark: at most this many pages' refreshes a second
LOG_POLL = 0.2
HEARTBEAT = 15.0  # an SSE comment now and then, so proxies and browsers keep the stream open


def message(event: str, data: str) -> str:
    """One SSE message; each line of ``data`` gets its own ``data:`` field, as the format requires."""
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


async def _ended(request: Request, stopping: asyncio.Event) -> bool:
    return stopping.is_set() or await request.is_disconnected()


def mark_text(mark: tuple[int, int]) -> str:
    return f"{mark[0]}.{mark[1]}"


async def changes(store: Store, request: Request, stopping: asyncio.Event, since: str = "") -> AsyncIterator[str]:
    """``change`` whenever anything in the store was written, at most once per poll, and always after
    the last write. ``since`` is the mark the page was rendered at: a write between rendering and
    connecting is signalled at once."""
    mark = store.change_mark()
    yield message("hello", json.dumps({"mark": mark_text(mark)}))
    if since and since != mark_text(mark):
        yield message("change", json.dumps({"mark": mark_text(mark)}))
    quiet = 0.0
    while not await _ended(request, stopping):
        await asyncio.sleep(CHANGE_POLL)
        now = store.change_mark()
        if now != mark:
            mark, quiet = now, 0.0
            yield message("change", json.dumps({"mark": mark_text(now)}))
        else:
            quiet += CHANGE_POLL
            if quiet >= HEARTBEAT:
                quiet = 0.0
                yield ": still here\n\n"


async def logs(
    runs: records.PipelineRuns,
    name: str,
    request: Request,
    stopping: asyncio.Event,
    *,
    after: int,
    render: Callable[[list[records.LogLine]], tuple[str, str]],
) -> AsyncIterator[str]:
    """The run's log lines after id ``after`` as they are written, then ``end`` with the run's status.

    ``render`` turns a batch into one (event, data) pair: JSON for the API, HTML for the page.
    """
    while True:
        record = runs.get(name)
        finished = record is None or record.status in records.FINISHED
        batch = runs.logs(name, after=after, limit=500)
        if batch:
            after = batch[-1].id
            yield message(*render(batch))
            continue  # drain what is there before sleeping
        if finished:
            end: dict[str, Any] = {"status": record.status if record else "Deleted", "after": after}
            yield message("end", json.dumps(end))
            return
        if await _ended(request, stopping):
            return
        await asyncio.sleep(LOG_POLL)

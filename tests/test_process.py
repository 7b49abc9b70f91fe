"""The subprocess runner: output, failures and timeouts that also end the command's children."""

from __future__ import annotations

import asyncio
import time

import pytest

from gitferry import process
from gitferry.errors import CommandError


def test_output_and_exit_code() -> None:
    done = asyncio.run(process.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False))
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_failure_carries_the_last_lines_of_stderr() -> None:
    with pytest.raises(CommandError, match="sh -c echo one >&2; echo two >&2; exit 1 failed: one; two"):
        asyncio.run(process.run(["sh", "-c", "echo one >&2; echo two >&2; exit 1"]))


def test_missing_program_says_so() -> None:
    with pytest.raises(CommandError, match="no-such-program-xyz is not installed"):
        asyncio.run(process.run(["no-such-program-xyz"]))


def test_timeout_ends_children_that_hold_the_pipes() -> None:
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"timed out after 0\.5s"):
        asyncio.run(process.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5))
    assert time.monotonic() - started < 5

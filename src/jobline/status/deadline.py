"""Run one probe with its own deadline, and say so when it runs out.

A librdkafka call against a broker that accepts and never answers can block past its own
timeout, and so can a psycopg call against a frozen server. Each probe therefore runs on
its own daemon thread (Kafka) or task (PostgreSQL) under a deadline; a probe that misses
it is reported as timed out and abandoned, never waited for. Daemon threads do not hold
the process at exit, and asyncio's default executor (which asyncio.run joins) is not used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ProbeTimeout(Exception):
    """A probe did not finish within its deadline."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} timed out after {seconds:g} s")
        self.what = what
        self.seconds = seconds


async def in_thread(what: str, seconds: float, fn: Callable[[], T]) -> T:
    """`fn()` on a daemon thread; ProbeTimeout after `seconds` (the thread is abandoned)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            value = fn()
        except BaseException as exc:  # handed to the awaiting task, never lost
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=run, name=f"probe:{what}", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout=seconds)
    except TimeoutError:
        raise ProbeTimeout(what, seconds) from None


async def within(what: str, seconds: float, awaitable: Awaitable[T]) -> T:
    """`awaitable` cancelled after `seconds` and reported as ProbeTimeout."""
    try:
        return await asyncio.wait_for(awaitable, timeout=seconds)
    except TimeoutError:
        raise ProbeTimeout(what, seconds) from None

"""Threads for sync handlers: what a handler raises comes back as an Exception; zombies
are counted and never hold up the next call."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from jobline.runner.threads import HandlerExited, HandlerThreads


async def test_system_exit_in_a_sync_handler_comes_back_wrapped() -> None:
    threads = HandlerThreads()
    work = threads.submit(sys.exit, 3)
    await work.started
    with pytest.raises(HandlerExited, match="SystemExit: 3"):
        await work.done
    threads.shutdown()


async def test_a_cancelled_error_from_a_thread_is_not_the_callers_cancellation() -> None:
    def cancels() -> None:
        raise asyncio.CancelledError

    threads = HandlerThreads()
    work = threads.submit(cancels)
    with pytest.raises(HandlerExited):
        await work.done
    threads.shutdown()


async def test_a_busy_thread_does_not_hold_up_the_next_call() -> None:
    release = threading.Event()
    threads = HandlerThreads()
    blocked = threads.submit(release.wait)
    await blocked.started
    threads.became_zombie()
    quick = threads.submit(lambda: 7)
    assert await asyncio.wait_for(quick.done, 2) == 7
    assert threads.zombies == 1 and threads.threads == 2
    release.set()
    await blocked.done
    threads.zombie_ended()
    assert threads.zombies == 0
    threads.shutdown()

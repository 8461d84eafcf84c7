"""The event loop a server process runs on: uvloop when installed, else asyncio's own.

A runner spends about a quarter of its CPU in the event loop itself on short jobs (py-spy,
docs/benchmarks.md); uvloop, libuv underneath, does the same work for less. It comes with
the `fast` extra (`pip install 'jobline[fast]'`); `JOBLINE_EVENT_LOOP` chooses.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from jobline.errors import ConfigError

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: str) -> tuple[str, LoopFactory | None]:
    """(name of the loop, its factory; None for asyncio's default) for JOBLINE_EVENT_LOOP."""
    if choice == "asyncio":
        return "asyncio", None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "JOBLINE_EVENT_LOOP=uvloop but uvloop is not installed: install "
                "'jobline[fast]', or set JOBLINE_EVENT_LOOP=auto (uvloop when installed)"
            ) from None
        return "asyncio", None
    factory: LoopFactory = uvloop.new_event_loop
    return "uvloop", factory


def run(coro: Coroutine[Any, Any, T], factory: LoopFactory | None) -> T:
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)

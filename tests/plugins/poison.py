"""Fault plugin: handlers that misbehave the ways real plugin code does (issue 6, scenario 8).

Each one must end as a failure of its own job; the server and the other jobs go on.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from jobline import JobDefinition, JobMeta, Plugin


async def calls_sys_exit(_payload: Any, _meta: JobMeta) -> None:
    sys.exit(3)


async def raises_keyboard_interrupt(_payload: Any, _meta: JobMeta) -> None:
    raise KeyboardInterrupt


async def raises_cancelled(_payload: Any, _meta: JobMeta) -> None:
    raise asyncio.CancelledError


def blocks_past_timeout(payload: Any, _meta: JobMeta) -> None:
    # a sync handler the runner cannot interrupt: it can only stop waiting for it
    time.sleep(float((payload or {}).get("sleep", 3)))


async def fails_with_nul(_payload: Any, _meta: JobMeta) -> None:
    raise RuntimeError("bad byte \x00 in the error text, and a lone surrogate \ud800")


def sync_calls_sys_exit(_payload: Any, _meta: JobMeta) -> None:
    sys.exit(4)


plugin = Plugin(
    name="poison",
    jobs={
        "sys_exit": JobDefinition(calls_sys_exit, max_attempts=2),
        "sync_sys_exit": JobDefinition(sync_calls_sys_exit, max_attempts=2),
        "keyboard_interrupt": JobDefinition(raises_keyboard_interrupt, max_attempts=2),
        "cancelled": JobDefinition(raises_cancelled, max_attempts=2),
        "blocks": JobDefinition(blocks_past_timeout, max_attempts=1, timeout_s=0.5),
        "nul_error": JobDefinition(fails_with_nul, max_attempts=2),
    },
)

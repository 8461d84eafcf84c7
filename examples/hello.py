"""An example plugin: greets, counts down, and fails on purpose to show retries."""

from __future__ import annotations

import asyncio
from typing import Any

from jobline import JobDefinition, JobMeta, Plugin


async def greet(payload: dict[str, Any], meta: JobMeta) -> None:
    meta.logger.info("hello.greeted", name=payload.get("name", "world"))


def countdown(payload: dict[str, Any], meta: JobMeta) -> None:
    # A sync handler (runs in the thread pool) that triggers its own next step.
    left = int(payload["from"])
    meta.logger.info("hello.countdown", left=left)
    if left > 0:
        meta.jobs.countdown({"from": left - 1}).run_in(seconds=1)


async def flaky(payload: dict[str, Any], meta: JobMeta) -> None:
    await asyncio.sleep(0.01)
    if meta.attempt < int(payload.get("succeed_on_attempt", 99)):
        raise RuntimeError(f"flaky failed on attempt {meta.attempt}, as asked")
    meta.logger.info("hello.flaky_succeeded", attempt=meta.attempt)


plugin = Plugin(
    name="hello",
    jobs={
        "greet": greet,
        "countdown": countdown,
        "flaky": JobDefinition(flaky, max_attempts=3),
    },
)

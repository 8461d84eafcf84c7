"""An example plugin: greets, counts down, fails on purpose to show retries, and ticks."""

from __future__ import annotations

import asyncio
from typing import Any

from jobline import JobDefinition, JobMeta, Plugin
from jobline.plugins import CronTask


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


async def tick(payload: dict[str, Any], meta: JobMeta) -> None:
    # A scheduled task: counts its runs in the config's storage, logs each one.
    assert meta.storage is not None
    ticks = int(await meta.storage.get("ticks", 0)) + 1
    await meta.storage.set("ticks", ticks)
    meta.logger.info("hello.tick", ticks=ticks, at=payload["tick"])


plugin = Plugin(
    name="hello",
    jobs={
        "greet": greet,
        "countdown": countdown,
        "flaky": JobDefinition(flaky, max_attempts=3),
    },
    # every 5 seconds (croniter's 6th field is seconds); run_every_minute=... works too
    cron={"tick": CronTask("* * * * * */5", tick)},
)

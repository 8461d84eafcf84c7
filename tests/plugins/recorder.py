"""Test plugin: every handler records its run in `test_runs` (main DB), to count runs."""

from __future__ import annotations

import os
from typing import Any

from psycopg_pool import AsyncConnectionPool

from jobline import JobDefinition, JobMeta, Plugin
from jobline.plugins import PayloadField

_pool: AsyncConnectionPool | None = None


async def _record(meta: JobMeta, payload: Any, outcome: str) -> None:
    global _pool
    if _pool is None:
        _pool = AsyncConnectionPool(
            os.environ["RECORDER_DATABASE_URL"],
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True},
            open=False,
        )
        await _pool.open()
    table = os.environ["RECORDER_TABLE"]
    async with _pool.connection() as conn:
        await conn.execute(
            f"INSERT INTO {table} (job_id, job_type, n, attempt, outcome) "
            "VALUES (%s, %s, %s, %s, %s)",
            (meta.job_id, meta.job_type, (payload or {}).get("n"), meta.attempt, outcome),
        )


async def record(payload: Any, meta: JobMeta) -> None:
    await _record(meta, payload, "ok")


async def record_slow(payload: Any, meta: JobMeta) -> None:
    import asyncio

    await asyncio.sleep(float(payload.get("sleep", 1)))
    await _record(meta, payload, "ok")


async def always_fails(payload: Any, meta: JobMeta) -> None:
    await _record(meta, payload, "failed")
    raise RuntimeError(f"always fails (attempt {meta.attempt})")


def record_sync(payload: Any, meta: JobMeta) -> None:
    import psycopg

    table = os.environ["RECORDER_TABLE"]
    with psycopg.connect(os.environ["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {table} (job_id, job_type, n, attempt, outcome) "
            "VALUES (%s, %s, %s, %s, 'ok')",
            (meta.job_id, meta.job_type, (payload or {}).get("n"), meta.attempt),
        )


# --- poison handlers: each must fail its own job and leave the server running -----------


async def exits(payload: Any, meta: JobMeta) -> None:
    import sys

    sys.exit(3)


def exits_sync(payload: Any, meta: JobMeta) -> None:
    import sys

    sys.exit(4)


async def interrupts(payload: Any, meta: JobMeta) -> None:
    raise KeyboardInterrupt


async def cancels(payload: Any, meta: JobMeta) -> None:
    import asyncio

    raise asyncio.CancelledError("the handler's own")


def blocks_sync(payload: Any, meta: JobMeta) -> None:
    """Ignores its timeout (a blocking call in a sync handler), then records its run."""
    import time

    time.sleep(float(payload.get("sleep", 2)))
    record_sync(payload, meta)


async def nul_error(payload: Any, meta: JobMeta) -> None:
    raise RuntimeError("bad\x00byte and a lone \udc80 surrogate " + "x" * 10_000)


plugin = Plugin(
    name="recorder",
    jobs={
        "record": record,
        "record_sync": record_sync,
        "record_slow": record_slow,
        "always_fails": JobDefinition(always_fails, max_attempts=3),
        # sleeps past its own timeout: cancelled and failed, twice
        "too_slow": JobDefinition(record_slow, max_attempts=2, timeout_s=0.5),
        "exits": JobDefinition(exits, max_attempts=1),
        "exits_sync": JobDefinition(exits_sync, max_attempts=1),
        "interrupts": JobDefinition(interrupts, max_attempts=1),
        "cancels": JobDefinition(cancels, max_attempts=1),
        "blocks_sync": JobDefinition(blocks_sync, max_attempts=1, timeout_s=0.3),
        "nul_error": JobDefinition(nul_error, max_attempts=1),
    },
    # what the HTTP trigger API may start, and with which payload
    public_jobs={"record": {"n": PayloadField("integer", required=True)}},
)

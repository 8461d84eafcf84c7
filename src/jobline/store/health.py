"""Read-only health queries of the jobs DB (SQL in sql/health.sql).

Used by `jobline status`, `jobline doctor` and the sampler. Each function takes an open
connection whose search_path is the project's schema, so the caller decides how long it
may take (doctor wraps each in its own timeout) and which connection it runs on (the
sampler keeps a dedicated one that holds its election lock).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from jobline.dburl import DbLimits, schema_options
from jobline.sqlfiles import load_queries

Q = load_queries("jobline.store.sql", "health.sql")
Conn = psycopg.AsyncConnection[TupleRow]


@dataclass(frozen=True)
class PipelineCounts:
    due: int
    scheduled: int
    running: int
    retrying: int
    failed: int
    oldest_due_age_s: float
    live_runners: int
    dead_runners: int


@dataclass(frozen=True)
class StoredOffset:
    partition: int
    next_offset: int  # -1: assigned, nothing persisted yet
    age_s: float  # since the partition's last batch (or its assignment)


@dataclass(frozen=True)
class Connections:
    used: int
    usable: int
    role_used: int
    role_limit: int  # -1: the role has no limit of its own


@dataclass(frozen=True)
class SessionInfo:
    pid: int
    age_s: float
    detail: str


@dataclass(frozen=True)
class VacuumState:
    live_rows: int
    dead_rows: int
    since_vacuum_s: float | None
    autovacuum_enabled: bool


@dataclass(frozen=True)
class RecentFailure:
    type: str
    plugin_config_id: int
    count: int


async def connect(url: str, schema: str, timeout_s: float, limits: DbLimits | None = None) -> Conn:
    """One autocommit connection in `schema`; connect_timeout bounds a dead host.

    libpq's timeout is set past `timeout_s`: the caller's own deadline fires first and
    reports the hang as a timeout. `limits` (JOBLINE_DB_*) decide how the schema is set and
    whether statements are prepared: behind PgBouncer no `options` is sent, and the role's
    search_path holds the schema.
    """
    kwargs = (limits or DbLimits()).connect_kwargs(schema_options(schema))
    kwargs.update(connect_timeout=max(2, round(timeout_s * 2)), application_name="jobline-health")
    return await psycopg.AsyncConnection.connect(url, autocommit=True, **kwargs)


async def _rows(conn: Conn, name: str, params: dict[str, Any] | None = None) -> list[TupleRow]:
    cur = await conn.execute(Q[name], params or {})
    return await cur.fetchall()


async def pipeline_counts(conn: Conn, dead_after_s: float) -> PipelineCounts:
    (row,) = await _rows(conn, "pipeline_counts", {"dead_after_s": dead_after_s})
    due, scheduled, running, retrying, failed, oldest, live, dead = row
    return PipelineCounts(
        int(due),
        int(scheduled),
        int(running),
        int(retrying),
        int(failed),
        float(oldest),
        int(live),
        int(dead),
    )


async def stored_offsets(conn: Conn, group: str, topic: str) -> dict[int, StoredOffset]:
    rows = await _rows(conn, "stored_offsets", {"group": group, "topic": topic})
    return {int(r[0]): StoredOffset(int(r[0]), int(r[1]), float(r[2])) for r in rows}


async def connections(conn: Conn) -> Connections:
    (row,) = await _rows(conn, "connections")
    return Connections(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


async def long_transactions(conn: Conn, older_than_s: float) -> list[SessionInfo]:
    rows = await _rows(conn, "long_transactions", {"older_than_s": older_than_s})
    return [
        SessionInfo(int(r[0]), float(r[4]), f"user {r[1]} app {r[2]!r} {r[3]}: {r[5]}")
        for r in rows
    ]


async def lock_waits(conn: Conn) -> list[SessionInfo]:
    rows = await _rows(conn, "lock_waits")
    return [SessionInfo(int(r[0]), float(r[1]), str(r[2])) for r in rows]


async def jobs_vacuum(conn: Conn, schema: str) -> VacuumState | None:
    rows = await _rows(conn, "jobs_vacuum", {"schema": schema})
    if not rows:
        return None
    live, dead, since, options = rows[0]
    enabled = "autovacuum_enabled=false" not in [str(o).lower() for o in options]
    return VacuumState(int(live), int(dead), None if since is None else float(since), enabled)


async def schema_exists(conn: Conn, schema: str) -> bool:
    (row,) = await _rows(conn, "schema_exists", {"schema": schema})
    return bool(row[0])


async def migration_version(conn: Conn) -> int | None:
    (row,) = await _rows(conn, "migration_version")
    return None if row[0] is None else int(row[0])


async def recent_failures(conn: Conn, window_s: float) -> list[RecentFailure]:
    rows = await _rows(conn, "recent_failures", {"window_s": window_s})
    return [RecentFailure(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def sampler_lock_key(schema: str) -> int:
    # Signed 32-bit range fits PostgreSQL's bigint advisory key; one key per schema.
    return zlib.crc32(f"jobline-sampler:{schema}".encode())


async def try_sampler_lock(conn: Conn, schema: str) -> bool:
    (row,) = await _rows(conn, "try_sampler_lock", {"key": sampler_lock_key(schema)})
    return bool(row[0])

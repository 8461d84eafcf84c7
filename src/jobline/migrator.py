"""Apply numbered .sql migrations to a database schema, once each, in order.

Used for both databases: the jobs DB (store/migrations) and the main DB
(plugins/migrations). Several processes may start at once: an advisory lock makes
them take turns, and each migration commits together with its version row.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

import psycopg
from psycopg import sql

from jobline.dburl import DbLimits, unreachable_message
from jobline.errors import DatabaseUnavailable
from jobline.logs import get_logger
from jobline.sqlfiles import load_migrations

log = get_logger("jobline.migrator")


async def migrate(
    conn: psycopg.AsyncConnection[object],
    schema: str,
    package: str,
    limits: DbLimits | None = None,
) -> list[int]:
    """Bring `schema` up to the newest migration in `package`; return versions applied.

    Under `lock_timeout`: a migration that waits for a table lock held by a long
    transaction fails with a clear error instead of queueing every query behind it.
    """
    limits = limits or DbLimits()
    async with conn.transaction():
        await _enter_schema(conn, schema, package, limits)
        return await _apply_pending(conn, schema, package)


async def _enter_schema(
    conn: psycopg.AsyncConnection[object], schema: str, package: str, limits: DbLimits
) -> None:
    """Take the migration lock, create `schema` and its version table, and work in it."""
    lock_key = zlib.crc32(f"jobline-migrate:{schema}:{package}".encode())
    # Processes starting together wait their turn here (no lock_timeout yet) ...
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
    # ... but no migration waits on a table lock for long.
    await conn.execute(
        sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{int(limits.lock_timeout_s * 1000)}ms")
        )
    )
    await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )


async def _apply_pending(
    conn: psycopg.AsyncConnection[object], schema: str, package: str
) -> list[int]:
    """Apply the migrations of `package` not yet in schema_migrations; the versions applied."""
    cur = await conn.execute("SELECT version FROM schema_migrations")
    done = {row[0] for row in await cur.fetchall()}  # type: ignore[index]
    applied_now: list[int] = []
    for migration in load_migrations(package):
        if migration.version in done:
            continue
        await conn.execute(migration.sql.encode())
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
            (migration.version, migration.name),
        )
        applied_now.append(migration.version)
        log.info("migration.applied", schema=schema, version=migration.version, name=migration.name)
    return applied_now


async def migrate_database(
    url: str,
    schema: str,
    package: str,
    *,
    what: str,
    variable: str,
    limits: DbLimits | None = None,
) -> list[int]:
    """Connect to `url` and migrate; an unreachable database is a DatabaseUnavailable naming it."""
    limits = limits or DbLimits(connect_timeout_s=10)
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, **limits.connect_kwargs()
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(unreachable_message(what, variable, url, exc)) from exc
    async with conn:
        return await migrate(conn, schema, package, limits)


class _Database(Protocol):
    async def migrate(self) -> list[int]: ...

    async def open(self, timeout_s: float = 10.0) -> None: ...

    async def close(self) -> None: ...


DB = TypeVar("DB", bound=_Database)


@asynccontextmanager
async def opened(db: DB, *, migrate_first: bool) -> AsyncIterator[DB]:
    """A database handle (JobsDB, MainDB), migrated if asked, open for the block."""
    if migrate_first:
        await db.migrate()
    await db.open()
    try:
        yield db
    finally:
        await db.close()

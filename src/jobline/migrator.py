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

from jobline.dburl import unreachable_message
from jobline.errors import DependencyUnreachable
from jobline.logs import get_logger
from jobline.sqlfiles import load_migrations

log = get_logger("jobline.migrator")


async def migrate(conn: psycopg.AsyncConnection[object], schema: str, package: str) -> list[int]:
    """Bring `schema` up to the newest migration in `package`; return versions applied."""
    lock_key = zlib.crc32(f"jobline-migrate:{schema}:{package}".encode())
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cur.fetchall()}  # type: ignore[index]
        for migration in load_migrations(package):
            if migration.version in done:
                continue
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
            log.info(
                "migration.applied", schema=schema, version=migration.version, name=migration.name
            )
    return applied_now


async def migrate_database(
    url: str, schema: str, package: str, *, what: str, variable: str, timeout_s: float = 10.0
) -> list[int]:
    """Connect to `url` and migrate; an unreachable database is an error naming it."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=int(timeout_s)
        )
    except psycopg.OperationalError as exc:
        raise DependencyUnreachable(unreachable_message(what, variable, url, exc)) from exc
    async with conn:
        return await migrate(conn, schema, package)


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

"""Apply numbered .sql migrations to a database schema, once each, in order.

Used for both databases: the jobs DB (store/migrations) and the main DB
(plugins/migrations). Several processes may start at once: an advisory lock makes
them take turns, and each migration commits together with its version row.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from jobline.config import SchemaFrom
from jobline.dburl import DbLimits, unreachable_message
from jobline.errors import ConfigError, DatabaseUnavailable
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
    lock_key = zlib.crc32(f"jobline-migrate:{schema}:{package}".encode())
    applied_now: list[int] = []
    async with conn.transaction():
        await _enter_schema(conn, schema, lock_key, limits)
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


async def _enter_schema(
    conn: psycopg.AsyncConnection[object], schema: str, lock_key: int, limits: DbLimits
) -> None:
    """Take the migration lock and work in `schema`, all local to the transaction (safe
    behind a pooler in transaction mode)."""
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
    if limits.schema_from == SchemaFrom.ROLE:
        await _put_schema_on_role(conn, schema, limits)


async def _put_schema_on_role(
    conn: psycopg.AsyncConnection[object], schema: str, limits: DbLimits
) -> None:
    """JOBLINE_DB_SCHEMA_FROM=role: what `options` would carry becomes the connecting
    role's own setting in this database, so that connections that send no `options`
    (through PgBouncer) still work in `schema` under the same server-side timeouts.
    A role may always change its own settings; this needs no other right."""
    cur = await conn.execute("SELECT current_database()")
    database = (await cur.fetchone())[0]  # type: ignore[index]
    alter = sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} SET {} = {}")
    for name, value in (
        ("search_path", sql.SQL("{}, public").format(sql.Identifier(schema))),
        ("statement_timeout", sql.Literal(f"{int(limits.statement_timeout_s * 1000)}ms")),
        ("lock_timeout", sql.Literal(f"{int(limits.lock_timeout_s * 1000)}ms")),
        ("jit", sql.Literal("off")),  # DbLimits.options says why
    ):
        await conn.execute(alter.format(sql.Identifier(database), sql.Identifier(name), value))
    log.info("migration.role_search_path", schema=schema, database=database)


async def check_schema_on_path(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """With JOBLINE_DB_SCHEMA_FROM=role, fail at start unless this connection's search_path
    leads with `schema`: otherwise queries would run in, or fail on, another schema."""
    cur = await conn.execute("SELECT current_user, current_database(), current_schemas(false)")
    row = await cur.fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    user, database, schemas = row[0], row[1], row[2]
    if not schemas or schemas[0] != schema:
        raise ConfigError(
            f"JOBLINE_DB_SCHEMA_FROM=role, but role {user!r} in database {database!r} has "
            f"search_path schemas {list(schemas)!r}, which do not start with JOBLINE_SCHEMA "
            f"({schema!r}): run `jobline migrate` as this role (it sets the role's "
            f"search_path), or `ALTER ROLE {user} IN DATABASE {database} SET search_path = "
            f"{schema}, public`, or use JOBLINE_DB_SCHEMA_FROM=options without a pooler"
        )


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
    schema: str
    limits: DbLimits

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]: ...

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
        if db.limits.schema_from == SchemaFrom.ROLE:
            async with db.pool.connection() as conn:
                await check_schema_on_path(conn, db.schema)
        yield db
    finally:
        await db.close()

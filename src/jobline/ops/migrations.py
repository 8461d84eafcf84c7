"""Which migrations each database has, which are pending, and their SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from jobline.config import Settings
from jobline.dburl import CLI_APPLICATION_NAME, DbLimits, schema_options, unreachable_message
from jobline.errors import DependencyUnreachable
from jobline.ops.context import CONNECT_TIMEOUT_S
from jobline.sqlfiles import Migration, load_migrations
from jobline.store.admin import applied_migrations
from jobline.store.admin_rows import AppliedMigration

_DATABASES = (
    ("jobs DB", "jobs_direct_url", "JOBLINE_JOBS_DATABASE_URL", "jobline.store.migrations"),
    ("main DB", "main_direct_url", "JOBLINE_DATABASE_URL", "jobline.plugins.migrations"),
)


@dataclass(frozen=True)
class MigrationStatus:
    database: str
    schema: str
    applied: list[AppliedMigration]
    pending: list[Migration] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return not self.pending


async def _status(
    settings: Settings, what: str, url: str, variable: str, package: str
) -> MigrationStatus:
    try:
        kwargs = DbLimits.from_settings(settings, CLI_APPLICATION_NAME).connect_kwargs(
            schema_options(settings.schema_name)  # none with JOBLINE_DB_SCHEMA_FROM=role
        )
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, **{**kwargs, "connect_timeout": CONNECT_TIMEOUT_S}
        )
    except psycopg.OperationalError as exc:
        raise DependencyUnreachable(unreachable_message(f"the {what}", variable, url, exc)) from exc
    async with conn:
        applied = await applied_migrations(conn)
    done = {m.version for m in applied}
    pending = [m for m in load_migrations(package) if m.version not in done]
    return MigrationStatus(what, settings.schema_name, applied, pending)


async def migration_status(settings: Settings) -> list[MigrationStatus]:
    """Both databases' applied and pending migrations; changes nothing."""
    return [
        await _status(settings, what, getattr(settings, attr), variable, package)
        for what, attr, variable, package in _DATABASES
    ]

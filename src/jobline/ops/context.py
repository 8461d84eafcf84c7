"""OpsContext: the open databases and the actor behind one operator session."""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import psycopg

from jobline.config import Settings
from jobline.databases import jobs_db_for, main_db_for
from jobline.dburl import unreachable_message
from jobline.errors import DependencyUnreachable, JoblineError, NotFound, UsageError
from jobline.migrator import opened
from jobline.ops.filters import JobFilter
from jobline.plugins.configs import MainDB, PluginConfig
from jobline.store import JobsDB
from jobline.store.admin import AdminStore
from jobline.store.admin_rows import RowFilter

# Operator commands wait this long for a database before saying it is unreachable.
CONNECT_TIMEOUT_S = 5


def default_actor() -> str:
    """Who the audit log names when --actor is not given: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def probe(url: str, what: str, variable: str) -> None:
    """Fail fast, naming the database, instead of waiting out a pool's timeout."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise DependencyUnreachable(unreachable_message(what, variable, url, exc)) from exc
    await conn.close()


@dataclass
class OpsContext:
    settings: Settings
    store: AdminStore
    actor: str
    #: closes what the context opened (the main DB, once asked for)
    stack: AsyncExitStack
    _main_db: MainDB | None = None

    @property
    def jobs_db(self) -> JobsDB:
        return self.store.db

    async def main_db(self) -> MainDB:
        """The main DB, opened on first use: most commands need only the jobs DB, and they
        keep working while the main DB is down."""
        if self._main_db is None:
            s = self.settings
            await probe(s.database_url, "the main DB", "JOBLINE_DATABASE_URL")
            self._main_db = await self.stack.enter_async_context(
                opened(main_db_for(s), migrate_first=s.migrate_on_start)
            )
        return self._main_db

    async def config(self, config_id: int) -> PluginConfig:
        found = await (await self.main_db()).get_config(config_id)
        if found is None:
            raise NotFound(
                f"plugin config {config_id} does not exist in the main DB: "
                "list them with `jobline configs list`"
            )
        return found

    async def row_filter(self, where: JobFilter, ids: list[int] | None = None) -> RowFilter:
        """The store's filter: a plugin name becomes the ids of that plugin's configs."""
        config_ids = None if where.config is None else [where.config]
        if where.plugin is not None:
            of_plugin = [
                c.id
                for c in await (await self.main_db()).list_configs()
                if c.plugin == where.plugin
            ]
            config_ids = [c for c in of_plugin if config_ids is None or c in config_ids]
        return RowFilter(
            ids=ids,
            config_ids=config_ids,
            team=where.team,
            type=where.type,
            queue=where.queue,
            key=where.key,
            state=None if where.state is None else where.state.value,
            since=where.since,
            error_like=where.ilike_pattern(),
            fingerprint=where.fingerprint,
        )


@asynccontextmanager
async def ops_context(settings: Settings, actor: str | None = None) -> AsyncIterator[OpsContext]:
    """Open the jobs DB (migrated when JOBLINE_MIGRATE_ON_START allows); the main DB opens
    when a command first needs it."""
    if actor is not None and not actor.strip():
        raise UsageError("--actor '' is empty: name who makes the change, or leave it out")
    migrate = settings.migrate_on_start
    await probe(settings.jobs_database_url, "the jobs DB", "JOBLINE_JOBS_DATABASE_URL")
    async with AsyncExitStack() as stack:
        jobs_db = await stack.enter_async_context(
            opened(jobs_db_for(settings), migrate_first=migrate)
        )
        try:
            yield OpsContext(settings, AdminStore(jobs_db), actor or default_actor(), stack)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction) as exc:
            raise JoblineError(
                f"the jobs DB schema {settings.schema_name!r} lacks what this command needs "
                f"({str(exc).strip().splitlines()[0]}): it is behind this jobline's "
                "migrations; see `jobline migrate --status`, then run `jobline migrate`"
            ) from exc

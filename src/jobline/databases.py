"""The jobs DB and main DB handles as the settings describe them, for one kind of process.

Every handle gets the connection set-up of the settings (limits, prepared statements,
where the schema comes from), an `application_name` saying who holds the connection, and
the direct URL beside the pooled one (LISTEN, migrations, session state).
"""

from __future__ import annotations

from jobline.config import Settings
from jobline.dburl import CLI_APPLICATION_NAME, DbLimits
from jobline.plugins.configs import MainDB
from jobline.store import JobsDB


def jobs_db_for(
    settings: Settings,
    application_name: str = CLI_APPLICATION_NAME,
    *,
    max_size: int = 10,
    limits: DbLimits | None = None,
) -> JobsDB:
    return JobsDB(
        settings.jobs_database_url,
        settings.schema_name,
        max_size=max_size,
        limits=limits or DbLimits.from_settings(settings, application_name),
        direct_url=settings.jobs_direct_url,
    )


def main_db_for(
    settings: Settings,
    application_name: str = CLI_APPLICATION_NAME,
    *,
    limits: DbLimits | None = None,
) -> MainDB:
    return MainDB(
        settings.database_url,
        settings.schema_name,
        limits=limits or DbLimits.from_settings(settings, application_name),
        direct_url=settings.main_direct_url,
    )

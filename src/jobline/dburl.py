"""Database URLs: connection limits, and messages that never show a password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

if TYPE_CHECKING:
    from jobline.config import Settings

MASK = "***"

#: what a command-line process names itself in pg_stat_activity (servers name their mode)
CLI_APPLICATION_NAME = "jobline-cli"


@dataclass(frozen=True, slots=True)
class DbLimits:
    """What no database call may wait on for ever, and how connections are set up
    (JOBLINE_DB_* settings; the last three fields are for poolers such as PgBouncer).

    Server side: statement and lock timeouts. Client side: connect timeout, TCP
    keepalives (a half-open connection is noticed in idle + interval * count seconds),
    and `call_timeout_s`, the deadline of one call of a service, slightly above the
    statement timeout so that the server's own, cleaner, error comes first.
    """

    connect_timeout_s: int = 5
    statement_timeout_s: float = 30.0
    lock_timeout_s: float = 5.0
    keepalives_idle_s: int = 30
    keepalives_interval_s: int = 10
    keepalives_count: int = 3
    #: False: psycopg never prepares a statement (a pooler in transaction mode mixes them up)
    prepared_statements: bool = True
    #: JOBLINE_DB_SCHEMA_FROM (config.SchemaFrom): "options", or "role" (send no options)
    schema_from: str = "options"
    #: shown in pg_stat_activity: which kind of jobline process holds a connection
    application_name: str = "jobline"

    @classmethod
    def from_settings(cls, s: Settings, application_name: str = "jobline") -> DbLimits:
        return cls(
            s.db_connect_timeout_s,
            s.db_statement_timeout_s,
            s.db_lock_timeout_s,
            s.db_keepalives_idle_s,
            s.db_keepalives_interval_s,
            s.db_keepalives_count,
            prepared_statements=s.db_prepared_statements,
            schema_from=s.db_schema_from,
            application_name=application_name,
        )

    @property
    def call_timeout_s(self) -> float:
        return self.statement_timeout_s + self.connect_timeout_s

    def options(self) -> str:
        """libpq `options` that set the server-side timeouts of a connection, and no JIT:
        jobline's statements are short, and once the fetch's estimate crossed
        jit_above_cost (a table analyzed at 20,000 jobs) PostgreSQL spent ~35 ms compiling
        each 0.3 ms fetch, a 5x drop in throughput."""
        return (
            f" -c statement_timeout={int(self.statement_timeout_s * 1000)}"
            f" -c lock_timeout={int(self.lock_timeout_s * 1000)}"
            " -c jit=off"
        )

    def session_options(self, schema: str, extra: str = "") -> str:
        """The `options` of a pooled connection: its schema, the timeouts and `extra`."""
        return schema_options(schema) + self.options() + extra

    def connect_kwargs(self, options: str = "") -> dict[str, Any]:
        """Keyword arguments of every psycopg connection (pools and single connections).

        `options` is sent only when JOBLINE_DB_SCHEMA_FROM=options: with `role` no
        connection carries the parameter, whoever asks for it.
        """
        kwargs: dict[str, Any] = {
            "connect_timeout": self.connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle_s,
            "keepalives_interval": self.keepalives_interval_s,
            "keepalives_count": self.keepalives_count,
            "application_name": self.application_name,
        }
        if options.strip() and self.schema_from == "options":
            kwargs["options"] = options.strip()
        if not self.prepared_statements:
            kwargs["prepare_threshold"] = None
        return kwargs


def _password_of(conninfo: str) -> str | None:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except Exception:  # not a conninfo at all: nothing to mask by parsing
        return None
    return str(password) if password else None


def redact(conninfo: str) -> str:
    """A URL or key=value conninfo with its password replaced by ***."""
    password = _password_of(conninfo)
    if password is None:
        return conninfo
    if "://" in conninfo:
        parts = urlsplit(conninfo)
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))
    return make_conninfo(conninfo, password=MASK)


def mask_secrets(text: str, *conninfos: str) -> str:
    """`text` (an error, a status) with the passwords of `conninfos` masked wherever
    they appear, raw or URL-encoded."""
    for conninfo in conninfos:
        password = _password_of(conninfo)
        if password is None:
            continue
        for form in sorted({password, quote(password, safe="")}, key=len, reverse=True):
            text = text.replace(form, MASK)
    return text


def error_text(error: BaseException, *conninfos: str) -> str:
    """A database error as shown in logs and /_ready: one line, no password."""
    return mask_secrets(str(error).strip() or type(error).__name__, *conninfos)


def unreachable_message(what: str, variable: str, url: str, error: BaseException) -> str:
    text = error_text(error, url)
    if "unsupported startup parameter" in text:
        return (
            f"{what} at {redact(url)} ({variable}) refused the connection: {text}; a pooler "
            "such as PgBouncer is in between: set JOBLINE_DB_SCHEMA_FROM=role and "
            "JOBLINE_DB_PREPARED_STATEMENTS=false, and run `jobline migrate` once "
            "(docs/configuration.md, Behind PgBouncer)"
        )
    return (
        f"{what} at {redact(url)} did not answer: {text}; check that "
        f"PostgreSQL runs there and that {variable} is right (`scripts/services status` in "
        "development)"
    )


async def connect_error(url: str, kwargs: dict[str, Any]) -> BaseException | None:
    """Why one connection with `kwargs` fails, or None: a pool that cannot open only says
    it timed out, and the server's own reason is what an operator needs."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, **kwargs)
    except Exception as exc:
        return exc
    await conn.close()
    return None


def schema_options(schema: str) -> str:
    """libpq `options` that make every statement of a connection run in `schema`."""
    return f"-c search_path={schema}"


async def connect_session(
    direct_url: str, limits: DbLimits, *, autocommit: bool = True
) -> psycopg.AsyncConnection[TupleRow]:
    """A connection of its own for session state: LISTEN, a session advisory lock.

    Give it the DIRECT url (JOBLINE_*DATABASE_DIRECT_URL): behind a pooler in transaction
    mode, session state lands on whichever server connection the pooler picked, and is
    lost or leaks to another client. It carries the timeouts (options mode), keepalives
    and application name of the pools, but no search_path: name the schema in its SQL.
    """
    return await psycopg.AsyncConnection.connect(
        direct_url, autocommit=autocommit, **limits.connect_kwargs(limits.options())
    )

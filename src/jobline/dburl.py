"""Database URLs: connection limits, and messages that never show a password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

if TYPE_CHECKING:
    from jobline.config import Settings

MASK = "***"


@dataclass(frozen=True, slots=True)
class DbLimits:
    """What no database call may wait on for ever (JOBLINE_DB_* settings).

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

    @classmethod
    def from_settings(cls, s: Settings) -> DbLimits:
        return cls(
            s.db_connect_timeout_s,
            s.db_statement_timeout_s,
            s.db_lock_timeout_s,
            s.db_keepalives_idle_s,
            s.db_keepalives_interval_s,
            s.db_keepalives_count,
        )

    @property
    def call_timeout_s(self) -> float:
        return self.statement_timeout_s + self.connect_timeout_s

    def options(self) -> str:
        """libpq `options` that set the server-side timeouts of a connection."""
        return (
            f" -c statement_timeout={int(self.statement_timeout_s * 1000)}"
            f" -c lock_timeout={int(self.lock_timeout_s * 1000)}"
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq parameters for the client side of every connection."""
        return {
            "connect_timeout": self.connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle_s,
            "keepalives_interval": self.keepalives_interval_s,
            "keepalives_count": self.keepalives_count,
        }


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
    return (
        f"{what} at {redact(url)} did not answer: {error_text(error, url)}; check that "
        f"PostgreSQL runs there and that {variable} is right (`scripts/services status` in "
        "development)"
    )


def schema_options(schema: str) -> str:
    """libpq `options` that make every statement of a connection run in `schema`."""
    return f"-c search_path={schema}"

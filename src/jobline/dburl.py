"""Database URLs: connection options and messages that never show a password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def unreachable_message(what: str, variable: str, url: str, error: BaseException) -> str:
    return (
        f"{what} at {redact(url)} did not answer: {str(error).strip()}; check that PostgreSQL "
        f"runs there and that {variable} is right (`scripts/services status` in development)"
    )


def schema_options(schema: str) -> str:
    """libpq `options` that make every statement of a connection run in `schema`."""
    return f"-c search_path={schema}"

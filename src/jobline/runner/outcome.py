"""What became of one run of a job; the completer writes these in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: Longest error text stored with a job (bytes of UTF-8): a handler's error may hold a
#: whole response body, and it is written on every retry.
ERROR_TEXT_LIMIT = 4096


class Result(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    FAILED = "failed"
    POSTPONED = "postponed"  # not run now (config disabled, or unknown here yet): later
    RELEASED = "released"  # handed back unrun or unfinished (shutdown)


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: int
    result: Result
    error: str | None = None
    #: RETRY and POSTPONED: when the job is due again
    retry_at: datetime | None = None
    #: POSTPONED because this runner cannot run it (unknown config, plugin or type)
    unrunnable: bool = False


def clean_error(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    """An error text PostgreSQL can store: no NUL, no lone surrogate, at most `limit` bytes.

    A handler's error is arbitrary text; one NUL would make the whole outcome batch fail.
    """
    text = text.replace("\x00", "\\x00")
    # Lone surrogates (from surrogateescape'd bytes) cannot be encoded as UTF-8.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    marker = f"... [{len(encoded):,} bytes, truncated]"
    keep = max(0, limit - len(marker.encode()))
    return encoded[:keep].decode("utf-8", "ignore") + marker

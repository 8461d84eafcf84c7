"""What an operator selects jobs by, and the durations and times they type. Pure."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from jobline.errors import UsageError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class JobState(StrEnum):
    DUE = "due"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    RETRYING = "retrying"  # waiting again after at least one failed attempt


@dataclass(frozen=True, slots=True)
class JobFilter:
    """A selection of jobs (or failed jobs). Every field is optional; None means any.

    `error_like` is a case-insensitive substring of the last error (`%` and `_` are
    wildcards); `fingerprint` is an error fingerprint from `jobline failed list --group`.
    """

    plugin: str | None = None
    config: int | None = None
    team: int | None = None
    type: str | None = None
    queue: str | None = None
    key: str | None = None
    state: JobState | None = None
    since: datetime | None = None
    error_like: str | None = None
    fingerprint: str | None = None

    def is_empty(self) -> bool:
        return not self.as_json()

    def as_json(self) -> dict[str, Any]:
        """The fields that were set, JSON-ready (the audit row's `filter`)."""
        values: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value is None:
                continue
            values[name] = value.isoformat() if isinstance(value, datetime) else str(value)
            if isinstance(value, int):
                values[name] = value
        return values

    def ilike_pattern(self) -> str | None:
        if self.error_like is None:
            return None
        return self.error_like if "%" in self.error_like else f"%{self.error_like}%"


def parse_duration(text: str, option: str) -> timedelta:
    """`90s`, `10m`, `1h30m`, `2d` (or plain seconds) as a timedelta."""
    value = text.strip().lower()
    try:
        return timedelta(seconds=float(value))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise UsageError(
            f"{option} {text!r} is not a duration: write it like 30s, 10m, 1h30m or 2d"
        )
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def parse_since(text: str, option: str = "--since", now: datetime | None = None) -> datetime:
    """A duration ago (`1h`) or an ISO 8601 time (`2026-11-30T03:00:00Z`; UTC if naive)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            return (now or datetime.now(UTC)) - parse_duration(text, option)
        except UsageError:
            raise UsageError(
                f"{option} {text!r} is neither a duration (30s, 10m, 2h, 1d) nor an ISO time "
                "(2026-11-30T03:00:00Z)"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

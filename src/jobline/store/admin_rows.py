"""Typed rows and parameters of the operations queries (store/admin.py, sql/admin.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RowFilter:
    """A selection of jobs or failed jobs, in the store's terms (None: any value).

    `config_ids` is already resolved (a plugin name becomes its configs' ids);
    `error_like` is an ILIKE pattern.
    """

    ids: list[int] | None = None
    config_ids: list[int] | None = None
    team: int | None = None
    type: str | None = None
    queue: str | None = None
    key: str | None = None
    state: str | None = None
    since: datetime | None = None
    error_like: str | None = None
    fingerprint: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "config_ids": self.config_ids,
            "team": self.team,
            "type": self.type,
            "queue": self.queue,
            "key": self.key,
            "state": self.state,
            "since": self.since,
            "error_like": self.error_like,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job in the jobs table, as an operator sees it."""

    id: int
    type: str
    plugin_config_id: int
    team_id: int
    payload: Any
    run_at: datetime
    created_at: datetime
    attempts: int
    max_attempts: int | None
    last_error: str | None
    key: str | None
    queue_name: str | None
    priority: int
    locked_by: str | None
    locked_at: datetime | None
    paused: bool

    def state(self, now: datetime) -> str:
        # `retrying` overlaps `due` and `scheduled` in filters (a retried job is either);
        # a row shows the most telling one.
        if self.locked_by is not None:
            return "running"
        if self.attempts:
            return "retrying"
        return "due" if self.run_at <= now else "scheduled"


@dataclass(frozen=True, slots=True)
class FailedJobRow:
    """A permanently failed job, with the fingerprint of its error."""

    id: int
    type: str
    plugin_config_id: int
    team_id: int
    payload: Any
    run_at: datetime
    created_at: datetime
    attempts: int
    max_attempts: int | None
    last_error: str | None
    key: str | None
    queue_name: str | None
    priority: int
    failed_at: datetime
    fingerprint: str


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed jobs of one type whose errors share a fingerprint."""

    type: str
    fingerprint: str
    jobs: int
    first_failed_at: datetime
    last_failed_at: datetime
    sample_id: int
    sample_error: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    filter: dict[str, Any]
    affected: int


@dataclass(frozen=True, slots=True)
class PausedConfig:
    plugin_config_id: int
    paused_at: datetime
    paused_by: str
    jobs: int


@dataclass(frozen=True, slots=True)
class SkippedConfig:
    plugin_config_id: int
    skipped_at: datetime
    skipped_by: str


@dataclass(frozen=True, slots=True)
class RunnerRow:
    id: str
    hostname: str
    pid: int
    capabilities: list[str]
    started_at: datetime
    heartbeat_at: datetime
    beat_age_s: float
    drain_requested_at: datetime | None
    running: int


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    version: int
    name: str
    applied_at: datetime

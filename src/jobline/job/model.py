"""The job message as it travels on the `jobs` topic.

Wire field names follow the plugin servers that already produce to such topics
(`pluginConfigId`, `timestamp`, ...), so their producers feed jobline unchanged. The
optional fields after `jobKey` are jobline's own extensions; any other field is kept
as `extra` (stored in the job's `meta` column) and otherwise ignored.

A validated JobMessage is one the jobs DB can store: names within their byte limits, no
NUL or surrogate in any string, no number jsonb cannot hold (see `job/storable.py`).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jobline.job.limits import (
    DB_INT_MAX,
    EPOCH,
    MAX_ATTEMPTS_MAX,
    MAX_KEY_BYTES,
    MAX_QUEUE_BYTES,
    MAX_TIMESTAMP_MS,
    MAX_TYPE_BYTES,
    PRIORITY_MAX,
    PRIORITY_MIN,
)
from jobline.job.reasons import invalid_job, problem_error
from jobline.job.storable import Problem, find_in_fields, find_problem, text_problem

#: jobline's optional fields, left out of the wire format when unset
OPTIONAL_FIELDS = frozenset({"key", "queue", "max_attempts"})
_OPTIONAL_WIRE_FIELDS = ("jobKey", "jobKeyMode", "queue", "maxAttempts")
#: validation context of a raw message whose bytes cannot hold an unstorable value
RAW_CHECKED: dict[str, bool] = {"raw_checked": True}
#: (attribute, wire name, UTF-8 byte limit) of the names stored in text columns
_NAMES = (
    ("type", "type", MAX_TYPE_BYTES),
    ("key", "jobKey", MAX_KEY_BYTES),
    ("queue", "queue", MAX_QUEUE_BYTES),
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class KeyMode(StrEnum):
    """What a trigger with a job key does to a queued job with the same key."""

    REPLACE = "replace"
    PRESERVE = "preserve"


def _name_problem(value: str, wire: str, limit: int) -> Problem | None:
    found = text_problem(value, wire)
    if found is not None:
        return found
    size = len(value.encode())
    if size <= limit:
        return None
    return Problem(
        "out_of_range",
        wire,
        f"is {size:,} bytes of UTF-8, over its limit of {limit:,} bytes: shorten it",
    )


class JobMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: str = Field(min_length=1)
    # absent: {} (plugin servers leave an undefined payload out of the JSON)
    payload: Any = Field(default_factory=dict)
    # ms since epoch; absent, null or 0: now; fractions are floored (see _timestamp_ms)
    timestamp: int = Field(default_factory=now_ms, ge=0, le=MAX_TIMESTAMP_MS)
    plugin_config_id: int = Field(alias="pluginConfigId", ge=1, le=DB_INT_MAX)
    team_id: int = Field(alias="pluginConfigTeam", ge=0, le=DB_INT_MAX)
    key: str | None = Field(default=None, alias="jobKey", min_length=1)
    # not strict: Python callers pass "preserve" as well as KeyMode.PRESERVE
    key_mode: KeyMode = Field(default=KeyMode.REPLACE, alias="jobKeyMode", strict=False)
    queue: str | None = Field(default=None, alias="queue", min_length=1)
    priority: int = Field(default=0, alias="priority", ge=PRIORITY_MIN, le=PRIORITY_MAX)
    max_attempts: int | None = Field(default=None, alias="maxAttempts", ge=1, le=MAX_ATTEMPTS_MAX)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp_ms(cls, value: Any) -> Any:
        # PostHog's producers send null for "now" and Date.now() plus fractional delays.
        if value is None:
            return now_ms()
        if type(value) is float:
            if not math.isfinite(value):
                raise PydanticCustomError(
                    "not_json", "{value} is not a time JSON can carry", {"value": repr(value)}
                )
            value = math.floor(value)
        if type(value) is int and value == 0:
            return now_ms()
        return value

    @model_validator(mode="after")
    def _storable(self, info: ValidationInfo) -> Self:
        found = self._names_problem() or self._values_problem(info)
        if found is not None:
            raise problem_error(found)
        return self

    def _names_problem(self) -> Problem | None:
        for attr, wire, limit in _NAMES:
            name = getattr(self, attr)
            # the usual name: ASCII (one byte a character), short, no NUL
            if name is None or (name.isascii() and len(name) <= limit and "\x00" not in name):
                continue
            found = _name_problem(name, wire, limit)
            if found is not None:
                return found
        return None

    def _values_problem(self, info: ValidationInfo) -> Problem | None:
        if info.context is RAW_CHECKED:
            return None
        try:
            return find_problem(self.payload, "payload") or find_in_fields(self.model_extra or {})
        except RecursionError:
            return Problem("unstorable", "payload", "is nested too deeply: flatten it")

    @property
    def run_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def kafka_key(self) -> bytes:
        # Keyed by team so that one team's triggers stay ordered in one partition.
        return str(self.team_id).encode()

    @classmethod
    def create(
        cls,
        *,
        type: str,
        payload: Any,
        plugin_config_id: int,
        team_id: int,
        run_at: datetime | None = None,
        key: str | None = None,
        key_mode: KeyMode = KeyMode.REPLACE,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int | None = None,
    ) -> JobMessage:
        """Build and validate a job from Python values (raises InvalidJob)."""
        when = run_at or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return validate_fields(
            {
                "type": type,
                "payload": payload,
                "timestamp": (when - EPOCH) // timedelta(milliseconds=1),
                "pluginConfigId": plugin_config_id,
                "pluginConfigTeam": team_id,
                "jobKey": key,
                "jobKeyMode": key_mode,
                "queue": queue,
                "priority": priority,
                "maxAttempts": max_attempts,
            }
        )


def validate_fields(fields: dict[str, Any]) -> JobMessage:
    """Validate Python values; optional fields given as None count as absent."""
    clean = {k: v for k, v in fields.items() if not (k in _OPTIONAL_WIRE_FIELDS and v is None)}
    try:
        return JobMessage.model_validate(clean)
    except ValidationError as exc:
        raise invalid_job(exc) from None

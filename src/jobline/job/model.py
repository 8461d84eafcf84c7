"""The job message as it travels on the `jobs` topic.

Wire field names follow the plugin servers that already produce to such topics
(`pluginConfigId`, `timestamp`, ...), so their producers feed jobline unchanged. The
optional fields after `jobKey` are jobline's own extensions; any other field is kept
as `extra` (stored in the job's `meta` column) and otherwise ignored.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

# 9999-12-31: anything later is a unit mistake (seconds vs. ms vs. µs), not a date.
MAX_TIMESTAMP_MS = 253_402_300_799_000
MAX_TYPE_LENGTH = 200
DB_INT_MAX = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: jobline's optional fields, left out of the wire format when unset
OPTIONAL_FIELDS = frozenset({"key", "queue", "max_attempts"})


def _non_finite(value: Any) -> str | None:
    """The first NaN or infinity inside a JSON-like value, as text, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _non_finite(item)
        if found is not None:
            return found
    return None


class KeyMode(StrEnum):
    """What a trigger with a job key does to a queued job with the same key."""

    REPLACE = "replace"
    PRESERVE = "preserve"


class JobMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: str = Field(min_length=1, max_length=MAX_TYPE_LENGTH)
    payload: Any
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP_MS)
    plugin_config_id: int = Field(alias="pluginConfigId", ge=1, le=DB_INT_MAX)
    team_id: int = Field(alias="pluginConfigTeam", ge=0, le=DB_INT_MAX)
    key: str | None = Field(default=None, alias="jobKey", min_length=1, max_length=1000)
    # not strict: Python callers pass "preserve" as well as KeyMode.PRESERVE
    key_mode: KeyMode = Field(default=KeyMode.REPLACE, alias="jobKeyMode", strict=False)
    queue: str | None = Field(default=None, alias="queue", min_length=1, max_length=200)
    priority: int = Field(default=0, alias="priority", ge=-1000, le=1000)
    max_attempts: int | None = Field(default=None, alias="maxAttempts", ge=1, le=1000)

    @field_validator("payload")
    @classmethod
    def _payload_is_json(cls, payload: Any) -> Any:
        # NaN and infinities parse (Python's and pydantic's parsers allow them) but are
        # not JSON: refuse them rather than let them turn into null on the way out.
        bad = _non_finite(payload)
        if bad is not None:
            raise PydanticCustomError(
                "not_json", "payload holds {value}, which JSON cannot carry", {"value": bad}
            )
        return payload

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
        from jobline.job.codec import validate_fields

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

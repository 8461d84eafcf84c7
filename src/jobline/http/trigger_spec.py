"""The body of an HTTP trigger, checked against the plugin's public job spec. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.plugins.plugin import PayloadField, Plugin

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_OPTIONS = {"type", "payload", "run_at", "run_in_s", "key", "queue", "priority", "max_attempts"}


class BadTrigger(ValueError):
    """The request names something wrong; the message says what and how to fix it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TriggerRequest:
    type: str
    payload: dict[str, Any]
    run_at: datetime
    options: dict[str, Any]


def parse_trigger(body: Any, plugin: Plugin, now: datetime) -> TriggerRequest:
    if not isinstance(body, dict):
        raise BadTrigger(400, "the body must be a JSON object with at least `type`")
    unknown = sorted(set(body) - _OPTIONS)
    if unknown:
        raise BadTrigger(
            400, f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_OPTIONS))}"
        )
    job_type = body.get("type")
    spec = plugin.public_jobs.get(job_type) if isinstance(job_type, str) else None
    if spec is None or not isinstance(job_type, str):
        public = ", ".join(sorted(plugin.public_jobs)) or "none"
        raise BadTrigger(
            422,
            f"job type {job_type!r} is not a public job of plugin {plugin.name!r} "
            f"(public: {public})",
        )
    payload = body.get("payload", {})
    check_payload(payload, spec, job_type)
    options = {k: body[k] for k in ("key", "queue", "priority", "max_attempts") if k in body}
    return TriggerRequest(job_type, payload, _run_at(body, now), options)


def check_payload(payload: Any, spec: Mapping[str, PayloadField], job_type: str) -> None:
    if not isinstance(payload, dict):
        raise BadTrigger(422, f"payload of {job_type!r} must be a JSON object")
    for name, field in spec.items():
        if name not in payload:
            if field.required:
                raise BadTrigger(422, f"payload of {job_type!r} misses required field {name!r}")
            continue
        value = payload[name]
        wrong_bool = isinstance(value, bool) and field.type in ("number", "integer")
        if wrong_bool or not isinstance(value, _PY_TYPES[field.type]):
            raise BadTrigger(
                422,
                f"payload field {name!r} of {job_type!r} must be of JSON type {field.type}, "
                f"got {_json_type(value)}",
            )
    extra = sorted(set(payload) - set(spec))
    if extra:
        raise BadTrigger(422, f"payload of {job_type!r} has unknown field {extra[0]!r}")


def _run_at(body: dict[str, Any], now: datetime) -> datetime:
    if "run_at" in body and "run_in_s" in body:
        raise BadTrigger(400, "give `run_at` or `run_in_s`, not both")
    if "run_in_s" in body:
        delay = body["run_in_s"]
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise BadTrigger(400, f"run_in_s must be a number of seconds >= 0, got {delay!r}")
        return now + timedelta(seconds=delay)
    if "run_at" in body:
        try:
            when = datetime.fromisoformat(str(body["run_at"]))
        except ValueError:
            raise BadTrigger(
                400, f"run_at {body['run_at']!r} is not an ISO 8601 time (2026-01-31T12:00:00Z)"
            ) from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return now


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, as the client wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"

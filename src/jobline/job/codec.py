"""JSON codec of job messages, with the reasons a message is malformed.

The reason names (`not_json`, `missing_field`, ...) are the DLQ's `reason` header and the
`reason` label of the intake metrics: keep them stable.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobline.errors import InvalidJob, JobTooLarge
from jobline.job.model import OPTIONAL_FIELDS, JobMessage

_OPTIONAL_WIRE_FIELDS = ("jobKey", "jobKeyMode", "queue", "maxAttempts")


def _reason_of(err: dict[str, Any]) -> str:
    kind = str(err["type"])
    if kind in ("json_invalid", "not_json"):
        return "not_json"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "not_object"
    if kind == "missing":
        return "missing_field"
    if kind in ("string_too_short",):
        return "empty_value"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "enum":
        return "wrong_type"
    return "out_of_range"


def _invalid(exc: ValidationError) -> InvalidJob:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"]) or "message"
    reason = _reason_of(dict(first))
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in errors
    )
    hint = (
        "a job message is a JSON object with type (string), payload (any JSON), "
        "timestamp (ms since epoch), pluginConfigId and pluginConfigTeam (integers)"
    )
    return InvalidJob(reason, f"invalid job ({reason} at {field}): {detail}; {hint}")


def validate_fields(fields: dict[str, Any]) -> JobMessage:
    """Validate Python values; optional fields given as None count as absent."""
    clean = {k: v for k, v in fields.items() if not (k in _OPTIONAL_WIRE_FIELDS and v is None)}
    try:
        return JobMessage.model_validate(clean)
    except ValidationError as exc:
        raise _invalid(exc) from None


def decode_job(data: bytes | None) -> JobMessage:
    """Parse one message from the jobs topic, or raise InvalidJob with a reason."""
    if data is None or not data:
        raise InvalidJob("empty_message", "invalid job (empty_message): the message has no value")
    try:
        return JobMessage.model_validate_json(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


def encode_job(job: JobMessage, max_bytes: int) -> bytes:
    """Serialize a job for the jobs topic; refuse it when over `max_bytes`."""
    # Only unset optional fields are left out: a null payload or extra field stays.
    unset = {name for name in OPTIONAL_FIELDS if getattr(job, name) is None}
    data = job.model_dump_json(by_alias=True, exclude=unset).encode()
    if len(data) > max_bytes:
        raise JobTooLarge(len(data), max_bytes, job.type)
    return data

"""JSON codec of job messages, with the reasons a message is malformed.

The reason names (`not_json`, `missing_field`, `unstorable`, ...) live in
`job/reasons.py`: they are the DLQ's `reason` header and a metric label, keep them stable.
"""

from __future__ import annotations

import json
import re

from pydantic import ValidationError

from jobline.errors import InvalidJob, JobTooLarge
from jobline.job.model import OPTIONAL_FIELDS, RAW_CHECKED, JobMessage, validate_fields
from jobline.job.reasons import invalid_job, problem_job
from jobline.job.storable import find_in_fields, long_number_problem, may_hold_problem

__all__ = ["decode_job", "encode_job", "validate_fields"]

# A \uD800-\uDFFF escape: the JSON parser refuses a lone one as not JSON, though it is
# JSON's syntax; it is PostgreSQL (and UTF-8) that cannot hold it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NUMBER_TOO_LONG = "number out of range"


def decode_job(data: bytes | None) -> JobMessage:
    """Parse one message from the jobs topic, or raise InvalidJob with a reason."""
    if data is None or not data:
        raise InvalidJob("empty_message", "invalid job (empty_message): the message has no value")
    context = None if may_hold_problem(data) else RAW_CHECKED
    try:
        return JobMessage.model_validate_json(data, context=context)
    except ValidationError as exc:
        raise _unparsable_problem(data, exc) or invalid_job(exc) from None


def _unparsable_problem(data: bytes, exc: ValidationError) -> InvalidJob | None:
    """`unstorable` for JSON the parser refused only for a value PostgreSQL refuses too."""
    first = exc.errors(include_url=False)[0]
    if first["type"] != "json_invalid":
        return None
    if _NUMBER_TOO_LONG in first["msg"]:
        return problem_job(long_number_problem(f"message ({first['msg']})"))
    if _SURROGATE_ESCAPE.search(data) is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    found = find_in_fields(value) if isinstance(value, dict) else None
    return problem_job(found) if found is not None and found.reason == "unstorable" else None


def encode_job(job: JobMessage, max_bytes: int) -> bytes:
    """Serialize a job for the jobs topic; refuse it when over `max_bytes`."""
    # Only unset optional fields are left out: a null payload or extra field stays.
    unset = {name for name in OPTIONAL_FIELDS if getattr(job, name) is None}
    data = job.model_dump_json(by_alias=True, exclude=unset).encode()
    if len(data) > max_bytes:
        raise JobTooLarge(len(data), max_bytes, job.type)
    return data

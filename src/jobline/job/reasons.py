"""The reasons a job message is refused, and the InvalidJob that names them. Pure.

The reason names are the DLQ's `reason` header and the `reason` label of the intake and
trigger metrics: keep them stable (docs/configuration.md lists them).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from jobline.errors import InvalidJob
from jobline.job.storable import SURROGATE_TEXT, Problem

#: every reason a message can be refused with (`too_large` only when encoding)
REASONS = frozenset(
    {
        "empty_message",
        "not_json",
        "not_object",
        "missing_field",
        "empty_value",
        "wrong_type",
        "out_of_range",
        "unstorable",
        "too_large",
    }
)

_FORMAT_HINT = (
    "a job message is a JSON object with type (string), payload (any JSON), "
    "timestamp (ms since epoch), pluginConfigId and pluginConfigTeam (integers)"
)


def reason_of(kind: str) -> str:
    """The reason name of a pydantic error type (our own error types are reason names)."""
    if kind in ("json_invalid", "not_json"):
        return "not_json"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "not_object"
    if kind == "missing":
        return "missing_field"
    if kind == "string_too_short":
        return "empty_value"
    if kind in ("unstorable", "string_unicode"):
        return "unstorable"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "enum":
        return "wrong_type"
    return "out_of_range"


def problem_error(problem: Problem) -> PydanticCustomError:
    """A validation error that carries a Problem's reason, field and text."""
    return PydanticCustomError(
        problem.reason, "{text}", {"field": problem.field, "text": problem.text}
    )


def _message_of(error: Any) -> str:
    if error["type"] == "string_unicode":  # a Python str holding a lone surrogate
        return SURROGATE_TEXT
    return str(error["msg"])


def _field_of(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if "field" in ctx:
        return str(ctx["field"])
    return ".".join(str(p) for p in error["loc"]) or "message"


def invalid_job(exc: ValidationError) -> InvalidJob:
    """The InvalidJob for a failed validation: the first error's reason, every error's text."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = _field_of(first)
    reason = reason_of(str(first["type"]))
    detail = "; ".join(f"{_field_of(e)}: {_message_of(e)}" for e in errors)
    if reason != "unstorable":
        detail = f"{detail}; {_FORMAT_HINT}"
    return InvalidJob(reason, f"invalid job ({reason} at {field}): {detail}")


def problem_job(problem: Problem) -> InvalidJob:
    """The InvalidJob for a Problem found outside validation (in the raw message)."""
    return InvalidJob(
        problem.reason,
        f"invalid job ({problem.reason} at {problem.field}): {problem.field}: {problem.text}",
    )

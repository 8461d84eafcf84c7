"""Hypothesis strategies for job messages the codec must accept (unit and integration tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from jobline.job import JobMessage, KeyMode
from jobline.job.limits import (
    DB_INT_MAX,
    MAX_ATTEMPTS_MAX,
    MAX_INT_DIGITS,
    MAX_KEY_BYTES,
    MAX_QUEUE_BYTES,
    MAX_TIMESTAMP_MS,
    MAX_TYPE_BYTES,
    PRIORITY_MAX,
    PRIORITY_MIN,
)

WIRE_FIELDS = {
    "type",
    "payload",
    "timestamp",
    "pluginConfigId",
    "pluginConfigTeam",
    "jobKey",
    "jobKeyMode",
    "queue",
    "priority",
    "maxAttempts",
}
# populate_by_name=True: the Python field names are accepted on the wire too
PYTHON_FIELDS = set(JobMessage.model_fields)

# Any Unicode scalar but NUL: what UTF-8 encodes (no surrogates), NUL left out.
storable_chars = st.characters(codec="utf-8", exclude_characters="\x00")
storable_text = st.text(storable_chars, max_size=20)
LARGEST_INT = 10**MAX_INT_DIGITS - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([LARGEST_INT, -LARGEST_INT, DB_INT_MAX + 1, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4)
    ),
    max_leaves=8,
)
extra_names = st.text(storable_chars, min_size=1, max_size=12).filter(
    lambda k: k not in WIRE_FIELDS and k not in PYTHON_FIELDS
)


def names(max_bytes: int) -> st.SearchStrategy[str]:
    """Non-empty names of at most `max_bytes` UTF-8 bytes, often right at the limit."""
    long_text = st.text(storable_chars, min_size=1, max_size=max_bytes)
    return (st.text(storable_chars, min_size=1, max_size=30) | long_text).map(
        lambda s: s.encode()[:max_bytes].decode(errors="ignore") or "x"
    )


@st.composite
def wire_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """A job message as a JSON-ready dict, every optional field sometimes present."""
    fields: dict[str, Any] = {
        "type": draw(names(MAX_TYPE_BYTES)),
        "payload": draw(json_values),
        "timestamp": draw(st.integers(1, MAX_TIMESTAMP_MS)),
        "pluginConfigId": draw(st.integers(1, DB_INT_MAX)),
        "pluginConfigTeam": draw(st.integers(0, DB_INT_MAX)),
        "jobKeyMode": draw(st.sampled_from([m.value for m in KeyMode])),
        "priority": draw(st.integers(PRIORITY_MIN, PRIORITY_MAX)),
    }
    optional = {
        "jobKey": draw(st.none() | names(MAX_KEY_BYTES)),
        "queue": draw(st.none() | names(MAX_QUEUE_BYTES)),
        "maxAttempts": draw(st.none() | st.integers(1, MAX_ATTEMPTS_MAX)),
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    fields.update(draw(st.dictionaries(extra_names, json_values, max_size=3)))
    return fields

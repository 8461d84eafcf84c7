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
LARGEST_INT = 10**MAX_INT_DIGITS - 1
storable_numbers = (
    st.integers()
    | st.sampled_from([LARGEST_INT, -LARGEST_INT, DB_INT_MAX + 1, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False)
)


json_values = st.recursive(
    st.none() | st.booleans() | storable_numbers | st.text(storable_chars, max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(storable_chars, max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
extra_names = st.text(storable_chars, min_size=1, max_size=12).filter(
    lambda k: k not in WIRE_FIELDS and k not in PYTHON_FIELDS
)


def fit(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes, never empty."""
    return text.encode()[:max_bytes].decode(errors="ignore") or "x"


def names(max_bytes: int) -> st.SearchStrategy[str]:
    """Non-empty names of at most `max_bytes` UTF-8 bytes, often right at the limit."""
    short_text = st.text(storable_chars, min_size=1, max_size=30)
    long_text = st.text(storable_chars, min_size=1, max_size=max_bytes)
    return (short_text | long_text).map(lambda s: fit(s, max_bytes))


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


# What the jobs DB cannot store (or JSON cannot carry): the codec must refuse each one.
POISON_CHARS = ["\x00", "\ud800", "\udfff"]
POISON_NUMBERS = [float("nan"), -float("inf")]


@st.composite
def poisoned(draw: st.DrawFn, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with one poison character or number put into one place."""
    char = draw(st.sampled_from(POISON_CHARS))
    poison: Any = draw(st.sampled_from([char, f"a{char}b", *POISON_NUMBERS]))
    place = draw(st.sampled_from(["type", "jobKey", "queue", "payload", "key", "extra", "name"]))
    fields = dict(fields)
    if place in ("type", "jobKey", "queue"):
        fields[place] = f"{fields.get(place, '')}{char}"
    elif place == "payload":
        fields["payload"] = {"p": [fields["payload"], poison]}
    elif place == "key":
        fields["payload"] = {f"k{char}": fields["payload"]}
    elif place == "extra":
        fields["origin"] = {"deep": poison}
    else:
        fields[f"origin{char}"] = 1
    return fields


def wire_jobs_sometimes_poisoned() -> st.SearchStrategy[dict[str, Any]]:
    """Valid job messages, and as many with one value the codec must refuse."""
    return wire_jobs().flatmap(lambda fields: st.just(fields) | poisoned(fields))

"""The codec refuses what the jobs DB cannot store, and accepts PostHog's producer shapes."""

from __future__ import annotations

import ast
import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import jobline.job
from jobline.errors import InvalidJob
from jobline.job import JobMessage, decode_job
from jobline.job.limits import (
    BIGINT_MAX,
    DB_INT_MAX,
    INTEGER_MAX,
    MAX_ATTEMPTS_MAX,
    MAX_INT_DIGITS,
    MAX_KEY_BYTES,
    MAX_QUEUE_BYTES,
    MAX_TYPE_BYTES,
    PRIORITY_MAX,
    PRIORITY_MIN,
    SMALLINT_MAX,
    SMALLINT_MIN,
)
from jobline.job.reasons import REASONS, invalid_job
from jobline.job.storable import may_hold_problem
from tests.job_messages import json_values, wire_jobs

PADDING = {"small": 0, "large": 2_000}  # large: past the raw-bytes check's size threshold


def message(padding: int = 0, **changes: Any) -> bytes:
    """A valid message as JSON text with `changes` spliced in as raw JSON fragments."""
    fields: dict[str, str] = {
        "type": '"hello.greet"',
        "payload": '{"name": "world"}',
        "timestamp": "1700000000000",
        "pluginConfigId": "7",
        "pluginConfigTeam": "3",
    }
    fields.update(changes)
    if padding:
        fields["padding"] = json.dumps("p" * padding)
    return message_of(fields)


def message_of(fields: dict[str, Any]) -> bytes:
    """JSON text of an object whose values are given as JSON text; `...` leaves one out."""
    body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items() if v is not ...)
    return ("{" + body + "}").encode()


def refusal(data: bytes) -> InvalidJob:
    with pytest.raises(InvalidJob) as info:
        decode_job(data)
    return info.value


def created(**changes: Any) -> JobMessage:
    fields: dict[str, Any] = {"type": "t", "payload": {}, "plugin_config_id": 1, "team_id": 1}
    fields.update(changes)
    return JobMessage.create(**fields)


# --- NUL characters, anywhere ------------------------------------------------------------

NUL_PLACES = [
    ("type", {"type": r'"a\u0000b"'}),
    ("jobKey", {"jobKey": r'"k\u0000"'}),
    ("queue", {"queue": r'"\u0000q"'}),
    ("payload.name", {"payload": r'{"name": "wor\u0000ld"}'}),
    ("payload.a.b[1]", {"payload": r'{"a": {"b": [1, "\u0000"]}}'}),
    ("payload.a key", {"payload": r'{"a": {"x\u0000y": 1}}'}),
    ("payload[0]", {"payload": r'["\u0000"]'}),
    ("origin", {"origin": r'"\u0000"'}),
    ("origin.deep", {"origin": r'{"deep": "\u0000"}'}),
    ("field name", {"ori\x00gin": "1"}),  # message() escapes keys
]


@pytest.mark.parametrize("padding", PADDING.values(), ids=PADDING.keys())
@pytest.mark.parametrize(("field", "changes"), NUL_PLACES, ids=[p[0] for p in NUL_PLACES])
def test_a_nul_character_anywhere_is_refused_as_unstorable(
    field: str, changes: dict[str, str], padding: int
) -> None:
    error = refusal(message(padding, **changes))
    assert error.reason == "unstorable"
    assert field in str(error)
    assert "NUL" in str(error)
    assert "remove it" in str(error)


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul() -> None:
    job = decode_job(message(2_000, payload=r'"\\u0000"'))
    assert job.payload == "\\u0000"


# --- lone surrogates ---------------------------------------------------------------------

SURROGATES = [r'"\ud800"', r'"\udc00"', r'"x\udfffy"', r'"\udc00\ud800"', r'"\uDBFF"']


@pytest.mark.parametrize("padding", PADDING.values(), ids=PADDING.keys())
@pytest.mark.parametrize("text", SURROGATES)
@pytest.mark.parametrize("field", ["type", "jobKey", "queue", "payload", "origin"])
def test_a_lone_surrogate_escape_is_refused_as_unstorable(
    field: str, text: str, padding: int
) -> None:
    error = refusal(message(padding, **{field: text}))
    assert error.reason == "unstorable"
    assert f"at {field}" in str(error)
    assert "surrogate" in str(error)


def test_a_surrogate_escape_inside_an_object_key_is_refused_as_unstorable() -> None:
    error = refusal(message(payload=r'{"a": {"\ud800": 1}}'))
    assert error.reason == "unstorable"
    assert "payload.a key" in str(error)


def test_a_surrogate_pair_escape_is_one_character_and_accepted() -> None:
    assert decode_job(message(payload=r'"\ud83d\ude00"')).payload == "\U0001f600"


@pytest.mark.parametrize("text", ["\ud800", "a\udfff", "\ud83d\ude00"])
def test_a_python_string_holding_a_surrogate_is_refused_as_unstorable(text: str) -> None:
    with pytest.raises(InvalidJob) as info:
        created(payload={"text": text})
    assert info.value.reason == "unstorable"
    assert "payload.text" in str(info.value)


@pytest.mark.parametrize("field", ["type", "key", "queue"])
def test_a_python_name_holding_a_nul_is_refused_as_unstorable(field: str) -> None:
    with pytest.raises(InvalidJob) as info:
        created(**{field: "a\x00"})
    assert info.value.reason == "unstorable"


# --- numbers -------------------------------------------------------------------------------


def test_an_integer_of_the_most_digits_is_accepted() -> None:
    largest = "9" * MAX_INT_DIGITS
    assert decode_job(message(payload=largest)).payload == int(largest)


@pytest.mark.parametrize("padding", PADDING.values(), ids=PADDING.keys())
def test_an_integer_of_too_many_digits_is_refused_as_unstorable(padding: int) -> None:
    error = refusal(message(padding, payload="1" + "0" * MAX_INT_DIGITS))
    assert error.reason == "unstorable"
    assert "send it as a string" in str(error)


def test_a_python_integer_of_too_many_digits_is_refused_as_unstorable() -> None:
    with pytest.raises(InvalidJob) as info:
        created(payload={"n": [-(10**MAX_INT_DIGITS)]})
    assert info.value.reason == "unstorable"
    assert "payload.n[0]" in str(info.value)


OVERFLOWING = ["1e1000000", "1e400", "-1E+400", "1" + "0" * 400 + ".5", "1" + "0" * 350 + "e-20"]


@pytest.mark.parametrize("padding", PADDING.values(), ids=PADDING.keys())
@pytest.mark.parametrize("literal", [*OVERFLOWING, "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["payload", "origin"])
def test_a_number_json_cannot_carry_is_refused_as_not_json(
    field: str, literal: str, padding: int
) -> None:
    error = refusal(message(padding, **{field: f"[{literal}]"}))
    assert error.reason == "not_json"
    assert f"{field}[0]" in str(error)


@pytest.mark.parametrize("literal", ["1e-400", "5e-324", "1.7976931348623157e308", "-0.0"])
def test_a_float_at_the_edge_of_double_is_accepted(literal: str) -> None:
    assert decode_job(message(payload=literal)).payload == float(literal)


@pytest.mark.parametrize("value", [{1, 2}, datetime(2030, 1, 1), b"bytes", {1: "int key"}])
def test_a_python_value_json_cannot_carry_is_refused_as_wrong_type(value: Any) -> None:
    with pytest.raises(InvalidJob) as info:
        created(payload={"v": value})
    assert info.value.reason == "wrong_type"
    assert "payload.v" in str(info.value)


def test_a_python_tuple_is_carried_as_a_list() -> None:
    assert created(payload=(1, "a")).payload == (1, "a")


def test_a_payload_nested_too_deep_is_refused_not_crashed() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidJob) as info:
        created(payload=deep)
    assert info.value.reason == "unstorable"


# --- names: limits in UTF-8 bytes ----------------------------------------------------------

NAME_LIMITS = [("type", MAX_TYPE_BYTES), ("jobKey", MAX_KEY_BYTES), ("queue", MAX_QUEUE_BYTES)]


@pytest.mark.parametrize(("field", "limit"), NAME_LIMITS)
def test_a_name_of_exactly_its_byte_limit_is_accepted(field: str, limit: int) -> None:
    name = "é" * (limit // 2)  # 2 bytes each
    job = decode_job(message(**{field: json.dumps(name)}))
    assert len(job.model_dump(by_alias=True)[field].encode()) == limit


@pytest.mark.parametrize(("field", "limit"), NAME_LIMITS)
def test_a_name_one_byte_over_its_limit_is_refused_as_out_of_range(field: str, limit: int) -> None:
    name = "é" * (limit // 2) + "x"  # fewer characters than the limit, one byte more
    assert len(name) < limit
    error = refusal(message(**{field: json.dumps(name)}))
    assert error.reason == "out_of_range"
    assert f"{limit + 1:,} bytes" in str(error)
    assert f"{limit:,} bytes" in str(error)
    assert "shorten it" in str(error)


# --- PostHog producer shapes --------------------------------------------------------------


def test_a_message_without_payload_gets_an_empty_object() -> None:
    assert decode_job(message(payload=...)).payload == {}


def test_an_explicit_null_payload_stays_null() -> None:
    assert decode_job(message(payload="null")).payload is None


@pytest.mark.parametrize(
    ("literal", "expected"),
    [("1700000000000.9", 1_700_000_000_000), ("1700000000123.0", 1_700_000_000_123)],
)
def test_a_fractional_timestamp_is_floored(literal: str, expected: int) -> None:
    assert decode_job(message(timestamp=literal)).timestamp == expected


@pytest.mark.parametrize("literal", [..., "null", "0", "0.0", "0.4"])
def test_a_missing_null_or_zero_timestamp_means_now(literal: Any) -> None:
    before = time.time_ns() // 1_000_000
    job = decode_job(message(timestamp=literal))
    assert before <= job.timestamp <= time.time_ns() // 1_000_000


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_a_timestamp_json_cannot_carry_is_refused_as_not_json(literal: str) -> None:
    assert refusal(message(timestamp=literal)).reason == "not_json"


@pytest.mark.parametrize("literal", ["-0.5", "253402300799000.5e3", "1e300"])
def test_a_fractional_timestamp_out_of_range_is_refused_as_out_of_range(literal: str) -> None:
    assert refusal(message(timestamp=literal)).reason == "out_of_range"


# --- limits sit inside the jobs DB's column types -----------------------------------------


def test_every_numeric_limit_fits_its_column_type() -> None:
    assert SMALLINT_MIN <= PRIORITY_MIN and PRIORITY_MAX <= SMALLINT_MAX
    assert MAX_ATTEMPTS_MAX <= INTEGER_MAX
    assert DB_INT_MAX <= BIGINT_MAX


# --- model and codec do not import each other (issue 5) -----------------------------------


def _job_imports(module: str) -> set[str]:
    tree = ast.parse((Path(jobline.job.__file__).parent / f"{module}.py").read_text())
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_the_model_does_not_import_the_codec() -> None:
    assert "jobline.job.codec" not in _job_imports("model")


def test_the_storable_checks_import_neither_model_nor_codec() -> None:
    imported = _job_imports("storable") | _job_imports("reasons") | _job_imports("limits")
    assert not imported & {"jobline.job.model", "jobline.job.codec"}


# --- properties ---------------------------------------------------------------------------

POISON = [r'"\u0000"', r'"\ud800"', "NaN", "-Infinity", "1e999", "1" + "0" * 4301, r'{"\u0000": 0}']


@st.composite
def poisoned_messages(draw: st.DrawFn) -> bytes:
    """A valid message, sometimes with one poison value in one place, sometimes padded."""
    fields = {k: json.dumps(v) for k, v in draw(wire_jobs()).items()}
    if draw(st.booleans()):
        place = draw(st.sampled_from(["payload", "type", "jobKey", "origin", "timestamp"]))
        poison = draw(st.sampled_from(POISON))
        fields[place] = draw(st.sampled_from([poison, f"[{poison}]", f'{{"a": {poison}}}']))
    if draw(st.booleans()):
        fields["padding"] = json.dumps("p" * 1_000)
    return message_of(fields)


def outcome(decode: Any, data: bytes) -> Any:
    try:
        return decode(data)
    except InvalidJob as exc:
        return exc.reason


def walked(data: bytes) -> JobMessage:
    """decode_job without the raw-bytes check: the payload and extras are always walked."""
    try:
        return JobMessage.model_validate_json(data)
    except ValidationError as exc:
        raise invalid_job(exc) from None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(poisoned_messages())
def test_every_refusal_has_a_known_reason(data: bytes) -> None:
    try:
        decode_job(data)
    except InvalidJob as exc:
        assert exc.reason in REASONS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(poisoned_messages())
def test_the_raw_bytes_check_never_lets_an_unstorable_value_through(data: bytes) -> None:
    job = outcome(decode_job, data)
    if isinstance(job, JobMessage):
        assert isinstance(outcome(walked, data), JobMessage)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_a_payload_the_codec_accepts_survives_json_as_the_store_writes_it(value: Any) -> None:
    job = decode_job(message(payload=json.dumps(value)))
    assert json.loads(json.dumps(job.payload)) == job.payload


@st.composite
def json_numbers(draw: st.DrawFn) -> str:
    """JSON number text around the edges of a double: long digit runs, 2-4 digit exponents."""
    digits = draw(st.sampled_from([1, 2, 17, 198, 199, 200, 201, 308, 309, 310, 320]))
    integer = draw(st.sampled_from(["1", "9", "4"])) + "0" * (digits - 1)
    fraction = draw(st.sampled_from(["", ".5", ".000001"]))
    exponent = draw(st.sampled_from(["", "e", "E", "e+", "e-", "E+", "E-"]))
    if exponent:
        exponent += draw(st.sampled_from(["0", "99", "099", "100", "0100", "307", "308", "400"]))
    return draw(st.sampled_from(["", "-"])) + integer + fraction + exponent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_numbers())
def test_the_raw_bytes_check_sees_every_number_that_overflows_a_double(literal: str) -> None:
    data = message(2_000, payload=f"[{literal}]")
    is_float = any(c in literal for c in ".eE")
    if is_float and not math.isfinite(float(literal)):
        assert may_hold_problem(data)
        assert refusal(data).reason == "not_json"
    else:
        assert decode_job(data).payload == [json.loads(literal)]

"""The job message codec: round trips, extras, the reasons of malformed messages, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobline.errors import InvalidJob, JobTooLarge
from jobline.job import JobMessage, KeyMode, decode_job, encode_job
from jobline.job.limits import DB_INT_MAX, MAX_TIMESTAMP_MS, MAX_TYPE_BYTES
from jobline.job.reasons import REASONS
from tests.job_messages import WIRE_FIELDS, extra_names, json_values, storable_chars, wire_jobs

BIG_LIMIT = 100_000_000


def wire(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "hello.greet",
        "payload": {"name": "world"},
        "timestamp": 1_700_000_000_000,
        "pluginConfigId": 7,
        "pluginConfigTeam": 3,
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not ...}


def raw(**changes: Any) -> bytes:
    return json.dumps(wire(**changes)).encode()


def reason_of(data: bytes | None) -> str:
    with pytest.raises(InvalidJob) as info:
        decode_job(data)
    return info.value.reason


# --- round trips ---------------------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire_jobs())
def test_encode_then_decode_returns_an_equal_job(fields: dict[str, Any]) -> None:
    job = JobMessage.model_validate(fields)
    assert decode_job(encode_job(job, BIG_LIMIT)) == job


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire_jobs())
def test_decoding_a_wire_object_keeps_every_field(fields: dict[str, Any]) -> None:
    job = decode_job(json.dumps(fields).encode())
    assert job.type == fields["type"]
    assert job.payload == fields["payload"]
    assert job.timestamp == fields["timestamp"]
    assert job.plugin_config_id == fields["pluginConfigId"]
    assert job.team_id == fields["pluginConfigTeam"]
    assert job.key == fields.get("jobKey")
    assert job.queue == fields.get("queue")
    assert job.max_attempts == fields.get("maxAttempts")
    assert job.key_mode == KeyMode(fields["jobKeyMode"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(extra_names, json_values, min_size=1, max_size=4))
def test_unknown_fields_survive_decode_and_encode_into_extra(extras: dict[str, Any]) -> None:
    job = decode_job(json.dumps(wire(**extras)).encode())
    assert job.extra == extras
    assert decode_job(encode_job(job, BIG_LIMIT)).extra == extras


def test_extra_returns_a_copy_that_does_not_change_the_job() -> None:
    job = decode_job(raw(origin="posthog"))
    job.extra["origin"] = "changed"
    assert job.extra == {"origin": "posthog"}


def test_a_job_without_unknown_fields_has_an_empty_extra() -> None:
    assert decode_job(raw()).extra == {}


def test_optional_fields_take_their_defaults_when_absent() -> None:
    job = decode_job(raw())
    assert job.key is None
    assert job.key_mode is KeyMode.REPLACE
    assert job.queue is None
    assert job.priority == 0
    assert job.max_attempts is None


def test_encoding_leaves_out_absent_optional_fields() -> None:
    data = json.loads(encode_job(decode_job(raw()), BIG_LIMIT))
    assert "jobKey" not in data
    assert "queue" not in data
    assert "maxAttempts" not in data


def test_encoding_uses_the_wire_field_names() -> None:
    job = decode_job(raw(jobKey="k", queue="q", maxAttempts=2, priority=5))
    data = json.loads(encode_job(job, BIG_LIMIT))
    assert set(data) == WIRE_FIELDS


def test_a_job_with_a_null_payload_survives_the_round_trip() -> None:
    job = decode_job(raw(payload=None))
    assert decode_job(encode_job(job, BIG_LIMIT)) == job


def test_an_extra_field_with_a_null_value_survives_the_round_trip() -> None:
    job = decode_job(raw(origin=None))
    assert decode_job(encode_job(job, BIG_LIMIT)).extra == {"origin": None}


def test_a_wire_field_named_like_a_python_attribute_is_kept_as_extra() -> None:
    job = decode_job(raw(key="producer-specific"))
    assert job.key is None
    assert job.extra == {"key": "producer-specific"}


def test_run_at_is_the_timestamp_as_an_aware_utc_datetime() -> None:
    job = decode_job(raw(timestamp=1_700_000_000_123))
    assert job.run_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)


def test_kafka_key_is_the_team_id_as_bytes() -> None:
    assert decode_job(raw(pluginConfigTeam=42)).kafka_key == b"42"


def test_a_job_is_frozen() -> None:
    job = decode_job(raw())
    with pytest.raises(ValueError):
        job.type = "other"  # type: ignore[misc]


# --- malformed messages and their reasons --------------------------------------------


@pytest.mark.parametrize("data", [None, b""])
def test_an_empty_message_is_rejected_as_empty_message(data: bytes | None) -> None:
    assert reason_of(data) == "empty_message"


@pytest.mark.parametrize("data", [b"{", b"not json", b"\xff\xfe", b'{"type": }', b"[" * 10_000])
def test_bytes_that_are_not_json_are_rejected_as_not_json(data: bytes) -> None:
    assert reason_of(data) == "not_json"


@pytest.mark.parametrize("data", [b"[]", b"1", b'"job"', b"null", b"true"])
def test_json_that_is_not_an_object_is_rejected_as_not_object(data: bytes) -> None:
    assert reason_of(data) == "not_object"


@pytest.mark.parametrize("field", ["type", "pluginConfigId", "pluginConfigTeam"])
def test_a_missing_required_field_is_rejected_as_missing_field(field: str) -> None:
    assert reason_of(raw(**{field: ...})) == "missing_field"


@pytest.mark.parametrize("field", ["type", "jobKey", "queue"])
def test_an_empty_string_field_is_rejected_as_empty_value(field: str) -> None:
    assert reason_of(raw(**{field: ""})) == "empty_value"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", 5),
        ("type", None),
        ("timestamp", "1700000000000"),
        ("pluginConfigId", "7"),
        ("pluginConfigTeam", [3]),
        ("jobKey", 5),
        ("jobKeyMode", "overwrite"),
        ("jobKeyMode", 1),
        ("queue", {}),
        ("priority", 1.5),
        ("maxAttempts", "3"),
    ],
)
def test_a_field_of_the_wrong_type_is_rejected_as_wrong_type(field: str, value: Any) -> None:
    assert reason_of(raw(**{field: value})) == "wrong_type"


@pytest.mark.parametrize(
    "field", ["timestamp", "pluginConfigId", "pluginConfigTeam", "priority", "maxAttempts"]
)
def test_a_bool_is_not_accepted_as_an_int(field: str) -> None:
    assert reason_of(raw(**{field: True})) == "wrong_type"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", -1),
        ("timestamp", MAX_TIMESTAMP_MS + 1),
        ("pluginConfigId", 0),
        ("pluginConfigId", DB_INT_MAX + 1),
        ("pluginConfigTeam", -1),
        ("pluginConfigTeam", DB_INT_MAX + 1),
        ("priority", 1001),
        ("priority", -1001),
        ("maxAttempts", 0),
        ("maxAttempts", 1001),
        ("type", "x" * (MAX_TYPE_BYTES + 1)),
        ("jobKey", "k" * 1001),
        ("queue", "q" * 201),
    ],
)
def test_a_value_out_of_its_range_is_rejected_as_out_of_range(field: str, value: Any) -> None:
    assert reason_of(raw(**{field: value})) == "out_of_range"


def test_a_timestamp_beyond_year_9999_is_refused() -> None:
    last_ms_of_9999 = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1000
    assert decode_job(raw(timestamp=last_ms_of_9999)).run_at.year == 9999
    with pytest.raises(InvalidJob) as info:
        decode_job(raw(timestamp=last_ms_of_9999 + 1))
    assert info.value.reason == "out_of_range"


def test_a_timestamp_in_microseconds_is_refused() -> None:
    assert reason_of(raw(timestamp=1_700_000_000_000_000)) == "out_of_range"


def test_the_error_message_names_the_bad_field() -> None:
    with pytest.raises(InvalidJob) as info:
        decode_job(raw(pluginConfigId="seven"))
    assert "pluginConfigId" in str(info.value)
    assert info.value.detail == str(info.value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_decoding_arbitrary_bytes_raises_nothing_but_invalid_job(data: bytes) -> None:
    try:
        decode_job(data)
    except InvalidJob as exc:
        assert exc.reason in REASONS - {"too_large"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(WIRE_FIELDS)) | st.text(max_size=5), json_values))
def test_decoding_arbitrary_json_objects_raises_nothing_but_invalid_job(
    fields: dict[str, Any],
) -> None:
    try:
        job = decode_job(json.dumps(fields).encode())
    except InvalidJob as exc:
        assert exc.reason != "not_json"
    else:
        assert isinstance(job, JobMessage)


# --- size limit -----------------------------------------------------------------------


def job_with_payload(text: str) -> JobMessage:
    return decode_job(raw(payload=text))


def test_a_job_whose_encoding_is_exactly_max_bytes_is_accepted() -> None:
    job = job_with_payload("x" * 500)
    size = len(encode_job(job, BIG_LIMIT))
    assert len(encode_job(job, size)) == size


def test_a_job_one_byte_over_max_bytes_raises_job_too_large() -> None:
    job = job_with_payload("x" * 500)
    size = len(encode_job(job, BIG_LIMIT))
    bigger = job_with_payload("x" * 501)
    with pytest.raises(JobTooLarge) as info:
        encode_job(bigger, size)
    assert info.value.size == size + 1
    assert info.value.limit == size


def test_the_same_job_is_refused_under_a_limit_one_byte_lower() -> None:
    job = job_with_payload("x" * 500)
    size = len(encode_job(job, BIG_LIMIT))
    with pytest.raises(JobTooLarge):
        encode_job(job, size - 1)


def test_job_too_large_names_the_size_the_limit_and_the_variable() -> None:
    job = job_with_payload("x" * 2_000)
    size = len(encode_job(job, BIG_LIMIT))
    with pytest.raises(JobTooLarge) as info:
        encode_job(job, 1_000)
    message = str(info.value)
    assert "JOBLINE_MAX_MESSAGE_BYTES" in message
    assert f"{size:,}" in message
    assert "1,000" in message
    assert "hello.greet" in message


def test_job_too_large_is_an_invalid_job_with_reason_too_large() -> None:
    with pytest.raises(InvalidJob) as info:
        encode_job(job_with_payload("x" * 2_000), 1_000)
    assert info.value.reason == "too_large"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(storable_chars, max_size=300), st.integers(1, 600))
def test_encode_refuses_exactly_the_jobs_over_the_limit(text: str, limit: int) -> None:
    job = job_with_payload(text)
    size = len(encode_job(job, BIG_LIMIT))
    if size <= limit:
        assert len(encode_job(job, limit)) == size
    else:
        with pytest.raises(JobTooLarge):
            encode_job(job, limit)


# --- JobMessage.create -----------------------------------------------------------------


@pytest.mark.parametrize("key_mode", ["preserve", KeyMode.PRESERVE])
def test_create_accepts_key_mode_as_str_or_key_mode(key_mode: Any) -> None:
    job = JobMessage.create(
        type="t", payload={}, plugin_config_id=1, team_id=0, key="k", key_mode=key_mode
    )
    assert job.key_mode is KeyMode.PRESERVE


def test_create_refuses_an_unknown_key_mode_as_wrong_type() -> None:
    with pytest.raises(InvalidJob) as info:
        JobMessage.create(
            type="t",
            payload={},
            plugin_config_id=1,
            team_id=0,
            key_mode="overwrite",  # type: ignore[arg-type]
        )
    assert info.value.reason == "wrong_type"


def test_create_treats_none_optionals_as_absent() -> None:
    job = JobMessage.create(type="t", payload=1, plugin_config_id=1, team_id=0)
    assert job.key is None
    assert job.queue is None
    assert job.max_attempts is None


def test_create_reads_a_naive_run_at_as_utc() -> None:
    job = JobMessage.create(
        type="t", payload=1, plugin_config_id=1, team_id=0, run_at=datetime(2030, 1, 1)
    )
    assert job.run_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_create_without_run_at_runs_now() -> None:
    before = datetime.now(UTC)
    job = JobMessage.create(type="t", payload=1, plugin_config_id=1, team_id=0)
    after = datetime.now(UTC)
    # milliseconds on the wire; allow for the truncation to whole milliseconds
    assert before - timedelta(milliseconds=2) <= job.run_at <= after


def test_create_raises_invalid_job_for_bad_values() -> None:
    with pytest.raises(InvalidJob) as info:
        JobMessage.create(type="", payload=1, plugin_config_id=1, team_id=0)
    assert info.value.reason == "empty_value"


def test_create_keeps_the_millisecond_of_run_at() -> None:
    when = datetime(2038, 12, 19, 13, 53, 24, 23000, tzinfo=UTC)
    job = JobMessage.create(type="t", payload=1, plugin_config_id=1, team_id=0, run_at=when)
    assert job.timestamp == 2_176_379_604_023


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_payload_holding_nan_or_an_infinity_is_not_json(literal: bytes) -> None:
    data = (
        b'{"type": "t", "payload": {"values": [1, ' + literal + b']}, "timestamp": 1, '
        b'"pluginConfigId": 1, "pluginConfigTeam": 1}'
    )
    assert reason_of(data) == "not_json"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_create_refuses_a_payload_that_json_cannot_carry(value: float) -> None:
    with pytest.raises(InvalidJob) as info:
        JobMessage.create(type="t", payload={"deep": [{"v": value}]}, plugin_config_id=1, team_id=1)
    assert info.value.reason == "not_json"

"""The DLQ record of a rejected message: headers that say why, limits it always fits."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from jobline.errors import InvalidJob
from jobline.intake.batch import RawMessage, Rejected, db_rejected
from jobline.intake.dlq import HEADER_VALUE_BYTES, KEY_BYTES, dlq_record


def _rejected(
    value: bytes | None = b"{oops", key: bytes | None = b"42", detail: str = "bad"
) -> Rejected:
    message = RawMessage(topic="jobs", partition=3, offset=17, key=key, value=value)
    return Rejected(message, InvalidJob("not_json", detail))


def _headers(record_headers: list[tuple[str, bytes]]) -> dict[str, bytes]:
    return dict(record_headers)


def test_a_small_message_keeps_its_value_and_key_and_names_reason_and_source() -> None:
    record = dlq_record(_rejected(), 1000)
    headers = _headers(record.headers)
    assert (record.value, record.key) == (b"{oops", b"42")
    assert headers["reason"] == b"not_json"
    assert headers["error"] == b"bad"
    assert (headers["source_topic"], headers["source_partition"]) == (b"jobs", b"3")
    assert headers["source_offset"] == b"17"
    assert "truncated" not in headers and "original_size" not in headers


def test_a_value_over_the_limit_is_cut_with_its_original_size_and_sha256() -> None:
    value = bytes(range(256)) * 20
    record = dlq_record(_rejected(value=value), 1000)
    headers = _headers(record.headers)
    assert record.value == value[:1000]
    assert headers["truncated"] == b"value"
    assert headers["original_size"] == str(len(value)).encode()
    assert headers["original_sha256"] == hashlib.sha256(value).hexdigest().encode()


def test_a_value_at_the_limit_is_not_cut() -> None:
    record = dlq_record(_rejected(value=b"x" * 1000), 1000)
    assert record.value == b"x" * 1000
    assert "truncated" not in _headers(record.headers)


def test_a_long_error_header_is_cut_at_a_character_boundary() -> None:
    detail = "é" * HEADER_VALUE_BYTES  # two bytes each
    headers = _headers(dlq_record(_rejected(detail=detail), 1000).headers)
    assert len(headers["error"]) <= HEADER_VALUE_BYTES
    assert headers["error"].decode() == "é" * (HEADER_VALUE_BYTES // 2)
    assert headers["truncated"] == b"error"


def test_a_long_key_is_cut_and_its_size_kept() -> None:
    record = dlq_record(_rejected(key=b"k" * 5000, value=b"v" * 2000), 1000)
    headers = _headers(record.headers)
    assert record.key == b"k" * KEY_BYTES
    assert headers["original_key_size"] == b"5000"
    assert headers["truncated"] == b"value,key"


def test_an_error_quoting_a_lone_surrogate_still_makes_a_header() -> None:
    headers = _headers(dlq_record(_rejected(detail="bad \ud800 here"), 1000).headers)
    assert headers["error"] == b"bad \\ud800 here"


def test_a_job_the_jobs_db_refused_carries_its_sqlstate_and_postgresql_error() -> None:
    message = RawMessage(topic="jobs", partition=0, offset=5, key=None, value=b"{}")
    rejected = db_rejected(message, "22P05", "unsupported Unicode escape sequence")
    headers = _headers(dlq_record(rejected, 1000).headers)
    assert headers["reason"] == b"db_rejected"
    assert headers["sqlstate"] == b"22P05"
    assert b"unsupported Unicode escape sequence" in headers["error"]


@settings(max_examples=50, deadline=None)
@given(
    value=st.one_of(st.none(), st.binary(max_size=3000)),
    key=st.one_of(st.none(), st.binary(max_size=3000)),
    detail=st.text(max_size=3000),
)
def test_every_record_fits_its_limits(value: bytes | None, key: bytes | None, detail: str) -> None:
    record = dlq_record(_rejected(value=value, key=key, detail=detail), 1000)
    assert record.value is None or len(record.value) <= 1000
    assert record.key is None or len(record.key) <= KEY_BYTES
    assert all(len(v) <= HEADER_VALUE_BYTES for _, v in record.headers)

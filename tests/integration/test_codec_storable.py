"""What the codec accepts, the jobs DB stores; what it refuses as unstorable, PostgreSQL refuses.

The first test stores every message hypothesis can build through `JobsDB.insert_jobs` and
reads it back; the others force each refused value past the codec and watch the real
PostgreSQL (or the store's own JSON writer) refuse it, so the codec's list rests on facts.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jobline.config import Settings
from jobline.dburl import schema_options
from jobline.errors import InvalidJob
from jobline.job import JobMessage, KeyMode, decode_job
from jobline.job.codec import validate_fields
from jobline.job.limits import MAX_INT_DIGITS, MAX_KEY_BYTES, MAX_TIMESTAMP_MS
from jobline.store import JobsDB
from tests.job_messages import wire_jobs_sometimes_poisoned

READ_BACK = (
    "SELECT type, plugin_config_id, team_id, payload::text, meta::text, run_at, key,"
    " key_mode, queue_name, priority, max_attempts FROM jobs"
)


def exact(json_text: str | None) -> Any:
    """A JSON value with every number as a Decimal: 1e23 and 100000000000000000000000 agree."""
    if json_text is None:
        return None
    return json.loads(json_text, parse_float=Decimal, parse_int=Decimal)


def expected_row(job: JobMessage) -> tuple[Any, ...]:
    meta = json.dumps(job.extra) if job.extra else None
    return (
        job.type,
        job.plugin_config_id,
        job.team_id,
        exact(json.dumps(job.payload)),
        exact(meta),
        job.run_at,
        job.key,
        job.key_mode.value,
        job.queue,
        job.priority,
        job.max_attempts,
    )


def stored_row(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    rows = conn.execute(READ_BACK).fetchall()
    assert len(rows) == 1
    row = list(rows[0])
    row[3], row[4] = exact(row[3]), exact(row[4])
    return tuple(row)


# 200 messages, each one insert and one read: a few seconds.
DB_EXAMPLES = hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_in_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Any], Any]:
    """Run a coroutine on the test's loop from hypothesis' thread, and wait for it."""
    return lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)


async def test_every_message_the_codec_accepts_is_stored_as_decoded(
    jobs_db: JobsDB, settings: Settings
) -> None:
    run = run_in_loop(asyncio.get_running_loop())
    options = schema_options(settings.schema_name)

    def check_all() -> None:
        # The check reads directly (its own `options`), beside the store under test.
        with psycopg.connect(settings.jobs_direct_url, autocommit=True, options=options) as conn:

            @DB_EXAMPLES
            @given(wire_jobs_sometimes_poisoned(), st.booleans())
            def stored_as_decoded(fields: dict[str, Any], padded: bool) -> None:
                if padded:  # past the raw-bytes check's threshold: the other path
                    fields = {**fields, "padding": "p" * 1_000}
                try:
                    job = decode_job(json.dumps(fields).encode())
                except InvalidJob:
                    return  # refused: it never reaches the jobs DB
                conn.execute("DELETE FROM jobs")
                assert run(jobs_db.insert_jobs([job])) == 1
                assert stored_row(conn) == expected_row(job)

            stored_as_decoded()

    await asyncio.to_thread(check_all)


# --- forced past the codec ---------------------------------------------------------------


def incompressible(size_bytes: int) -> str:
    """Random 4-byte characters: an index entry PostgreSQL cannot shrink below its size."""
    rng = random.Random(size_bytes)
    return "".join(chr(rng.randrange(0x10000, 0x10FFFF)) for _ in range(size_bytes // 4))


VALID = {
    "type": "t",
    "payload": {},
    "timestamp": 1_700_000_000_000,
    "plugin_config_id": 1,
    "team_id": 1,
    "key": None,
    "key_mode": KeyMode.REPLACE,
    "queue": None,
    "priority": 0,
    "max_attempts": None,
}
E = psycopg.errors
# psycopg itself refuses a NUL in a text parameter: the wire protocol cannot carry one.
NUL_TEXT = psycopg.DataError
# Each case: the fields changed, the codec's reason, what the jobs DB write raises.
FORCED = [
    pytest.param(
        {"payload": {"a": "x\x00"}}, "unstorable", E.UntranslatableCharacter, id="nul in payload"
    ),
    pytest.param(
        {"payload": {"\x00": 1}}, "unstorable", E.UntranslatableCharacter, id="nul in payload key"
    ),
    pytest.param(
        {"origin": ["\x00"]}, "unstorable", E.UntranslatableCharacter, id="nul in extra field"
    ),
    pytest.param({"type": "a\x00"}, "unstorable", NUL_TEXT, id="nul in type"),
    pytest.param({"key": "k\x00"}, "unstorable", NUL_TEXT, id="nul in key"),
    pytest.param({"queue": "\x00"}, "unstorable", NUL_TEXT, id="nul in queue"),
    pytest.param(
        {"payload": ["\ud800"]},
        "unstorable",
        E.InvalidTextRepresentation,
        id="surrogate in payload",
    ),
    pytest.param(
        {"origin": {"x": "\udfff"}},
        "unstorable",
        E.InvalidTextRepresentation,
        id="surrogate in extra field",
    ),
    pytest.param({"type": "\ud800"}, "unstorable", UnicodeEncodeError, id="surrogate in type"),
    pytest.param(
        {"payload": [float("nan")]}, "not_json", E.InvalidTextRepresentation, id="NaN in payload"
    ),
    pytest.param(
        {"origin": float("inf")},
        "not_json",
        E.InvalidTextRepresentation,
        id="infinity in extra field",
    ),
    pytest.param(
        {"key": incompressible(4 * MAX_KEY_BYTES)},
        "out_of_range",
        E.ProgramLimitExceeded,
        id="key over the index limit",
    ),
    pytest.param(
        {"priority": 2**15}, "out_of_range", E.NumericValueOutOfRange, id="priority over smallint"
    ),
    pytest.param(
        {"max_attempts": 2**31},
        "out_of_range",
        E.NumericValueOutOfRange,
        id="max_attempts over integer",
    ),
    pytest.param(
        {"plugin_config_id": 2**63},
        "out_of_range",
        E.NumericValueOutOfRange,
        id="plugin config id over bigint",
    ),
    pytest.param(
        {"team_id": 2**63}, "out_of_range", E.NumericValueOutOfRange, id="team id over bigint"
    ),
    # Not PostgreSQL's limits but the store's writer's: Python's int-to-text limit and
    # datetime's last year (timestamptz itself goes to the year 294276).
    pytest.param(
        {"payload": 10**MAX_INT_DIGITS}, "unstorable", ValueError, id="integer of too many digits"
    ),
    pytest.param(
        {"timestamp": MAX_TIMESTAMP_MS + 1000},
        "out_of_range",
        ValueError,
        id="timestamp after 9999",
    ),
]


def forced(changes: dict[str, Any]) -> JobMessage:
    """A JobMessage built without validation, as if the codec had let it through."""
    return JobMessage.model_construct(**{**VALID, **changes})


def wire_fields(changes: dict[str, Any]) -> dict[str, Any]:
    names = {"plugin_config_id": "pluginConfigId", "team_id": "pluginConfigTeam"}
    names |= {"key": "jobKey", "key_mode": "jobKeyMode", "max_attempts": "maxAttempts"}
    return {names.get(k, k): v for k, v in {**VALID, **changes}.items()}


@pytest.mark.parametrize(("changes", "reason", "raised"), FORCED)
def test_the_codec_refuses_each_value_the_jobs_db_cannot_store(
    changes: dict[str, Any], reason: str, raised: Any
) -> None:
    with pytest.raises(InvalidJob) as info:
        validate_fields(wire_fields(changes))
    assert info.value.reason == reason


@pytest.mark.parametrize(("changes", "reason", "raised"), FORCED)
async def test_each_refused_value_forced_past_the_codec_fails_the_jobs_db_write(
    jobs_db: JobsDB, changes: dict[str, Any], reason: str, raised: Any
) -> None:
    with pytest.raises(raised):
        await jobs_db.insert_jobs([forced(changes)])
    assert await jobs_db.insert_jobs([forced({})]) == 1  # the pool survives it


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT '1e1000000'::jsonb", psycopg.errors.NumericValueOutOfRange),
        ("SELECT '1e-16384'::jsonb", psycopg.errors.NumericValueOutOfRange),
        ('SELECT \'{"a": "\\u0000"}\'::jsonb', psycopg.errors.UntranslatableCharacter),
        ("SELECT '[\"\\ud800\"]'::jsonb", psycopg.errors.InvalidTextRepresentation),
        ("SELECT chr(0)", psycopg.errors.ProgramLimitExceeded),
        (
            "SELECT convert_from('\\xeda080'::bytea, 'UTF8')",
            psycopg.errors.CharacterNotInRepertoire,
        ),
        ("SELECT '294277-01-01 00:00:00+00'::timestamptz", psycopg.errors.DatetimeFieldOverflow),
    ],
)
def test_postgresql_itself_refuses_what_the_codec_refuses(
    services_env: dict[str, str], sql: str, error: type[Exception]
) -> None:
    with psycopg.connect(services_env["JOBLINE_JOBS_DATABASE_URL"]) as conn, pytest.raises(error):
        conn.execute(sql)  # type: ignore[call-overload]


@pytest.mark.parametrize("literal", ["1e1000000", "1e-1000000", "1e131072"])
def test_a_number_postgresql_cannot_hold_never_reaches_it(literal: str) -> None:
    data = (
        '{"type": "t", "timestamp": 1, "pluginConfigId": 1, "pluginConfigTeam": 1, '
        f'"payload": [{literal}]}}'
    ).encode()
    try:
        job = decode_job(data)
    except InvalidJob as exc:
        assert exc.reason == "not_json"
    else:  # underflow: the parser's double is 0.0, which PostgreSQL stores
        assert job.payload == [0.0]

"""Jobs the jobs DB refuses: found by splitting the batch, dead-lettered, the rest stored."""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg
import pytest

from jobline import JobMessage
from jobline.config import Settings
from jobline.store import IntakeBatchWrite, IntakeEntry, JobsDB, OffsetRange
from jobline.store.rows import RefusedJob

from .helpers import scalar

GROUP, TOPIC = "g", "t"


def _job(
    n: int, *, text: str = "ok", job_type: str = "record", key: str | None = None
) -> JobMessage:
    job = JobMessage.create(type="record", payload={"n": n}, plugin_config_id=1, team_id=1)
    # Set after validation: the codec may refuse such values itself, the store must too.
    return job.model_copy(update={"payload": {"n": n, "s": text}, "type": job_type, "key": key})


def _incompressible_key(chars: int) -> str:
    # 4 UTF-8 bytes each, no repeats for pglz to fold: over a btree entry's 2,704 bytes.
    return "".join(chr(0x20000 + (n * 7919) % 40000) for n in range(chars))


def _entries(jobs: Sequence[JobMessage]) -> list[IntakeEntry]:
    return [IntakeEntry(0, offset, job) for offset, job in enumerate(jobs)]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[RefusedJob]] = []

    async def __call__(self, refused: Sequence[RefusedJob]) -> None:
        self.calls.append(list(refused))


async def test_refused_jobs_are_handed_over_and_the_others_stored_with_the_offsets(
    jobs_db: JobsDB, settings: Settings
) -> None:
    jobs = [_job(n) for n in range(12)]
    jobs[3] = _job(3, text="a\u0000b")  # PostgreSQL: 22P05, no NUL in jsonb text
    jobs[6] = _job(6, key=_incompressible_key(1000))  # 54000: over the key index's limit
    jobs[8] = _job(8, job_type="re\u0000cord")  # psycopg: no NUL in a text parameter
    await jobs_db.ensure_offsets(GROUP, TOPIC, [0])
    dead_letter = Recorder()
    result = await jobs_db.persist_intake_batch(
        IntakeBatchWrite(GROUP, TOPIC, _entries(jobs), [OffsetRange(0, 0, 12)], dead_letter, 10.0)
    )
    assert result.persisted == 9
    refused = [(r.offset, r.sqlstate) for r in result.refused]
    assert refused == [(3, "22P05"), (6, "54000"), (8, "client")]
    assert "\\u0000" in result.refused[0].error
    assert result.splits >= 3
    assert dead_letter.calls == [list(result.refused)]
    schema = settings.schema_name
    url = settings.jobs_database_url
    stored = scalar(url, f"SELECT array_agg((payload->>'n')::int ORDER BY id) FROM {schema}.jobs")
    assert stored == [n for n in range(12) if n not in (3, 6, 8)]
    assert scalar(url, f"SELECT next_offset FROM {schema}.intake_offsets") == 12


async def test_a_batch_of_only_refused_jobs_still_stores_its_offsets(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.ensure_offsets(GROUP, TOPIC, [0])
    jobs = [_job(n, text="\u0000") for n in range(5)]
    result = await jobs_db.persist_intake_batch(
        IntakeBatchWrite(GROUP, TOPIC, _entries(jobs), [OffsetRange(0, 0, 5)], Recorder(), 10.0)
    )
    assert (result.persisted, len(result.refused)) == (0, 5)
    url, schema = settings.jobs_database_url, settings.schema_name
    assert scalar(url, f"SELECT count(*) FROM {schema}.jobs") == 0
    assert scalar(url, f"SELECT next_offset FROM {schema}.intake_offsets") == 5


async def test_nothing_is_committed_when_the_dead_letter_write_fails(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.ensure_offsets(GROUP, TOPIC, [0])

    async def dlq_down(_refused: Sequence[RefusedJob]) -> None:
        raise ConnectionError("DLQ down")

    jobs = [_job(0), _job(1, text="\u0000"), _job(2)]
    with pytest.raises(ConnectionError):
        await jobs_db.persist_intake_batch(
            IntakeBatchWrite(GROUP, TOPIC, _entries(jobs), [OffsetRange(0, 0, 3)], dlq_down, 10.0)
        )
    url, schema = settings.jobs_database_url, settings.schema_name
    assert scalar(url, f"SELECT count(*) FROM {schema}.jobs") == 0
    assert scalar(url, f"SELECT next_offset FROM {schema}.intake_offsets") == -1


async def test_a_clean_batch_is_not_split(jobs_db: JobsDB) -> None:
    await jobs_db.ensure_offsets(GROUP, TOPIC, [0])
    result = await jobs_db.persist_intake_batch(
        IntakeBatchWrite(
            GROUP,
            TOPIC,
            _entries([_job(n) for n in range(4)]),
            [OffsetRange(0, 0, 4)],
            Recorder(),
            10.0,
        )
    )
    assert (result.persisted, result.refused, result.splits) == (4, (), 0)


async def test_a_batch_held_up_past_its_statement_timeout_fails_as_an_outage_not_a_refusal(
    jobs_db: JobsDB, settings: Settings
) -> None:
    await jobs_db.ensure_offsets(GROUP, TOPIC, [0])
    dead_letter = Recorder()
    with psycopg.connect(settings.jobs_database_url) as blocker:  # a long transaction
        blocker.execute(f"SELECT * FROM {settings.schema_name}.intake_offsets FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            await jobs_db.persist_intake_batch(
                IntakeBatchWrite(
                    GROUP, TOPIC, _entries([_job(0)]), [OffsetRange(0, 0, 1)], dead_letter, 0.3
                )
            )
        assert time.monotonic() - started < 3
    assert dead_letter.calls == []

"""Collect the pipeline's state from Kafka and the jobs DB, every probe under a deadline.

Kafka and the jobs DB are probed at the same time; within each, probes that need an
earlier answer (partition counts before watermarks, a connection before queries) wait for
it, and are marked "not checked" when it failed. Nothing here writes anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from jobline.config import Settings
from jobline.dburl import CLI_APPLICATION_NAME, DbLimits
from jobline.status.deadline import in_thread, within
from jobline.status.kafka import GroupInfo, KafkaProbe, MessageLimits, TopicInfo, Watermarks
from jobline.status.outcome import Outcome, attempt, skipped
from jobline.store import health
from jobline.store.health import Conn

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where the pipeline lives, and how long each probe may take."""

    kafka_hosts: str
    jobs_db_url: str
    schema: str
    jobs_topic: str
    dlq_topic: str
    group: str
    dead_after_s: float
    probe_timeout_s: float = 2.5
    #: JOBLINE_DB_*: how a connection gets its schema (no `options` behind PgBouncer)
    db_limits: DbLimits = field(default_factory=DbLimits)

    @classmethod
    def from_settings(cls, s: Settings, probe_timeout_s: float = 2.5) -> Target:
        return cls(
            s.kafka_hosts,
            s.jobs_database_url,
            s.schema_name,
            s.jobs_topic,
            s.dlq_topic,
            s.intake_group,
            s.runner_dead_after_s,
            probe_timeout_s,
            DbLimits.from_settings(s, CLI_APPLICATION_NAME),
        )


class Budget:
    """The whole run's time: each probe gets its own deadline, cut to what is left, and a
    probe started after the budget ran out is not started at all."""

    def __init__(self, per_probe_s: float, total_s: float) -> None:
        self.per_probe_s = per_probe_s
        self._ends = time.monotonic() + total_s

    def next_timeout(self) -> float | None:
        left = self._ends - time.monotonic()
        return None if left < 0.2 else min(self.per_probe_s, left)


OUT_OF_TIME = "the run's time budget was used up"


@dataclass
class KafkaState:
    topics: Outcome[dict[str, TopicInfo]] = field(default_factory=Outcome)
    jobs_marks: Outcome[dict[int, Watermarks]] = field(default_factory=Outcome)
    dlq_marks: Outcome[dict[int, Watermarks]] = field(default_factory=Outcome)
    dlq_marks_later: Outcome[dict[int, Watermarks]] = field(default_factory=Outcome)
    group: Outcome[GroupInfo] = field(default_factory=Outcome)
    limits: Outcome[MessageLimits] = field(default_factory=lambda: skipped("not asked"))


@dataclass
class DbState:
    latency: Outcome[float] = field(default_factory=Outcome)
    counts: Outcome[health.PipelineCounts] = field(default_factory=Outcome)
    offsets: Outcome[dict[int, health.StoredOffset]] = field(default_factory=Outcome)
    offsets_later: Outcome[dict[int, health.StoredOffset]] = field(default_factory=Outcome)
    deep: dict[str, Outcome[object]] = field(default_factory=dict)


@dataclass
class Snapshot:
    target: Target
    taken_at: float
    window_s: float
    kafka: KafkaState
    db: DbState


def dlq_size(marks: Outcome[dict[int, Watermarks]]) -> int | None:
    if marks.value is None:
        return None
    return sum(max(0, w.high - w.low) for w in marks.value.values())


# One AdminClient per (hosts, timeout) for the life of the process: `status --watch` reuses
# it, and it is never destroyed mid-run, because destroying a client whose broker hangs
# blocks until librdkafka's socket timeouts (the CLI leaves with os._exit instead).
_PROBES: dict[tuple[str, float], KafkaProbe] = {}


def _probe(target: Target) -> KafkaProbe:
    key = (target.kafka_hosts, target.probe_timeout_s)
    if key not in _PROBES:
        _PROBES[key] = KafkaProbe(*key)
    return _PROBES[key]


async def _kafka(target: Target, window_s: float, deep: bool, budget: Budget) -> KafkaState:
    state = KafkaState()
    probe = _probe(target)

    async def run(what: str, fn: Callable[[], T]) -> Outcome[T]:
        timeout = budget.next_timeout()
        if timeout is None:
            return skipped(OUT_OF_TIME)
        return await attempt(lambda: in_thread(what, timeout, fn))

    names = [target.jobs_topic, target.dlq_topic]
    state.topics = await run("Kafka metadata", lambda: probe.topics(names))
    if state.topics.value is None:
        reason = f"Kafka at {target.kafka_hosts} did not answer"
        state.jobs_marks = state.dlq_marks = state.dlq_marks_later = skipped(reason)
        state.group = skipped(reason)
        state.limits = skipped(reason)
        return state
    topics = state.topics.value
    n_jobs, n_dlq = topics[target.jobs_topic].partitions, topics[target.dlq_topic].partitions
    started = time.monotonic()
    jobs_marks = run("jobs watermarks", lambda: probe.watermarks(target.jobs_topic, n_jobs))
    dlq_marks = run("DLQ watermarks", lambda: probe.watermarks(target.dlq_topic, n_dlq))
    group = run("intake group", lambda: probe.group(target.group))
    limits: Awaitable[Outcome[MessageLimits]] = (
        run("message limits", lambda: probe.message_limits(target.jobs_topic))
        if deep and n_jobs
        else attempt(_skip("not asked"))
    )
    state.jobs_marks, state.dlq_marks, state.group, state.limits = await asyncio.gather(
        jobs_marks, dlq_marks, group, limits
    )
    if window_s > 0 and state.dlq_marks.ok:
        await asyncio.sleep(max(0.0, window_s - (time.monotonic() - started)))
        state.dlq_marks_later = await run(
            "DLQ watermarks", lambda: probe.watermarks(target.dlq_topic, n_dlq)
        )
    return state


def _skip(reason: str) -> Callable[[], Awaitable[MessageLimits]]:
    async def fail() -> MessageLimits:
        raise RuntimeError(f"not checked: {reason}")

    return fail


class DbSession:
    """One connection; each query under its own deadline; after a timeout the connection
    is left alone (it may be stuck mid-query) and later queries are marked not checked."""

    def __init__(self, target: Target, budget: Budget) -> None:
        self._target = target
        self._budget = budget
        self._conn: Conn | None = None
        self._broken: str | None = None

    async def open(self) -> Outcome[float]:
        t = self._target
        started = time.monotonic()

        async def connect() -> float:
            conn = await within(
                "jobs DB connect",
                t.probe_timeout_s,
                health.connect(t.jobs_db_url, t.schema, t.probe_timeout_s, t.db_limits),
            )
            self._conn = conn
            await within("jobs DB SELECT 1", t.probe_timeout_s, conn.execute("SELECT 1"))
            return time.monotonic() - started

        outcome = await attempt(connect)
        if not outcome.ok:
            self._broken = "the jobs DB did not answer"
        return outcome

    async def run(self, what: str, query: Callable[[Conn], Awaitable[T]]) -> Outcome[T]:
        if self._broken is not None or self._conn is None:
            return skipped(self._broken or "no connection")
        conn, timeout = self._conn, self._budget.next_timeout()
        if timeout is None:
            return skipped(OUT_OF_TIME)
        outcome = await attempt(lambda: within(what, timeout, query(conn)))
        if outcome.error is not None and "does not exist" in outcome.error:
            outcome = Outcome(
                error=f"{outcome.error} (schema {self._target.schema!r} not migrated? "
                "run `jobline migrate`)",
                elapsed_s=outcome.elapsed_s,
            )
        if outcome.timed_out:
            self._broken = f"an earlier query ({what}) timed out"
        return outcome

    def close(self) -> None:
        # A stuck connection's close could wait on the server: it is dropped with the
        # process instead (the CLI exits right after).
        if self._conn is not None and self._broken is None:
            asyncio.ensure_future(self._conn.close())  # noqa: RUF006 - best effort


DeepProbes = Callable[[DbSession], Awaitable[dict[str, Outcome[object]]]]


async def _db(target: Target, window_s: float, deep: DeepProbes | None, budget: Budget) -> DbState:
    state = DbState()
    session = DbSession(target, budget)
    started = time.monotonic()
    state.latency = await session.open()
    t = target
    state.counts = await session.run(
        "queue counts", lambda c: health.pipeline_counts(c, t.dead_after_s)
    )
    state.offsets = await session.run(
        "stored offsets", lambda c: health.stored_offsets(c, t.group, t.jobs_topic)
    )
    if deep is not None:
        state.deep = await deep(session)
    if window_s > 0 and state.offsets.ok:
        await asyncio.sleep(max(0.0, window_s - (time.monotonic() - started)))
        state.offsets_later = await session.run(
            "stored offsets", lambda c: health.stored_offsets(c, t.group, t.jobs_topic)
        )
    session.close()
    return state


async def collect(
    target: Target,
    *,
    window_s: float = 0.0,
    deep: DeepProbes | None = None,
    budget_s: float = 8.0,
) -> Snapshot:
    """Kafka and the jobs DB side by side; `window_s` > 0 reads the moving parts twice;
    `deep` asks the jobs DB the doctor's extra questions on the same connection. No probe
    starts after `budget_s`, none runs past it."""
    taken_at = time.time()
    budget = Budget(target.probe_timeout_s, budget_s)
    kafka, db = await asyncio.gather(
        _kafka(target, window_s, deep is not None, budget),
        _db(target, window_s, deep, budget),
    )
    return Snapshot(target, taken_at, window_s, kafka, db)

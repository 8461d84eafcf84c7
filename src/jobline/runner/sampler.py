"""SamplerService: the jobs DB's and the topic's state as gauges, from ONE elected process.

Every runner process runs a sampler, but only the one holding a session advisory lock on
its own dedicated connection samples: N pods do not each count the jobs table. When that
process dies its connection closes, the lock is free, and the next sampler to try takes
over within one interval. The others export `jobline_sampler_leader 0` and no samples, so
alert rules aggregate with max() across pods.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.metrics import (
    INTAKE_PARTITION_LAG,
    INTAKE_PARTITION_STORED_OFFSET,
    JOBS_DB_CONNECTIONS_LIMIT,
    JOBS_DB_CONNECTIONS_USED,
    QUEUE_JOBS,
    QUEUE_JOBS_STATES,
    QUEUE_OLDEST_DUE_AGE,
    RUNNERS_LIVE,
    SAMPLER_LEADER,
)
from jobline.service import Service, ServiceStatus
from jobline.status.deadline import in_thread, within
from jobline.status.kafka import KafkaProbe
from jobline.store import JobsDB, health
from jobline.store.health import Conn

log = get_logger("jobline.sampler")


@dataclass(frozen=True)
class IntakeWatch:
    """The topic and group whose lag the sampler measures (Kafka intake only)."""

    kafka_hosts: str
    topic: str
    group: str


class SamplerService(Service):
    """Reads the jobs DB's state for /metrics. A failed sample is logged, never fatal."""

    name = "sampler"

    def __init__(
        self,
        jobs_db: JobsDB,
        *,
        interval_s: float,
        dead_after_s: float,
        intake: IntakeWatch | None = None,
    ) -> None:
        super().__init__()
        # The election lock is session state: on the direct URL, never through a pooler
        # (PgBouncer in transaction mode would hand the locked session to other clients).
        self._url, self._schema = jobs_db.direct_url, jobs_db.schema
        self._limits = jobs_db.limits
        self._interval_s = interval_s
        self._dead_after_s = dead_after_s
        self._intake = intake
        self._timeout_s = max(1.0, min(5.0, interval_s / 2))
        self._conn: Conn | None = None
        self._kafka: KafkaProbe | None = None
        self._last_error: str | None = None
        self.leader = False

    async def _main(self) -> None:
        SAMPLER_LEADER.set(0)
        while not self.stopping:
            try:
                await self._sample_once()
            except Exception as exc:
                self._last_error = error_text(exc, self._url)
                log.warning("sampler.failed", error=self._last_error, leader=self.leader)
                await self._drop_connection()
            else:
                self._last_error = None
            await self.sleep_unless_stopping(self._interval_s)

    async def _close(self, grace_s: float) -> None:
        await self._drop_connection()

    async def _sample_once(self) -> None:
        conn = await self._connection()
        if not self.leader:
            self.leader = await within(
                "sampler lock", self._timeout_s, health.try_sampler_lock(conn, self._schema)
            )
            if self.leader:
                log.info("sampler.elected", schema=self._schema)
        SAMPLER_LEADER.set(1 if self.leader else 0)
        if not self.leader:
            return
        await self._sample_jobs_db(conn)
        if self._intake is not None:
            try:
                await self._sample_lag(conn, self._intake)
            except Exception as exc:  # Kafka trouble: keep the lock, drop the stale lag
                INTAKE_PARTITION_LAG.clear()
                log.warning("sampler.lag_failed", error=" ".join(str(exc).split()))

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await within(
                "sampler connect",
                self._timeout_s,
                health.connect(self._url, self._schema, self._timeout_s, self._limits),
            )
            self.leader = False  # a new session holds no lock yet
        return self._conn

    async def _drop_connection(self) -> None:
        # Losing the connection loses the lock: stop exporting samples another process
        # now owns, so max() across pods never picks up a stale value.
        if self.leader:
            log.info("sampler.resigned", schema=self._schema)
        self.leader = False
        SAMPLER_LEADER.set(0)
        INTAKE_PARTITION_LAG.clear()
        INTAKE_PARTITION_STORED_OFFSET.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await within("sampler close", 1.0, conn.close())

    async def _sample_jobs_db(self, conn: Conn) -> None:
        t = self._timeout_s
        counts = await within("queue counts", t, health.pipeline_counts(conn, self._dead_after_s))
        for state in QUEUE_JOBS_STATES:
            QUEUE_JOBS.labels(state).set(getattr(counts, state))
        QUEUE_OLDEST_DUE_AGE.set(counts.oldest_due_age_s)
        RUNNERS_LIVE.set(counts.live_runners)
        connections = await within("connections", t, health.connections(conn))
        JOBS_DB_CONNECTIONS_USED.set(connections.used)
        JOBS_DB_CONNECTIONS_LIMIT.set(connections.usable)

    async def _sample_lag(self, conn: Conn, intake: IntakeWatch) -> None:
        t = self._timeout_s
        if self._kafka is None:
            self._kafka = KafkaProbe(intake.kafka_hosts, t)
        kafka = self._kafka
        topics = await in_thread("Kafka metadata", t + 1, lambda: kafka.topics([intake.topic]))
        partitions = topics[intake.topic].partitions
        marks = await in_thread(
            "watermarks", t + 1, lambda: kafka.watermarks(intake.topic, partitions)
        )
        stored = await within(
            "stored offsets", t, health.stored_offsets(conn, intake.group, intake.topic)
        )
        for p, mark in marks.items():
            offset = stored[p].next_offset if p in stored else -1
            start = offset if offset >= 0 else mark.low
            INTAKE_PARTITION_LAG.labels(str(p)).set(max(0, mark.high - start))
            INTAKE_PARTITION_STORED_OFFSET.labels(str(p)).set(offset)

    def status(self) -> ServiceStatus:
        # Metrics only: a failing sample never makes the process unready.
        role = "leader" if self.leader else "standby"
        return ServiceStatus(True, self._last_error or f"sampling ({role})")

"""Fault harness: real triggers through real Kafka and PostgreSQL to `jobline serve --mode
jobs` subprocesses, and the count of what became of each acknowledged trigger.

Every trigger carries a unique `n`; the recorder plugin writes one row per run. A job is
lost when its trigger was acknowledged and it never ran; it ran twice when two runs of it
succeeded. A trigger refused with IntakeUnavailable is the caller's to retry: it may run,
but it is never counted as lost.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from jobline import IntakeUnavailable, JobMessage, Jobs
from jobline.config import Settings
from tests.integration.helpers import ServeProcess, add_config, wait_until

RESULTS: list[Result] = []
HEADER = ("scenario", "load", "lost", "twice", "failed", "recovery s")


@dataclass(frozen=True)
class Result:
    scenario: str
    acknowledged: int
    refused: int
    ran_once: int
    twice: int
    lost: int
    failed: int
    recovery_s: float | None

    def row(self) -> tuple[str, ...]:
        load = f"{self.acknowledged} acked"
        if self.refused:
            load += f", {self.refused} refused"
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f}"
        return (self.scenario, load, str(self.lost), str(self.twice), str(self.failed), recovery)


def table(results: list[Result]) -> str:
    """The suite's table, as markdown (docs/reliability.md holds a real run's output)."""
    rows = [HEADER, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def query(url: str, sql: str) -> list[tuple[Any, ...]] | None:
    """Rows of `sql`, or None while the database does not answer (a fault is on)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            return conn.execute(sql).fetchall()
    except psycopg.Error:
        return None


@dataclass
class Load:
    """Triggers `batch` jobs every `every_s` from a thread until stopped."""

    jobs: Jobs
    config_id: int
    job_type: str = "record"
    payload: dict[str, Any] = field(default_factory=dict)
    batch: int = 10
    every_s: float = 0.1
    acknowledged: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def messages(self, count: int, in_s: float = 0) -> tuple[list[int], list[JobMessage]]:
        numbers = [next(self._numbers) for _ in range(count)]
        run_at = datetime.now(UTC) + timedelta(seconds=in_s)
        return numbers, [
            JobMessage.create(
                type=self.job_type,
                payload={**self.payload, "n": n},
                plugin_config_id=self.config_id,
                team_id=42,
                run_at=run_at,
            )
            for n in numbers
        ]

    def trigger(self, count: int, in_s: float = 0) -> list[int]:
        """Trigger `count` jobs due in `in_s`; the numbers of those Kafka acknowledged."""
        numbers, messages = self.messages(count, in_s)
        try:
            self.jobs.send(messages)
        except IntakeUnavailable:
            self.refused.update(numbers)
            return []
        self.acknowledged.update(numbers)
        return numbers

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.trigger(self.batch)

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._loop, name="fault-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)


class Scenario:
    """One scenario: its plugin config, servers, load, and its line in the table."""

    def __init__(self, name: str, env: dict[str, str], settings: Settings, runs_table: str):
        self.name = name
        self.env = env
        self.settings = settings
        self.runs_table = runs_table
        self.config_id = add_config(env)
        self.jobs = Jobs.from_settings(settings)
        self.load = Load(self.jobs, self.config_id)
        self.servers: list[ServeProcess] = []

    def serve(self, count: int = 1, **extra_env: str) -> list[ServeProcess]:
        started = [ServeProcess({**self.env, **extra_env}, "--mode", "jobs") for _ in range(count)]
        for server in started:
            server.wait_ready()
        self.servers.extend(started)
        return started

    def runs(self) -> dict[int, int] | None:
        """Successful runs per job number, or None while the database is down."""
        rows = query(
            self.env["JOBLINE_DATABASE_URL"],
            f"SELECT n, count(*) FROM {self.runs_table} WHERE outcome = 'ok' GROUP BY n",
        )
        return None if rows is None else {int(n): int(c) for n, c in rows if n is not None}

    def wait_ran(self, numbers: set[int], timeout_s: float) -> None:
        def all_ran() -> bool:
            runs = self.runs()
            return runs is not None and numbers <= runs.keys()

        wait_until(all_ran, timeout_s, f"{self.name}: not every acknowledged job ran", 0.25)

    def recovery(self, healed_at: float, timeout_s: float = 120) -> float:
        """Seconds from `healed_at` until a job triggered after it has run."""
        deadline = time.monotonic() + timeout_s
        numbers: list[int] = []
        while not numbers and time.monotonic() < deadline:
            numbers = self.load.trigger(1)
        assert numbers, (
            f"{self.name}: Kafka refused every trigger for {timeout_s} s after the fault"
        )
        self.wait_ran(set(numbers), deadline - time.monotonic())
        return time.monotonic() - healed_at

    def longest_pause_s(self) -> float:
        """The longest time between two successive runs: proof that a fault was felt."""
        rows = query(
            self.env["JOBLINE_DATABASE_URL"],
            "SELECT coalesce(extract(epoch FROM max(gap)), 0) FROM (SELECT at - lag(at) "
            f"OVER (ORDER BY at) AS gap FROM {self.runs_table}) AS gaps",
        )
        return float(rows[0][0]) if rows else 0.0

    def queued(self) -> int:
        """Rows in the jobs table (queued, running, or waiting for a retry); -1 while the
        database does not answer."""
        rows = query(
            self.settings.jobs_database_url,
            f"SELECT count(*) FROM {self.settings.schema_name}.jobs",
        )
        return int(rows[0][0]) if rows else -1

    def failed(self) -> int:
        rows = query(
            self.settings.jobs_database_url,
            f"SELECT count(*) FROM {self.settings.schema_name}.failed_jobs",
        )
        return int(rows[0][0]) if rows else -1

    def finish(self, recovery_s: float | None, settle_s: float = 90) -> Result:
        """Stop the load, wait for every acknowledged job (up to `settle_s`), count, record."""
        self.load.stop()
        acked = set(self.load.acknowledged)
        deadline = time.monotonic() + settle_s
        with contextlib.suppress(AssertionError):  # what did not run is counted as lost
            self.wait_ran(acked, settle_s)
            # A second run (a rescued job whose first runner lives on) ends later than the
            # first: count once the jobs table is empty, when nothing can run any more.
            wait_until(lambda: self.queued() == 0, deadline - time.monotonic(), "", 0.25)
        runs = self.runs() or {}
        result = Result(
            scenario=self.name,
            acknowledged=len(acked),
            refused=len(self.load.refused),
            ran_once=sum(1 for n in acked if runs.get(n) == 1),
            twice=sum(1 for count in runs.values() if count > 1),
            lost=len(acked - runs.keys()),
            failed=self.failed(),
            recovery_s=recovery_s,
        )
        RESULTS.append(result)
        return result

    def close(self) -> None:
        self.load.stop()
        for server in self.servers:
            if server.proc.poll() is None:
                server.kill()
        self.jobs.close()


def watch(predicate: Callable[[], bool], every_s: float = 0.2) -> tuple[threading.Event, list[str]]:
    """Sample `predicate` from a thread until the returned event is set; failures listed."""
    stop = threading.Event()
    failures: list[str] = []

    def loop() -> None:
        while not stop.wait(every_s):
            if not predicate():
                failures.append(time.strftime("%H:%M:%S"))

    threading.Thread(target=loop, name="fault-watch", daemon=True).start()
    return stop, failures

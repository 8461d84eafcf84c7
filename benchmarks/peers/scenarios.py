"""The peer scenarios: run throughput (with peak RSS) and trigger -> handler-start latency."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import psycopg

from benchmarks.peers.procs import Proc, wait_until
from benchmarks.peers.systems import Round, System

WARM_UP = 20  # first triggers, not counted: connections, group join, cold Kafka partitions


Prefill = Callable[[Round], None]


def run_throughput(
    system: System, n: int, timeout_s: float, prefill: Prefill | None = None
) -> dict[str, float]:
    """n jobs queued, then system.processes runners started; time to the jobs table empty.

    `prefill` (scenario 4) puts other jobs into the table first, untimed (a million
    scheduled for tomorrow, a deep named queue whose head runs); the table is then vacuumed
    and analyzed, as a table that has held them for a while would be, and only the n jobs
    queued after them (ids above the prefill's) are counted.
    """
    with system.round() as rnd, psycopg.connect(system.db_url, autocommit=True) as conn:
        count_sql, started_sql = rnd.count_sql, rnd.started_sql
        if prefill is not None:
            prefill(rnd)
            conn.execute(f"VACUUM (ANALYZE) {rnd.table}")
            floor = _one(conn, rnd.max_id_sql)
            count_sql, started_sql = rnd.count_above_sql(floor), rnd.started_above_sql(floor)
        t0 = time.perf_counter()
        system.queue(rnd, n)
        queue_s = time.perf_counter() - t0

        def left() -> int:
            return _one(conn, count_sql)

        def started() -> bool:
            return bool(_one(conn, started_sql)) or left() < n

        if left() != n:
            raise RuntimeError(f"{system.name}: expected {n} queued jobs, found {left()}")
        procs = system.workers(rnd, system.processes, latency=False)
        try:
            t_spawn = time.perf_counter()
            # The first job taken: cheap index lookups, every 10 ms. Then count(*) every
            # 50 ms (on 100,000 rows it costs PostgreSQL a few ms: not more often).
            t_first = wait_until("first job taken", started, procs, timeout_s)
            samples: list[tuple[float, int]] = []

            def empty() -> bool:
                samples.append((time.perf_counter(), left()))
                return samples[-1][1] == 0

            t_empty = wait_until("all jobs done", empty, procs, timeout_s, 0.05)
            rss = [p.peak_rss_mib() for p in procs]
        finally:
            for proc in procs:
                proc.stop()
    return {
        "run_rate": n / (t_empty - t_first),
        "wall_rate": n / (t_empty - t_spawn),
        "start_s": t_first - t_spawn,
        "queue_rate": n / queue_s,
        "peak_rss_mib": max(rss),
        "max_stall_s": longest_stall(samples),
    }


def _one(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> int:
    row = conn.execute(sql.encode()).fetchone()
    if row is None or not isinstance(row[0], int):  # bool is an int too (EXISTS)
        raise RuntimeError(f"no number from {sql}: {row}")
    return row[0]


def longest_stall(samples: list[tuple[float, int]]) -> float:
    """The longest time the count of jobs left did not move (runners parked?)."""
    longest, since = 0.0, samples[0] if samples else (0.0, 0)
    for t, count in samples:
        if count != since[1]:
            since = (t, count)
        longest = max(longest, t - since[0])
    return longest


def latencies(procs: list[Proc]) -> list[float]:
    return [
        float(line.split()[1])
        for proc in procs
        for line in proc.output().splitlines()
        if line.startswith("lat ")
    ]


def run_latency(
    system: System, k: int, gap_ms: float, timeout_s: float, intake: str = ""
) -> dict[str, float]:
    """k sequential triggers, gap_ms apart, to one idle runner: trigger call -> handler start."""
    with system.round() as rnd:
        if intake:
            rnd.extra["intake"] = intake
        procs = system.workers(rnd, 1, latency=True)
        try:
            wait_until(f"{system.name} ready", lambda: system.ready(procs), procs, 60)
            for want in (WARM_UP, WARM_UP + k):
                system.trigger(rnd, want - len(latencies(procs)), gap_ms)
                wait_until(
                    f"{want} jobs started",
                    lambda w=want: len(latencies(procs)) >= w,
                    procs,
                    timeout_s,
                )
            samples = sorted(latencies(procs)[WARM_UP:])
        finally:
            for proc in procs:
                proc.stop()
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))],
        "max_ms": samples[-1],
    }

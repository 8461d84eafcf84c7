"""Scenario `queued`: N jobs inserted while no server runs, then one server runs them."""

from __future__ import annotations

import asyncio
import statistics
import time

import psycopg

from benchmarks.environment import COUNT_POLL_S, FAST_POLL_S
from benchmarks.isolated import RunContext, chunks, make_jobs
from benchmarks.measuring import CpuSnap, RunResult, cpu_share, cpu_snap
from benchmarks.server import ServerProcess, finish
from jobline.store import JobsDB


def run_queued(ctx: RunContext, n: int, chunk: int, timeout_s: float) -> RunResult:
    settings = ctx.settings()
    jobs = make_jobs(n, ctx.config_id)

    async def insert_all() -> float:
        db = JobsDB(ctx.jobs_url, ctx.schema, max_size=2)
        await db.open()
        try:
            started = time.perf_counter()
            for part in chunks(jobs, chunk):
                await db.insert_jobs(part)
            return time.perf_counter() - started
        finally:
            await db.close()

    insert_s = asyncio.run(insert_all())
    conn = psycopg.connect(ctx.jobs_url, autocommit=True)
    try:
        jobs_table = f"{ctx.schema}.jobs"
        row = conn.execute(f"SELECT count(*), min(id) FROM {jobs_table}").fetchone()
        assert row is not None and int(row[0]) == n, f"expected {n} queued jobs, found {row}"
        first_id = int(row[1])
        # Cheap index lookups: has any job been taken (locked) or the first one gone?
        started_q = (
            f"SELECT EXISTS (SELECT 1 FROM {jobs_table} WHERE locked_by IS NOT NULL)"
            f" OR NOT EXISTS (SELECT 1 FROM {jobs_table} WHERE id = %s)"
        )
        count_q = f"SELECT count(*) FROM {jobs_table}"

        server = ServerProcess(ctx)
        try:
            t_spawn = server.start()
            snap_spawn = cpu_snap(server.pid)
            t_ready: float | None = None
            t_first: float | None = None
            t_empty: float | None = None
            snap_first: CpuSnap | None = None
            snap_empty: CpuSnap | None = None
            next_ready_check = t_spawn
            next_count = 0.0
            remaining = n
            samples: list[tuple[float, int]] = []
            count_query_s: list[float] = []
            deadline = t_spawn + timeout_s
            while True:
                now = time.perf_counter()
                server.check_alive()
                if now > deadline:
                    raise TimeoutError(
                        f"queued: {remaining} of {n} jobs still in the table after "
                        f"{timeout_s:g} s; log {ctx.log_path}"
                    )
                if t_ready is None and now >= next_ready_check:
                    if server.ready():
                        t_ready = time.perf_counter()
                    next_ready_check = now + 0.05
                if t_first is None:
                    r = conn.execute(started_q, (first_id,)).fetchone()
                    if r and r[0]:
                        t_first = time.perf_counter()
                        snap_first = cpu_snap(server.pid)
                        next_count = t_first + COUNT_POLL_S
                    time.sleep(FAST_POLL_S)
                    continue
                if now >= next_count:
                    q_started = time.perf_counter()
                    r = conn.execute(count_q).fetchone()
                    remaining = int(r[0]) if r else -1
                    count_query_s.append(time.perf_counter() - q_started)
                    samples.append((time.perf_counter(), remaining))
                    if remaining == 0 and t_empty is None:
                        t_empty = time.perf_counter()
                        snap_empty = cpu_snap(server.pid)
                    next_count = now + COUNT_POLL_S
                if t_empty is not None and t_ready is not None:
                    break
                time.sleep(FAST_POLL_S if t_ready is None else COUNT_POLL_S / 4)
            assert snap_first is not None and snap_empty is not None
            failed, _, notes, code, stop_s = finish(server, ctx, n, settings.shutdown_grace_s)
        except BaseException:
            server.stop_after_failure()
            raise
    finally:
        conn.close()
    counts, other = server.log_findings()
    run_cpu = cpu_share(snap_first, snap_empty)
    run_s = t_empty - t_first
    wall_s = t_empty - t_spawn
    # Throughput per quarter of the queue (from the 0.2 s samples): does it decay?
    quarters: dict[str, float] = {}
    t_prev = t_first
    for k in range(1, 5):
        left = n - k * n // 4
        t_k = next(t for t, remaining in samples if remaining <= left)
        quarters[f"q{k}_rate"] = (n // 4) / max(t_k - t_prev, 1e-9)
        t_prev = t_k
    return RunResult(
        scenario="queued",
        n=n,
        figures={
            "insert_s": insert_s,
            "insert_rate": n / insert_s,
            "spawn_to_ready_s": t_ready - t_spawn,
            "spawn_to_first_run_s": t_first - t_spawn,
            "run_s": run_s,
            "run_rate": n / run_s,
            "wall_s": wall_s,
            "wall_rate": n / wall_s,
            **quarters,
            "count_poll_ms": 1000 * statistics.mean(count_query_s),
            "server_us_per_job": 1e6 * run_cpu["server"] * run_s / n,
            "postgres_us_per_job": 1e6 * run_cpu["postgres"] * run_s / n,
        },
        cpu={"run": run_cpu, "wall": cpu_share(snap_spawn, snap_empty)},
        failed_jobs=failed,
        exit_code=code,
        stop_s=stop_s,
        log_counts=counts,
        log_other=other,
        log_path=ctx.log_path,
        notes=notes,
    )

"""Scenario `end to end`: a running server; N jobs sent through Kafka with Jobs.send."""

from __future__ import annotations

import statistics
import threading
import time

import psycopg

from benchmarks.environment import COUNT_POLL_S, PARTITIONS
from benchmarks.isolated import RunContext, chunks, make_jobs
from benchmarks.measuring import CpuSnap, RunResult, cpu_share, cpu_snap, peak_rss_mib
from benchmarks.server import ServerProcess, finish, wait_for
from jobline import Jobs


class Poller(threading.Thread):
    """Polls the jobs table and the intake offsets every 0.2 s from the first send on."""

    def __init__(self, ctx: RunContext, n: int, timeout_s: float, server_pid: int | None):
        super().__init__(name="bench-poller", daemon=True)
        self.ctx, self.n, self.timeout_s, self.server_pid = ctx, n, timeout_s, server_pid
        self.t0 = 0.0
        self.t_persisted: float | None = None
        self.t_done: float | None = None
        self.snap_done: CpuSnap | None = None
        self.max_backlog = 0
        self.samples: list[tuple[float, int, int]] = []  # (s since t0, in table, persisted)
        self.query_s: list[float] = []
        self.error: BaseException | None = None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        ctx = self.ctx
        q = (
            f"SELECT (SELECT count(*) FROM {ctx.schema}.jobs),"
            f" (SELECT coalesce(sum(greatest(next_offset, 0)), 0)"
            f"  FROM {ctx.schema}.intake_offsets WHERE consumer_group = %s AND topic = %s)"
        )
        with psycopg.connect(ctx.jobs_url, autocommit=True) as conn:
            while not self.stop_flag.is_set():
                now = time.perf_counter()
                row = conn.execute(q, (ctx.group, ctx.jobs_topic)).fetchone()
                assert row is not None
                in_table, persisted = int(row[0]), int(row[1])
                t = time.perf_counter()
                self.query_s.append(t - now)
                self.samples.append((t - self.t0, in_table, persisted))
                self.max_backlog = max(self.max_backlog, in_table)
                if persisted >= self.n and self.t_persisted is None:
                    self.t_persisted = t
                if persisted >= self.n and in_table == 0:
                    self.t_done = t
                    self.snap_done = cpu_snap(self.server_pid)
                    return
                if t - self.t0 > self.timeout_s:
                    raise TimeoutError(
                        f"end to end: after {self.timeout_s:g} s, {persisted} of {self.n} "
                        f"persisted and {in_table} still in the table; log {ctx.log_path}"
                    )
                time.sleep(max(0.0, COUNT_POLL_S - (time.perf_counter() - now)))


def run_end_to_end(ctx: RunContext, n: int, chunk: int, timeout_s: float) -> RunResult:
    settings = ctx.settings()
    jobs = make_jobs(n, ctx.config_id)
    server = ServerProcess(ctx)
    producer: Jobs | None = None
    poller: Poller | None = None
    try:
        t_spawn = server.start()
        wait_for("/_ready 200", server.ready, server, 60)
        t_ready = time.perf_counter()

        def assigned() -> bool:
            with psycopg.connect(ctx.jobs_url, autocommit=True) as c:
                row = c.execute(
                    f"SELECT count(*) FROM {ctx.schema}.intake_offsets"
                    " WHERE consumer_group = %s AND topic = %s",
                    (ctx.group, ctx.jobs_topic),
                ).fetchone()
            return bool(row and int(row[0]) >= PARTITIONS)

        # /_ready answers 200 before the intake joined its group; wait for the assignment
        # too, or the group join (a few seconds on a fresh group) would count as throughput.
        wait_for("intake partitions assigned", assigned, server, 60)
        t_assigned = time.perf_counter()
        time.sleep(0.5)  # let the server settle (first fetches, LISTEN) before timing

        producer = Jobs.from_settings(settings)
        poller = Poller(ctx, n, timeout_s, server.pid)
        snap0 = cpu_snap(server.pid)
        poller.t0 = t0 = snap0.t
        poller.start()
        for part in chunks(jobs, chunk):
            producer.send(part)
        t_sent = time.perf_counter()
        snap_sent = cpu_snap(server.pid)
        while poller.is_alive():
            server.check_alive()
            poller.join(0.5)
        if poller.error is not None:
            raise poller.error
        assert poller.t_done is not None and poller.t_persisted is not None
        assert poller.snap_done is not None
        peak_rss = peak_rss_mib(server.pid)  # before the stop: the process is still there
        failed, _, notes, code, stop_s = finish(server, ctx, n, settings.shutdown_grace_s)
    except BaseException:
        if poller is not None:
            poller.stop_flag.set()
        server.stop_after_failure()
        raise
    finally:
        if producer is not None:
            producer.close()
    counts, other = server.log_findings()
    e2e_cpu = cpu_share(snap0, poller.snap_done)
    send_s = t_sent - t0
    persist_s = poller.t_persisted - t0
    e2e_s = poller.t_done - t0
    return RunResult(
        scenario="end to end",
        n=n,
        figures={
            "spawn_to_ready_s": t_ready - t_spawn,
            "spawn_to_assigned_s": t_assigned - t_spawn,
            "send_s": send_s,
            "send_rate": n / send_s,
            "persist_s": persist_s,
            "persist_rate": n / persist_s,
            "e2e_s": e2e_s,
            "e2e_rate": n / e2e_s,
            "max_backlog": float(poller.max_backlog),
            "count_poll_ms": 1000 * statistics.mean(poller.query_s),
            "server_us_per_job": 1e6 * e2e_cpu["server"] * e2e_s / n,
            "postgres_us_per_job": 1e6 * e2e_cpu["postgres"] * e2e_s / n,
            "peak_rss_mib": peak_rss,
        },
        cpu={"sending": cpu_share(snap0, snap_sent), "e2e": e2e_cpu},
        failed_jobs=failed,
        exit_code=code,
        stop_s=stop_s,
        log_counts=counts,
        log_other=other,
        log_path=ctx.log_path,
        notes=notes,
    )

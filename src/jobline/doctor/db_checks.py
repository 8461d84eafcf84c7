"""The jobs DB's checks: reachable and fast, migrated, connections, transactions, vacuum."""

from __future__ import annotations

from typing import Any

from jobline.dburl import redact
from jobline.doctor.model import Action, Check, Stage, Status
from jobline.doctor.options import DoctorOptions
from jobline.sqlfiles import load_migrations
from jobline.status.collect import Snapshot
from jobline.status.outcome import Outcome
from jobline.store import health

DB = Stage.JOBS_DB
ACTIVITY_SQL = (
    "SELECT usename, application_name, client_addr, state, count(*) FROM pg_stat_activity "
    "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC"
)


def db_checks(snap: Snapshot, opts: DoctorOptions) -> list[Check]:
    reach = _reachable(snap, opts)
    if reach.status.rank == 2:
        return [reach]
    deep = snap.db.deep
    return [
        reach,
        _migrations(snap, deep.get("schema"), deep.get("migration")),
        _connections(deep.get("connections"), opts),
        _long_transactions(deep.get("long_transactions"), opts),
        _lock_waits(deep.get("lock_waits")),
        _vacuum(snap, deep.get("vacuum"), opts),
    ]


def _reachable(snap: Snapshot, opts: DoctorOptions) -> Check:
    url = redact(snap.target.jobs_db_url)
    latency = snap.db.latency
    if latency.value is None:
        error = latency.error or ""
        exhausted = "too many" in error or "connection slots" in error
        return Check(
            "jobs_db.reachable",
            DB,
            Status.TIMEOUT if latency.timed_out else Status.FAIL,
            f"jobs DB at {url}: {error}",
            "connections are exhausted: intakes cannot persist and runners cannot fetch"
            if exhausted
            else "the intake pauses (triggers wait in Kafka, nothing is lost) and no job runs",
            Action("find who holds the connections", f"psql ... -c {ACTIVITY_SQL!r}")
            if exhausted
            else Action(
                f"check the jobs DB at {url} (PostgreSQL up? network? "
                "JOBLINE_JOBS_DATABASE_URL); restarting the jobs deployment does not help"
            ),
        )
    status = Status.WARN if latency.value > opts.latency_warn_s else Status.OK
    return Check(
        "jobs_db.reachable",
        DB,
        status,
        f"jobs DB at {url}: connect + SELECT 1 in {latency.value * 1000:.0f} ms",
        "jobs can be persisted and fetched"
        if status is Status.OK
        else f"slow round trips (over {opts.latency_warn_s * 1000:.0f} ms) slow every batch",
    )


def _unanswered(name: str, outcome: Outcome[Any] | None) -> Check | None:
    if outcome is None or outcome.ok:
        return None
    status = Status.TIMEOUT if outcome.timed_out else Status.WARN
    return Check(name, DB, status, outcome.error or "", "this could not be checked")


def _migrations(snap: Snapshot, schema: Outcome[Any] | None, version: Outcome[Any] | None) -> Check:
    name = "jobs_db.migrations"
    newest = load_migrations("jobline.store.migrations")[-1].version
    action = Action("apply the migrations", "jobline migrate")
    if schema is not None and schema.value is False:
        return Check(
            name,
            DB,
            Status.FAIL,
            f"schema {snap.target.schema!r} does not exist",
            "the jobs DB was never migrated: nothing can be persisted",
            action,
        )
    missing = _unanswered(name, version)
    if missing is not None or version is None:
        return missing or Check(name, DB, Status.WARN, "not asked", "")
    current = version.value
    if current is None or current < newest:
        return Check(
            name,
            DB,
            Status.FAIL,
            f"schema at migration {current}, this jobline needs {newest}",
            "queries of this version may fail on the old schema",
            action,
        )
    if current > newest:
        return Check(
            name,
            DB,
            Status.WARN,
            f"schema at migration {current}, newer than this jobline's {newest}",
            "a newer jobline migrated the jobs DB: this one may not know its tables",
            Action("run the same jobline version everywhere (this one is older)"),
        )
    return Check(name, DB, Status.OK, f"schema at migration {current}", "schema is current")


def _connections(outcome: Outcome[Any] | None, opts: DoctorOptions) -> Check:
    name = "jobs_db.connections"
    missing = _unanswered(name, outcome)
    if missing is not None or outcome is None:
        return missing or Check(name, DB, Status.WARN, "not asked", "")
    c: health.Connections = outcome.get()
    share = c.used / max(1, c.usable)
    evidence = f"{c.used} of {c.usable} usable connections in use ({share:.0%})"
    if c.role_limit >= 0:
        share = max(share, c.role_used / max(1, c.role_limit))
        evidence += f"; this role: {c.role_used} of its CONNECTION LIMIT {c.role_limit}"
    status = (
        Status.FAIL
        if share >= opts.connections_fail
        else Status.WARN
        if share >= opts.connections_warn
        else Status.OK
    )
    if status is Status.OK:
        return Check(name, DB, status, evidence, "room for more connections")
    return Check(
        name,
        DB,
        status,
        evidence,
        "new connections are about to be refused: intakes and runners then stall",
        Action(
            "find who holds the connections (a leak, too many pods, or pool sizes above the "
            "limit); raising max_connections needs a PostgreSQL restart",
            f"psql ... -c {ACTIVITY_SQL!r}",
        ),
    )


def _long_transactions(outcome: Outcome[Any] | None, opts: DoctorOptions) -> Check:
    name = "jobs_db.long_transactions"
    missing = _unanswered(name, outcome)
    if missing is not None or outcome is None:
        return missing or Check(name, DB, Status.WARN, "not asked", "")
    sessions: list[health.SessionInfo] = outcome.get() if outcome.value else []
    if not sessions:
        return Check(
            name,
            DB,
            Status.OK,
            f"no transaction open longer than {opts.long_transaction_s:g} s",
            "nothing holds back vacuum",
        )
    oldest = sessions[0]
    return Check(
        name,
        DB,
        Status.WARN,
        f"{len(sessions)} transaction(s) open longer than {opts.long_transaction_s:g} s "
        f"(pids {[x.pid for x in sessions]}); oldest: pid {oldest.pid}, {oldest.age_s:.0f} s, "
        f"{oldest.detail}",
        "it may hold locks jobs wait for, and it keeps autovacuum from cleaning `jobs`",
        Action(
            "find its owner; if it is stuck, end it",
            f"psql ... -c 'SELECT pg_terminate_backend({oldest.pid})'",
        ),
    )


def _lock_waits(outcome: Outcome[Any] | None) -> Check:
    name = "jobs_db.lock_waits"
    missing = _unanswered(name, outcome)
    if missing is not None or outcome is None:
        return missing or Check(name, DB, Status.WARN, "not asked", "")
    waits: list[health.SessionInfo] = outcome.get() if outcome.value else []
    stuck = [w for w in waits if w.age_s > 5.0]
    if not stuck:
        return Check(name, DB, Status.OK, f"{len(waits)} session(s) waiting for a lock", "")
    return Check(
        name,
        DB,
        Status.WARN,
        f"{len(stuck)} session(s) waiting for a lock over 5 s; longest: pid {stuck[0].pid} "
        f"{stuck[0].age_s:.0f} s: {stuck[0].detail}",
        "something holds a lock that intakes or runners need",
        Action(
            "find the blocker",
            "psql ... -c 'SELECT pid, pg_blocking_pids(pid) FROM "
            "pg_stat_activity WHERE wait_event_type = ''Lock'''",
        ),
    )


def _vacuum(snap: Snapshot, outcome: Outcome[Any] | None, opts: DoctorOptions) -> Check:
    name = "jobs_db.autovacuum"
    missing = _unanswered(name, outcome)
    if missing is not None or outcome is None:
        return missing or Check(name, DB, Status.WARN, "not asked", "")
    v: health.VacuumState | None = outcome.value
    if v is None:
        return Check(name, DB, Status.WARN, "no statistics for table jobs yet", "")
    since = "never" if v.since_vacuum_s is None else f"{v.since_vacuum_s:.0f} s ago"
    evidence = f"jobs: {v.live_rows:,} live rows, {v.dead_rows:,} dead; last vacuum {since}"
    if not v.autovacuum_enabled:
        return Check(
            name,
            DB,
            Status.WARN,
            evidence + "; autovacuum_enabled=false",
            "dead rows of deleted jobs pile up and slow the fetch",
            Action(
                "turn autovacuum back on",
                f"ALTER TABLE {snap.target.schema}.jobs RESET (autovacuum_enabled)",
            ),
        )
    if v.dead_rows > opts.dead_rows_warn and v.dead_rows > v.live_rows:
        return Check(
            name,
            DB,
            Status.WARN,
            evidence,
            "autovacuum is not keeping up (a long transaction holds it back?)",
            Action(
                "look for long transactions, then vacuum",
                f"VACUUM (VERBOSE) {snap.target.schema}.jobs",
            ),
        )
    return Check(name, DB, Status.OK, evidence, "autovacuum keeps up")

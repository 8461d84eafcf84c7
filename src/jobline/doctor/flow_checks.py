"""The moving parts: the intake (group, lag, stalls), the runners, the DLQ, failed jobs."""

from __future__ import annotations

from typing import Any

from jobline.doctor.model import Action, Check, Deployment, Stage, Status
from jobline.doctor.options import DoctorOptions
from jobline.status.collect import Snapshot
from jobline.status.view import PartitionRow, dlq_rate, latest_dlq_size, partition_rows


def flow_checks(snap: Snapshot, opts: DoctorOptions) -> list[Check]:
    rows = partition_rows(snap)
    return [
        _group(snap, rows, opts.deployment),
        _lag(snap, rows, opts),
        *_runners(snap, opts),
        _dlq(snap),
        _failures(snap, opts),
    ]


def _total_lag(rows: list[PartitionRow]) -> int:
    return sum(r.lag or 0 for r in rows)


def _group(snap: Snapshot, rows: list[PartitionRow], deployment: Deployment) -> Check:
    name, group = "intake.group", snap.target.group
    outcome = snap.kafka.group
    if outcome.value is None:
        status = Status.TIMEOUT if outcome.timed_out else Status.WARN
        return Check(name, Stage.INTAKE, status, outcome.error or "", "intake group unknown")
    members = outcome.value.members
    lag = _total_lag(rows)
    evidence = f"group {group!r}: {outcome.value.state}, {len(members)} member(s)" + "".join(
        f"; {m.client_id}@{m.host} partitions {m.partitions}" for m in members
    )
    if members:
        return Check(name, Stage.INTAKE, Status.OK, evidence, "an intake reads the jobs topic")
    if lag > 0:
        return Check(
            name,
            Stage.INTAKE,
            Status.FAIL,
            f"{evidence}, while {lag:,} message(s) wait in {snap.target.jobs_topic!r}",
            "no intake is running: triggers pile up in Kafka (kept, not lost) and no new "
            "job reaches the jobs DB",
            deployment.restart(),
        )
    return Check(
        name,
        Stage.INTAKE,
        Status.WARN,
        evidence,
        "no intake is running; nothing waits yet, but the next trigger will",
        deployment.restart(),
    )


def _stalled(snap: Snapshot, rows: list[PartitionRow], stall_after_s: float) -> list[int]:
    later = snap.db.offsets_later.value
    stalled = []
    for row in rows:
        if not row.lag:
            continue
        old = row.last_persisted_age_s is None or row.last_persisted_age_s > stall_after_s
        before = row.stored_offset if row.stored_offset is not None else -1
        moved = (
            later is not None
            and row.partition in later
            and (later[row.partition].next_offset != before)
        )
        if old and not moved:
            stalled.append(row.partition)
    return stalled


def _lag(snap: Snapshot, rows: list[PartitionRow], opts: DoctorOptions) -> Check:
    name = "intake.lag"
    if not snap.kafka.jobs_marks.ok or not snap.db.offsets.ok:
        missing = snap.kafka.jobs_marks if not snap.kafka.jobs_marks.ok else snap.db.offsets
        status = Status.TIMEOUT if missing.timed_out else Status.WARN
        return Check(name, Stage.INTAKE, status, missing.error or "", "lag unknown")
    lag = _total_lag(rows)
    stalled = _stalled(snap, rows, opts.stall_after_s)
    evidence = f"lag {lag:,} over {len(rows)} partition(s)"
    if stalled:
        detail = "; ".join(
            f"p{r.partition}: lag {r.lag:,}, last persisted "
            + ("never" if r.last_persisted_age_s is None else f"{r.last_persisted_age_s:.0f} s ago")
            for r in rows
            if r.partition in stalled
        )
        return Check(
            name,
            Stage.INTAKE,
            Status.FAIL,
            f"{evidence}; stalled partitions {stalled}: {detail}",
            f"messages wait and nothing was persisted from these partitions for over "
            f"{opts.stall_after_s:g} s, nor during the {snap.window_s:g} s watched",
            opts.deployment.restart(),
        )
    if lag > opts.lag_warn:
        return Check(
            name,
            Stage.INTAKE,
            Status.WARN,
            evidence,
            "the intake moves but is behind: more partitions/intakes, or a slow jobs DB",
        )
    return Check(name, Stage.INTAKE, Status.OK, evidence, "the intake keeps up")


def _runners(snap: Snapshot, opts: DoctorOptions) -> list[Check]:
    counts = snap.db.counts
    if counts.value is None:
        status = Status.TIMEOUT if counts.timed_out else Status.WARN
        return [Check("runners.live", Stage.RUNNERS, status, counts.error or "", "unknown")]
    c = counts.value
    evidence = (
        f"{c.live_runners} live runner(s), {c.dead_runners} silent; jobs due {c.due:,}, "
        f"running {c.running:,}, oldest due waited {c.oldest_due_age_s:.0f} s"
    )
    if c.live_runners == 0:
        status = Status.FAIL if c.due > 0 else Status.WARN
        meaning = (
            f"no runner alive while {c.due:,} job(s) are due: nothing runs"
            if c.due
            else "no runner alive; nothing is due yet"
        )
        return [
            Check(
                "runners.live", Stage.RUNNERS, status, evidence, meaning, opts.deployment.restart()
            )
        ]
    live = Check("runners.live", Stage.RUNNERS, Status.OK, evidence, "runners heartbeat")
    if c.oldest_due_age_s > opts.oldest_due_warn_s:
        return [
            live,
            Check(
                "runners.behind",
                Stage.RUNNERS,
                Status.WARN,
                evidence,
                f"due jobs wait over {opts.oldest_due_warn_s:g} s: runners are busy or slow "
                "(handlers near their timeout?); more runners or concurrency help, a "
                "restart does not",
            ),
        ]
    return [live]


def _dlq(snap: Snapshot) -> Check:
    name, topic = "dlq.growing", snap.target.dlq_topic
    size, rate = latest_dlq_size(snap), dlq_rate(snap)
    if size is None:
        outcome = snap.kafka.dlq_marks
        status = Status.TIMEOUT if outcome.timed_out else Status.WARN
        return Check(name, Stage.PRODUCERS, status, outcome.error or "", "DLQ size unknown")
    evidence = f"{topic!r}: {size:,} message(s)" + (
        f", +{rate:g}/s over the last {snap.window_s:g} s" if rate else ", not growing"
    )
    if rate and rate > 0:
        return Check(
            name,
            Stage.PRODUCERS,
            Status.WARN,
            evidence,
            "producers send malformed triggers right now: those jobs never run",
            Action(
                "look at recent changes to the producers (plugins, callers of the trigger API); "
                "the DLQ headers name the reason",
                "jobline dlq stats",
            ),
        )
    return Check(name, Stage.PRODUCERS, Status.OK, evidence, "no malformed triggers arriving")


def _failures(snap: Snapshot, opts: DoctorOptions) -> Check:
    name = "jobs.failed"
    outcome: Any = snap.db.deep.get("recent_failures")
    if outcome is None or outcome.value is None:
        error = outcome.error if outcome is not None else "not asked"
        return Check(name, Stage.PLUGINS, Status.WARN, error or "", "failures unknown")
    window = f"{opts.failures_window_s / 60:g} min"
    if not outcome.value:
        return Check(name, Stage.PLUGINS, Status.OK, f"no job failed for good in {window}", "")
    top = ", ".join(f"{f.type} (config {f.plugin_config_id}): {f.count}" for f in outcome.value[:3])
    return Check(
        name,
        Stage.PLUGINS,
        Status.WARN,
        f"jobs failed for good in the last {window}: {top}",
        "handlers fail after all their attempts: a plugin change or a dependency of it",
        Action(
            "look at recent changes to these plugins and their errors",
            f"jobline failed list --since {int(opts.failures_window_s // 60)}m",
        ),
    )

"""The doctor's pure parts: the verdict's choice of stage, lag and stalled partitions."""

from __future__ import annotations

from jobline.doctor.flow_checks import flow_checks
from jobline.doctor.model import Action, Check, Deployment, Stage, Status
from jobline.doctor.options import DoctorOptions
from jobline.doctor.run import decide
from jobline.status.collect import Budget, DbState, KafkaState, Snapshot, Target
from jobline.status.kafka import GroupInfo, GroupMember, TopicInfo, Watermarks
from jobline.status.outcome import Outcome
from jobline.status.view import partition_rows
from jobline.store.health import PipelineCounts, StoredOffset

TARGET = Target("k:9092", "postgresql://x", "jobline", "jobs", "jobs_dlq", "g", 30.0)
OPTIONS = DoctorOptions(Deployment("ns", "plugins-jobs"), 1_000_000)


def _check(stage: Stage, status: Status, name: str = "x") -> Check:
    return Check(name, stage, status, "evidence", "meaning", Action(f"fix {name}"))


def test_verdict_is_ok_with_exit_0_when_every_check_is_ok() -> None:
    verdict = decide([_check(Stage.KAFKA, Status.OK), _check(Stage.RUNNERS, Status.OK)])
    assert (verdict.status, verdict.stage, verdict.exit_code) == (Status.OK, None, 0)


def test_verdict_names_the_upstream_stage_when_several_fail() -> None:
    verdict = decide(
        [
            _check(Stage.RUNNERS, Status.FAIL, "runners.live"),
            _check(Stage.KAFKA, Status.TIMEOUT, "kafka.reachable"),
        ]
    )
    assert verdict.stage is Stage.KAFKA
    assert verdict.exit_code == 2
    assert verdict.action == Action("fix kafka.reachable")
    assert "also runners" in verdict.summary


def test_a_failure_outranks_an_earlier_stage_warning() -> None:
    verdict = decide(
        [_check(Stage.JOBS_DB, Status.WARN), _check(Stage.INTAKE, Status.FAIL, "intake.lag")]
    )
    assert (verdict.stage, verdict.exit_code) == (Stage.INTAKE, 2)


def _snapshot(stored: dict[int, StoredOffset], later: dict[int, StoredOffset]) -> Snapshot:
    kafka = KafkaState(
        topics=Outcome({"jobs": TopicInfo("jobs", 2), "jobs_dlq": TopicInfo("jobs_dlq", 1)}),
        jobs_marks=Outcome({0: Watermarks(0, 10), 1: Watermarks(5, 5)}),
        dlq_marks=Outcome({0: Watermarks(0, 0)}),
        dlq_marks_later=Outcome({0: Watermarks(0, 0)}),
        group=Outcome(GroupInfo("g", "stable", [GroupMember("jobline-intake", "h", [0, 1])])),
    )
    counts = PipelineCounts(0, 0, 0, 0, 0, 0.0, 1, 0)
    db = DbState(
        latency=Outcome(0.01),
        counts=Outcome(counts),
        offsets=Outcome(stored),
        offsets_later=Outcome(later),
    )
    return Snapshot(TARGET, 0.0, 2.0, kafka, db)


def test_lag_counts_from_the_low_watermark_when_nothing_is_stored() -> None:
    rows = partition_rows(_snapshot({}, {}))
    assert [(r.partition, r.lag, r.stored_offset) for r in rows] == [(0, 10, None), (1, 0, None)]


def test_a_partition_with_lag_and_an_old_unmoving_offset_is_stalled() -> None:
    stored = {0: StoredOffset(0, 4, 300.0), 1: StoredOffset(1, 5, 300.0)}
    checks = {c.name: c for c in flow_checks(_snapshot(stored, stored), OPTIONS)}
    assert checks["intake.lag"].status is Status.FAIL
    assert "stalled partitions [0]" in checks["intake.lag"].evidence


def test_a_partition_whose_offset_moved_during_the_window_is_not_stalled() -> None:
    stored = {0: StoredOffset(0, 4, 300.0)}
    moved = {0: StoredOffset(0, 6, 0.1)}
    checks = {c.name: c for c in flow_checks(_snapshot(stored, moved), OPTIONS)}
    assert checks["intake.lag"].status is Status.OK


def test_the_budget_cuts_the_last_probe_short_and_then_starts_none() -> None:
    budget = Budget(per_probe_s=2.5, total_s=1.0)
    first = budget.next_timeout()
    assert first is not None and 0.9 < first <= 1.0
    spent = Budget(per_probe_s=2.5, total_s=0.1)
    assert spent.next_timeout() is None

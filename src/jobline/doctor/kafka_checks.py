"""Kafka's checks: reachable, topics and partitions, the message size limits."""

from __future__ import annotations

from typing import Any

from jobline.doctor.model import Action, Check, Stage, Status
from jobline.doctor.options import DoctorOptions
from jobline.status.collect import Snapshot
from jobline.status.outcome import Outcome


def _not_answered(name: str, stage: Stage, outcome: Outcome[Any], meaning: str) -> Check:
    status = Status.TIMEOUT if outcome.timed_out else Status.FAIL
    return Check(name, stage, status, outcome.error or "", meaning)


def kafka_checks(snap: Snapshot, opts: DoctorOptions) -> list[Check]:
    return [_reachable(snap), *_topics(snap), _limits(snap, opts)]


def _reachable(snap: Snapshot) -> Check:
    hosts = snap.target.kafka_hosts
    topics = snap.kafka.topics
    if not topics.ok:
        check = _not_answered(
            "kafka.reachable",
            Stage.KAFKA,
            topics,
            "triggers cannot be queued (producers raise IntakeUnavailable) and the intake "
            "reads nothing; jobs already in the jobs DB still run",
        )
        return Check(
            check.name,
            check.stage,
            check.status,
            f"Kafka at {hosts}: {topics.error}",
            check.meaning,
            Action(
                f"check Kafka at {hosts} (broker process, disk, network, JOBLINE_KAFKA_HOSTS); "
                "restarting the jobs deployment does not help while Kafka is down"
            ),
        )
    return Check(
        "kafka.reachable",
        Stage.KAFKA,
        Status.OK,
        f"Kafka at {hosts} answered in {topics.elapsed_s:.2f} s",
        "triggers can be queued",
    )


def _topics(snap: Snapshot) -> list[Check]:
    if snap.kafka.topics.value is None:
        return []
    checks = []
    hosts = snap.target.kafka_hosts
    for topic, role in ((snap.target.jobs_topic, "jobs"), (snap.target.dlq_topic, "DLQ")):
        info = snap.kafka.topics.value[topic]
        if info.partitions == 0:
            checks.append(
                Check(
                    f"kafka.topic.{role.lower()}",
                    Stage.KAFKA,
                    Status.FAIL,
                    f"topic {topic!r} does not exist on {hosts}",
                    "producers cannot queue triggers"
                    if role == "jobs"
                    else "the intake cannot dead-letter a malformed message, so it stops there",
                    Action(
                        f"create the {role} topic (or fix JOBLINE_"
                        f"{'JOBS' if role == 'jobs' else 'DLQ'}_TOPIC)",
                        f"kafka-topics.sh --bootstrap-server {hosts} --create --topic {topic} "
                        f"--partitions {8 if role == 'jobs' else 1}",
                    ),
                )
            )
        else:
            checks.append(
                Check(
                    f"kafka.topic.{role.lower()}",
                    Stage.KAFKA,
                    Status.OK,
                    f"topic {topic!r}: {info.partitions} partition(s)",
                    f"at most {info.partitions} intake(s) share the work"
                    if role == "jobs"
                    else "malformed messages have somewhere to go",
                )
            )
    return checks


def _limits(snap: Snapshot, opts: DoctorOptions) -> Check:
    name, topic = "kafka.message_size", snap.target.jobs_topic
    limits = snap.kafka.limits
    meaning = "a job the producer accepts must also fit the broker, or it is refused at send"
    if limits.value is None:
        status = Status.TIMEOUT if limits.timed_out else Status.WARN
        return Check(name, Stage.KAFKA, status, limits.error or "no answer", meaning)
    effective = limits.value.topic_max_message_bytes or limits.value.broker_message_max_bytes
    evidence = (
        f"JOBLINE_MAX_MESSAGE_BYTES={opts.max_message_bytes:,}; topic {topic!r} "
        f"max.message.bytes={_n(limits.value.topic_max_message_bytes)}; broker "
        f"message.max.bytes={_n(limits.value.broker_message_max_bytes)}"
    )
    if effective is not None and opts.max_message_bytes > effective:
        return Check(
            name,
            Stage.KAFKA,
            Status.FAIL,
            evidence,
            f"jobs between {effective:,} and {opts.max_message_bytes:,} bytes pass jobline's "
            "check and are then refused by Kafka (MSG_SIZE_TOO_LARGE): their triggers fail",
            Action(
                f"lower JOBLINE_MAX_MESSAGE_BYTES to {effective:,} or raise the topic's limit",
                f"kafka-configs.sh --bootstrap-server {snap.target.kafka_hosts} --alter "
                f"--entity-type topics --entity-name {topic} "
                f"--add-config max.message.bytes={opts.max_message_bytes + 1024}",
            ),
        )
    return Check(name, Stage.KAFKA, Status.OK, evidence, meaning)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"

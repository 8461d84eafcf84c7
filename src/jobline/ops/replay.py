"""Replay DLQ messages into the jobs topic, as they are or edited, each offset at most once.

Each replay claims its (DLQ topic, partition, offset) row in the jobs DB inside a
transaction that commits only after Kafka acknowledged the replayed message: a failed
produce leaves no claim (replay it again), a second replay finds the claim and does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobline.errors import InvalidJob, UsageError
from jobline.job import JobMessage, decode_job, encode_job
from jobline.ops.context import OpsContext
from jobline.ops.dlq import DlqMessage
from jobline.producer.kafka import KafkaJobProducer

#: turns a DLQ message into the bytes to replay (an edit), or None to replay it as it is
Edit = Callable[[DlqMessage], bytes]


class ReplayResult(StrEnum):
    REPLAYED = "replayed"
    WOULD_REPLAY = "would_replay"  # a dry run: valid and never replayed
    ALREADY_REPLAYED = "already_replayed"
    INVALID = "invalid"  # the (edited) message still fails the codec: not sent, not claimed


@dataclass(frozen=True)
class ReplayOutcome:
    partition: int
    offset: int
    result: ReplayResult
    detail: str


def set_payload(payload_json: str) -> Edit:
    """An edit that replaces the message's `payload` field (the message must be an object)."""
    try:
        payload = json.loads(payload_json)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--set-payload {payload_json!r} is not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None

    def edit(msg: DlqMessage) -> bytes:
        try:
            body: Any = json.loads(msg.value)
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise InvalidJob(
                "not_object",
                f"DLQ message {msg.partition}:{msg.offset} is not a JSON object, so "
                "--set-payload cannot apply; use --edit to rewrite the whole message",
            )
        body["payload"] = payload
        return json.dumps(body).encode()

    return edit


def _validated(msg: DlqMessage, edit: Edit | None, max_bytes: int) -> JobMessage | ReplayOutcome:
    try:
        value = edit(msg) if edit is not None else msg.value.encode()
        job = decode_job(value)
        encode_job(job, max_bytes)  # refuses one over JOBLINE_MAX_MESSAGE_BYTES (JobTooLarge)
        return job
    except InvalidJob as exc:
        fix = "fix it with --edit or --set-payload" if edit is None else "edit it again"
        return ReplayOutcome(
            msg.partition, msg.offset, ReplayResult.INVALID, f"{exc.detail}; {fix}"
        )


async def replay(
    ctx: OpsContext,
    messages: list[DlqMessage],
    edit: Edit | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReplayOutcome]:
    """Produce each message to the jobs topic (validated by the codec) unless replayed."""
    s = ctx.settings
    producer = KafkaJobProducer(
        s.kafka_hosts, s.jobs_topic, s.max_message_bytes, s.produce_timeout_s
    )
    outcomes: list[ReplayOutcome] = []
    try:
        for done, msg in enumerate(messages, 1):
            outcomes.append(await _replay_one(ctx, producer, msg, edit))
            if progress is not None:
                progress(done, len(messages))
    finally:
        producer.close()
        # Also when a later message failed: the ones sent before it are on the record.
        await _audit(ctx, outcomes, edited=edit is not None)
    return outcomes


async def dry_run(
    ctx: OpsContext, messages: list[DlqMessage], edit: Edit | None = None
) -> list[ReplayOutcome]:
    """What `replay` would do: validate each message (edited) and look for its claim."""
    topic = ctx.settings.dlq_topic
    done = await ctx.store.replayed_offsets(topic, sorted({m.partition for m in messages}))
    outcomes = []
    for msg in messages:
        job = _validated(msg, edit, ctx.settings.max_message_bytes)
        if isinstance(job, ReplayOutcome):
            outcomes.append(job)
        elif (msg.partition, msg.offset) in done:
            outcomes.append(_already(msg))
        else:
            outcomes.append(
                ReplayOutcome(msg.partition, msg.offset, ReplayResult.WOULD_REPLAY, job.type)
            )
    return outcomes


async def _audit(ctx: OpsContext, outcomes: list[ReplayOutcome], edited: bool) -> None:
    sent = [o for o in outcomes if o.result is ReplayResult.REPLAYED]
    if sent:
        where = {
            "dlq_topic": ctx.settings.dlq_topic,
            "offsets": [f"{o.partition}:{o.offset}" for o in sent],
            "edited": edited,
        }
        await ctx.store.audit(ctx.actor, "dlq.replay", where, len(sent))


def _already(msg: DlqMessage) -> ReplayOutcome:
    return ReplayOutcome(
        msg.partition,
        msg.offset,
        ReplayResult.ALREADY_REPLAYED,
        "replayed before: nothing sent (see the dlq_replays table)",
    )


async def _replay_one(
    ctx: OpsContext, producer: KafkaJobProducer, msg: DlqMessage, edit: Edit | None
) -> ReplayOutcome:
    job = _validated(msg, edit, ctx.settings.max_message_bytes)
    if isinstance(job, ReplayOutcome):
        return job
    claim = ctx.store.claiming_replay(
        msg.topic, msg.partition, msg.offset, ctx.actor, edited=edit is not None
    )
    async with claim as claimed:
        if not claimed:
            return _already(msg)
        await producer.send_async([job])  # raises (and the claim rolls back) if not acked
    return ReplayOutcome(
        msg.partition,
        msg.offset,
        ReplayResult.REPLAYED,
        f"job {job.type!r} of plugin config {job.plugin_config_id} sent to "
        f"{ctx.settings.jobs_topic}",
    )

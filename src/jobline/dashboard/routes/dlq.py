"""DLQ: browse the dead-lettered messages by reason, partition and time; one message with
its raw value, headers and validation error; replay as is or edited (validated first)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobline.dashboard.web import back_to, filter_query, ops, render
from jobline.errors import NotFound, UsageError
from jobline.ops import replay as ops_replay
from jobline.ops.dlq import DlqMessage, DlqReader, DlqSelection
from jobline.ops.filters import parse_since

SHOWN = 200


def _read(hosts: str, topic: str, selection: DlqSelection) -> list[DlqMessage]:
    with DlqReader(hosts, topic) as reader:
        return reader.read(selection)


async def read_dlq(request: Request, selection: DlqSelection) -> list[DlqMessage]:
    s = request.app.state.settings
    return await asyncio.to_thread(_read, s.kafka_hosts, s.dlq_topic, selection)


def _selection(request: Request) -> DlqSelection:
    q = request.query_params
    partition = q.get("partition", "").strip()
    since = q.get("since", "").strip()
    return DlqSelection(
        reason=q.get("reason", "").strip() or None,
        partition=int(partition) if partition.isdigit() else None,
        since=parse_since(since, "since") if since else None,
        limit=SHOWN,
    )


async def dlq_page(request: Request) -> Response:
    ctx = await ops(request)
    topic = request.app.state.settings.dlq_topic
    missing = None
    try:
        messages = await read_dlq(request, _selection(request))
    except NotFound as exc:  # nothing dead-lettered yet: an empty page, not an error
        messages, missing = [], str(exc)
    replayed = await ctx.store.replayed_offsets(topic, sorted({m.partition for m in messages}))
    return render(
        request,
        "dlq.html",
        page="dlq",
        messages=messages,
        replayed=replayed,
        topic=topic,
        missing=missing,
        filters=filter_query(request.query_params, "reason", "partition", "since"),
    )


async def _one(request: Request, partition: int, offset: int) -> DlqMessage:
    found = await read_dlq(request, DlqSelection(partition=partition, offset=offset, limit=1))
    if not found:
        raise UsageError(f"the DLQ has no message at partition {partition} offset {offset}")
    return found[0]


async def dlq_message(request: Request) -> Response:
    ctx = await ops(request)
    p, o = int(request.path_params["partition"]), int(request.path_params["offset"])
    msg = await _one(request, p, o)
    replayed = (p, o) in await ctx.store.replayed_offsets(msg.topic, [p])
    return render(request, "dlq_message.html", page="dlq", msg=msg, replayed=replayed)


def _positions(values: list[str]) -> list[tuple[int, int]]:
    positions = []
    for value in values:
        partition, _, offset = value.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise UsageError(f"{value!r} is not a DLQ position (partition:offset)")
        positions.append((int(partition), int(offset)))
    if not positions:
        raise UsageError("select at least one DLQ message to replay")
    return positions


async def replay(request: Request) -> Response:
    """Replay the selected messages; one edited value (a message's page) is validated by
    the codec before it is sent, and an invalid one is neither sent nor claimed."""
    ctx = await ops(request)
    form = await request.form()
    positions = _positions([str(v) for v in form.getlist("positions")])
    messages = [await _one(request, p, o) for p, o in positions]
    edited = form.get("value")
    edit = None
    if isinstance(edited, str) and len(messages) == 1 and edited.strip() != messages[0].value:
        body = edited.strip().encode()
        edit = lambda _msg: body  # noqa: E731
    outcomes = await ops_replay.replay(ctx, messages, edit)
    sent = sum(1 for o in outcomes if o.result is ops_replay.ReplayResult.REPLAYED)
    problems = [f"{o.partition}:{o.offset} {o.result.value}: {o.detail}" for o in outcomes
                if o.result is not ops_replay.ReplayResult.REPLAYED]  # fmt: skip
    return back_to(
        request, "dlq", done=f"replayed {sent} of {len(outcomes)} message(s)",
        error="; ".join(problems) or None,
    )  # fmt: skip


routes = [
    Route("/dlq", dlq_page),
    Route("/dlq/replay", replay, methods=["POST"]),
    Route("/dlq/{partition:int}/{offset:int}", dlq_message),
]

"""`jobline dlq list|show|replay|stats`: the dead-letter topic, read without a consumer group."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from jobline.cli.common import (
    Actor,
    DryRun,
    Json,
    Limit,
    Since,
    Yes,
    cli_settings,
    confirm,
    out,
    print_json,
    progress_bar,
    run,
    since_value,
)
from jobline.config import Settings
from jobline.errors import NotFound, UsageError
from jobline.ops.context import ops_context
from jobline.ops.dlq import DlqMessage, DlqReader, DlqSelection, DlqStats, stats_of
from jobline.ops.replay import Edit, ReplayOutcome, ReplayResult, replay, set_payload
from jobline.ops.replay import dry_run as replay_dry_run

app = typer.Typer(help="The DLQ topic: malformed triggers, and their replay.", no_args_is_help=True)

KNOWN_REASONS = (
    "not_json",
    "not_object",
    "missing_field",
    "empty_value",
    "empty_message",
    "wrong_type",
    "out_of_range",
    "too_large",
)


def _complete_reason(incomplete: str) -> list[str]:
    return [r for r in KNOWN_REASONS if r.startswith(incomplete)]


Reason = Annotated[
    str | None,
    typer.Option(help="DLQ reason header, e.g. not_json", autocompletion=_complete_reason),
]
Partition = Annotated[int | None, typer.Option(min=0, help="DLQ partition")]
Until = Annotated[str | None, typer.Option(help="up to a duration ago (10m) or an ISO time")]
Positions = Annotated[
    list[str] | None, typer.Argument(help="messages as PARTITION:OFFSET (or OFFSET for 0)")
]


def _position(text: str) -> tuple[int, int]:
    part, _, off = text.rpartition(":")
    try:
        return int(part or 0), int(off)
    except ValueError:
        raise UsageError(
            f"DLQ position {text!r} is not PARTITION:OFFSET (e.g. 0:42) or an OFFSET"
        ) from None


def _selection(
    reason: str | None, partition: int | None, since: str | None, until: str | None, limit: int
) -> DlqSelection:
    return DlqSelection(reason, partition, None, since_value(since), since_value(until), limit)


def _read(settings: Settings, sel: DlqSelection) -> list[DlqMessage]:
    with DlqReader(settings.kafka_hosts, settings.dlq_topic) as reader:
        return reader.read(sel)


def _read_positions(settings: Settings, positions: list[str]) -> list[DlqMessage]:
    found: list[DlqMessage] = []
    with DlqReader(settings.kafka_hosts, settings.dlq_topic) as reader:
        for text in positions:
            partition, offset = _position(text)
            got = reader.read(DlqSelection(partition=partition, offset=offset, limit=1))
            if not got:
                raise NotFound(
                    f"no message at {partition}:{offset} of DLQ topic {settings.dlq_topic!r} "
                    "(deleted by retention, or never written): `jobline dlq list` shows them"
                )
            found += got
    return found


async def _mark_replayed(settings: Settings, messages: list[DlqMessage]) -> list[DlqMessage]:
    async with ops_context(settings) as ctx:
        partitions = sorted({m.partition for m in messages})
        done = await ctx.store.replayed_offsets(settings.dlq_topic, partitions)
    return [replace(m, replayed=(m.partition, m.offset) in done) for m in messages]


def dlq_table(messages: list[DlqMessage]) -> Table:
    table = Table("position", "time", "reason", "source", "replayed", "value")
    for m in messages:
        source = (
            f"{m.source_topic}:{m.source_partition}:{m.source_offset}" if m.source_topic else ""
        )
        value = m.value if len(m.value) <= 60 else m.value[:59] + "…"
        when = m.timestamp.strftime("%Y-%m-%d %H:%M:%S") if m.timestamp else ""
        table.add_row(
            f"{m.partition}:{m.offset}",
            when,
            m.reason or "",
            source,
            "yes" if m.replayed else "",
            value,
        )
    return table


@app.command("list")
def list_cmd(
    reason: Reason = None,
    partition: Partition = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    as_json: Json = False,
) -> None:
    """DLQ messages (oldest first) with their reason, source and replay state."""
    settings = cli_settings()
    messages = _read(settings, _selection(reason, partition, since, until, limit))
    messages = run(_mark_replayed(settings, messages)) if messages else []
    if as_json:
        print_json(messages)
        return
    out.print(dlq_table(messages))
    out.print(f"{len(messages)} message(s) of {settings.dlq_topic} shown")


@app.command("show")
def show_cmd(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET")], as_json: Json = False
) -> None:
    """One DLQ message: headers and full value."""
    settings = cli_settings()
    [message] = run(_mark_replayed(settings, _read_positions(settings, [position])))
    if as_json:
        print_json(message)
        return
    for name, value in (
        ("position", f"{message.partition}:{message.offset}"),
        ("time", message.timestamp.isoformat() if message.timestamp else ""),
        ("reason", message.reason),
        ("error", message.error),
        ("source", f"{message.source_topic}:{message.source_partition}:{message.source_offset}"),
        ("key", message.key),
        ("replayed", "yes" if message.replayed else "no"),
    ):
        out.print(f"{name}: {value}", markup=False, highlight=False)
    out.print(f"value: {message.value}", markup=False, highlight=False)


@app.command("stats")
def stats_cmd(
    since: Since = None,
    limit: Annotated[int, typer.Option(help="messages to scan")] = 10_000,
    as_json: Json = False,
) -> None:
    """Messages held per partition; by reason and the last hour's count over a scan."""
    settings = cli_settings()
    with DlqReader(settings.kafka_hosts, settings.dlq_topic) as reader:
        marks = reader.watermarks(reader.partitions())
        scanned = reader.read(DlqSelection(since=since_value(since), limit=limit))
    stats: DlqStats = stats_of(settings.dlq_topic, marks, scanned, datetime.now(UTC))
    if as_json:
        print_json(stats)
        return
    out.print(
        f"{stats.topic}: {stats.messages} message(s) held; {stats.last_hour} in the last hour"
    )
    table = Table("reason", "messages")
    for reason, count in stats.by_reason.items():
        table.add_row(reason, str(count))
    out.print(table)
    if stats.scanned < stats.messages:
        out.print(f"(reasons counted over {stats.scanned} scanned message(s))")


def _editor_edit(msg: DlqMessage) -> bytes:
    """Open $EDITOR (or $VISUAL, else vi) on the message's value; return what was saved."""
    try:
        text = json.dumps(json.loads(msg.value), indent=2)
    except json.JSONDecodeError:
        text = msg.value
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as f:
        f.write(text + "\n")
        path = f.name
    try:
        subprocess.run([*shlex.split(editor), path], check=True)
        with open(path, encoding="utf-8") as f:
            return f.read().encode()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UsageError(
            f"editor {editor!r} failed ({exc}): set EDITOR to a working editor"
        ) from None
    finally:
        os.unlink(path)


def _edit_of(edit: bool, payload: str | None) -> Edit | None:
    if edit and payload is not None:
        raise UsageError("dlq replay: give --edit or --set-payload, not both")
    if payload is not None:
        return set_payload(payload)
    return _editor_edit if edit else None


def _print_outcomes(outcomes: list[ReplayOutcome], as_json: bool, dry_run: bool) -> None:
    if as_json:
        print_json(outcomes)
        return
    for o in outcomes:
        out.print(f"{o.partition}:{o.offset} {o.result.value}: {o.detail}", markup=False)
    if dry_run:
        would = sum(1 for o in outcomes if o.result is ReplayResult.WOULD_REPLAY)
        out.print(f"dry run: would replay {would} of {len(outcomes)} message(s)")
        return
    replayed = sum(1 for o in outcomes if o.result is ReplayResult.REPLAYED)
    out.print(f"replayed {replayed} of {len(outcomes)} message(s)")


def _replay_messages(
    settings: Settings,
    positions: Positions,
    selection: Callable[[], DlqSelection],
    filtered: bool,
) -> list[DlqMessage]:
    """The DLQ messages a replay names: by position, or by selection (one of the two)."""
    if bool(positions) == filtered:
        raise UsageError(
            "dlq replay: give positions (PARTITION:OFFSET) or a selection "
            "(--reason, --partition, --since, --until, --all), one of the two"
        )
    if positions:
        return _read_positions(settings, positions)
    return _read(settings, selection())


@app.command("replay")
def replay_cmd(
    positions: Positions = None,
    reason: Reason = None,
    partition: Partition = None,
    since: Since = None,
    until: Until = None,
    everything: Annotated[bool, typer.Option("--all", help="every DLQ message")] = False,
    edit: Annotated[bool, typer.Option("--edit", help="edit each message in $EDITOR")] = False,
    payload: Annotated[
        str | None, typer.Option("--set-payload", help="replace the payload (JSON)")
    ] = None,
    limit: Limit = 1000,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Send DLQ messages to the jobs topic again, as they are or edited (validated by the
    codec). Each DLQ offset is replayed at most once."""
    settings = cli_settings()
    transform = _edit_of(edit, payload)
    filtered = any(v is not None for v in (reason, partition, since, until)) or everything
    messages = _replay_messages(
        settings, positions, lambda: _selection(reason, partition, since, until, limit), filtered
    )

    async def go() -> list[ReplayOutcome]:
        async with ops_context(settings, actor) as ctx:
            if dry_run:  # the editor is not opened for a dry run
                return await replay_dry_run(ctx, messages, None if edit else transform)
            confirm(f"replay {len(messages)} DLQ message(s) into {settings.jobs_topic}?", yes)
            with progress_bar("replay", as_json or len(messages) < 2) as progress:
                return await replay(ctx, messages, transform, progress)

    outcomes = run(go())
    _print_outcomes(outcomes, as_json, dry_run)
    if any(o.result is ReplayResult.INVALID for o in outcomes):
        raise typer.Exit(1)

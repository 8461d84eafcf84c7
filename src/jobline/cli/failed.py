"""`jobline failed list|show|retry|delete`: permanently failed jobs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from jobline.cli.common import (
    Actor,
    AllRows,
    Config,
    DryRun,
    ErrorLike,
    JobType,
    Json,
    Key,
    Limit,
    Plugin,
    Queue,
    Since,
    Team,
    Yes,
    cli_settings,
    confirm,
    job_filter,
    out,
    print_json,
    progress_bar,
    run,
)
from jobline.ops import failed as ops_failed
from jobline.ops.changes import ChangeResult, Progress, Target
from jobline.ops.context import OpsContext, ops_context
from jobline.ops.filters import parse_duration
from jobline.store.admin_rows import FailedJobRow, FailureGroup

app = typer.Typer(help="Permanently failed jobs (out of the queue).", no_args_is_help=True)

Ids = Annotated[list[int] | None, typer.Argument(help="failed job ids (or use filters)")]
Fingerprint = Annotated[
    str | None, typer.Option(help="error fingerprint, as `failed list --group` shows it")
]


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str | None, width: int = 80) -> str:
    line = (text or "").replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def failed_table(rows: list[FailedJobRow]) -> Table:
    table = Table("id", "type", "config", "team", "attempts", "failed_at", "last_error")
    for r in rows:
        table.add_row(
            str(r.id),
            r.type,
            str(r.plugin_config_id),
            str(r.team_id),
            str(r.attempts),
            _when(r.failed_at),
            _short(r.last_error),
        )
    return table


def groups_table(groups: list[FailureGroup]) -> Table:
    table = Table("jobs", "type", "fingerprint", "first", "last", "sample id")
    for g in groups:
        table.add_row(
            str(g.jobs),
            g.type,
            _short(g.fingerprint, 70),
            _when(g.first_failed_at),
            _when(g.last_failed_at),
            str(g.sample_id),
        )
    return table


@app.command("list")
def list_cmd(
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    since: Since = None,
    error_like: ErrorLike = None,
    fingerprint: Fingerprint = None,
    group: Annotated[bool, typer.Option("--group", help="count by type and error cause")] = False,
    limit: Limit = 50,
    after: Annotated[int, typer.Option(help="ids above this one (the next page)")] = 0,
    as_json: Json = False,
) -> None:
    """List failed jobs (--since failed_at), or count them by error fingerprint (--group)."""
    where = job_filter(
        plugin, config, team, job_type, queue, key, None, since, error_like, fingerprint
    )
    settings = cli_settings()

    async def go() -> tuple[int, list[FailedJobRow]] | list[FailureGroup]:
        async with ops_context(settings) as ctx:
            if group:
                return await ops_failed.group_failed(ctx, where, limit)
            return await ops_failed.list_failed(ctx, where, limit, after)

    found = run(go())
    if isinstance(found, list):
        if as_json:
            print_json(found)
        else:
            out.print(groups_table(found))
        return
    total, rows = found
    if as_json:
        print_json({"total": total, "failed_jobs": rows})
        return
    out.print(failed_table(rows))
    out.print(f"{len(rows)} of {total} matching failed job(s) shown")


@app.command("show")
def show_cmd(job_id: int, as_json: Json = False) -> None:
    """One failed job: payload, attempts, full last error."""
    settings = cli_settings()

    async def go() -> FailedJobRow:
        async with ops_context(settings) as ctx:
            return await ops_failed.show_failed(ctx, job_id)

    job = run(go())
    if as_json:
        print_json(job)
        return
    out.print(failed_table([job]))
    out.print(f"payload: {json.dumps(job.payload)}", markup=False)
    out.print(f"fingerprint: {job.fingerprint}", markup=False)
    out.print(f"last error: {job.last_error}", markup=False)


Change = Callable[[OpsContext, Target, bool, Progress], Awaitable[ChangeResult[FailedJobRow]]]


def _change(
    action: str,
    target: Target,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    actor: str | None,
    do: Change,
) -> None:
    settings = cli_settings()

    async def go() -> ChangeResult[FailedJobRow]:
        async with ops_context(settings, actor) as ctx:
            if not dry_run:
                preview = await do(ctx, target, True, lambda d, t: None)
                confirm(f"{action} {preview.matched} failed job(s)?", yes)
            with progress_bar(action, as_json or dry_run) as progress:
                return await do(ctx, target, dry_run, progress)

    result = run(go())
    if as_json:
        print_json(result)
    elif result.dry_run:
        out.print(f"dry run: {result.action} would apply to {result.matched} failed jobs")
        if result.sample:
            out.print(failed_table(result.sample))
    else:
        kept = result.matched - result.changed
        note = f" ({kept} kept: a queued job holds their key)" if kept and "retry" in action else ""
        out.print(f"{result.action}: {result.changed} of {result.matched} failed jobs{note}")


@app.command("retry")
def retry_cmd(
    ids: Ids = None,
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    since: Since = None,
    error_like: ErrorLike = None,
    fingerprint: Fingerprint = None,
    everything: AllRows = False,
    reset_attempts: Annotated[
        bool, typer.Option("--reset-attempts", help="give them all their attempts again")
    ] = False,
    spread: Annotated[
        str | None, typer.Option(help="spread their run_at evenly over this window: 10m")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Put failed jobs back in the queue (same ids), due now or spread over a window."""
    where = job_filter(
        plugin, config, team, job_type, queue, key, None, since, error_like, fingerprint
    )
    window = parse_duration(spread, "--spread") if spread else timedelta(0)

    async def do(ctx: OpsContext, t: Target, dry: bool, p: Progress) -> ChangeResult[FailedJobRow]:
        return await ops_failed.retry(
            ctx, t, reset_attempts=reset_attempts, spread=window, dry_run=dry, progress=p
        )

    target = Target(tuple(ids or ()), where, everything)
    _change("retry", target, dry_run, yes, as_json, actor, do)


@app.command("delete")
def delete_cmd(
    ids: Ids = None,
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    since: Since = None,
    error_like: ErrorLike = None,
    fingerprint: Fingerprint = None,
    everything: AllRows = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Delete failed jobs for good."""
    where = job_filter(
        plugin, config, team, job_type, queue, key, None, since, error_like, fingerprint
    )

    async def do(ctx: OpsContext, t: Target, dry: bool, p: Progress) -> ChangeResult[FailedJobRow]:
        return await ops_failed.delete(ctx, t, dry_run=dry, progress=p)

    target = Target(tuple(ids or ()), where, everything)
    _change("delete", target, dry_run, yes, as_json, actor, do)

"""`jobline jobs list|show|run-now|reschedule|cancel`: queued jobs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
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
    State,
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
from jobline.errors import UsageError
from jobline.ops import jobs as ops_jobs
from jobline.ops.changes import ChangeResult, Progress, Target
from jobline.ops.context import OpsContext, ops_context
from jobline.ops.filters import JobFilter, parse_duration
from jobline.store.admin_rows import JobRow

app = typer.Typer(help="Queued jobs in the jobs DB.", no_args_is_help=True)

Ids = Annotated[list[int] | None, typer.Argument(help="job ids (or use filters)")]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def jobs_table(rows: list[JobRow]) -> Table:
    now = datetime.now(UTC)
    table = Table("id", "type", "config", "team", "state", "run_at", "attempts", "queue", "key")
    for r in rows:
        state = r.state(now) + (" (paused)" if r.paused else "")
        attempts = f"{r.attempts}/{r.max_attempts or '-'}"
        table.add_row(
            str(r.id),
            r.type,
            str(r.plugin_config_id),
            str(r.team_id),
            state,
            _when(r.run_at),
            attempts,
            r.queue_name or "",
            r.key or "",
        )
    return table


def print_change(result: ChangeResult[JobRow], as_json: bool, noun: str = "jobs") -> None:
    if as_json:
        print_json(result)
        return
    if result.dry_run:
        out.print(f"dry run: {result.action} would apply to {result.matched} {noun}")
        if result.sample:
            out.print(jobs_table(result.sample))
        return
    out.print(f"{result.action}: changed {result.changed} of {result.matched} {noun}")


def _change(
    action: str,
    target: Target,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    actor: str | None,
    do: Callable[[OpsContext, Target, bool, Progress], Awaitable[ChangeResult[JobRow]]],
) -> None:
    settings = cli_settings()

    async def go() -> ChangeResult[JobRow]:
        async with ops_context(settings, actor) as ctx:
            if not dry_run:
                preview = await do(ctx, target, True, lambda d, t: None)
                confirm(f"{action} {preview.matched} job(s)?", yes)
            with progress_bar(action, as_json or dry_run) as progress:
                return await do(ctx, target, dry_run, progress)

    print_change(run(go()), as_json)


@app.command("list")
def list_cmd(
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    state: State = None,
    since: Since = None,
    error_like: ErrorLike = None,
    limit: Limit = 50,
    after: Annotated[int, typer.Option(help="ids above this one (the next page)")] = 0,
    as_json: Json = False,
) -> None:
    """List queued jobs (id order), with filters."""
    where = job_filter(plugin, config, team, job_type, queue, key, state, since, error_like)
    settings = cli_settings()

    async def go() -> tuple[int, list[JobRow]]:
        async with ops_context(settings) as ctx:
            return await ops_jobs.list_jobs(ctx, where, limit, after)

    total, rows = run(go())
    if as_json:
        print_json({"total": total, "jobs": rows})
        return
    out.print(jobs_table(rows))
    out.print(f"{len(rows)} of {total} matching job(s) shown")


@app.command("show")
def show_cmd(job_id: int, as_json: Json = False) -> None:
    """One queued job, with its payload and last error."""
    settings = cli_settings()

    async def go() -> JobRow:
        async with ops_context(settings) as ctx:
            return await ops_jobs.show_job(ctx, job_id)

    job = run(go())
    if as_json:
        print_json(job)
        return
    out.print(jobs_table([job]))
    out.print(f"payload: {json.dumps(job.payload)}")
    if job.locked_by:
        out.print(f"running on {job.locked_by} since {_when(job.locked_at)}")
    if job.last_error:
        out.print(f"last error: {job.last_error}")


def _target(ids: list[int] | None, where: JobFilter, everything: bool) -> Target:
    return Target(tuple(ids or ()), where, everything)


@app.command("run-now")
def run_now_cmd(
    ids: Ids = None,
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    state: State = None,
    since: Since = None,
    error_like: ErrorLike = None,
    everything: AllRows = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Make jobs due now (running jobs are left alone)."""
    where = job_filter(plugin, config, team, job_type, queue, key, state, since, error_like)

    async def do(ctx: OpsContext, t: Target, dry: bool, p: Progress) -> ChangeResult[JobRow]:
        return await ops_jobs.run_now(ctx, t, dry_run=dry, progress=p)

    _change("run now", _target(ids, where, everything), dry_run, yes, as_json, actor, do)


def _run_at(at: str | None, run_in: str | None) -> datetime:
    if (at is None) == (run_in is None):
        raise UsageError("jobs reschedule: give exactly one of --at TIME or --in DURATION")
    if run_in is not None:
        return datetime.now(UTC) + parse_duration(run_in, "--in")
    assert at is not None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(
            f"--at {at!r} is not an ISO 8601 time, e.g. 2026-11-30T04:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("reschedule")
def reschedule_cmd(
    ids: Ids = None,
    at: Annotated[str | None, typer.Option(help="new run_at, ISO 8601 (UTC if naive)")] = None,
    run_in: Annotated[str | None, typer.Option("--in", help="new run_at from now: 10m")] = None,
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    state: State = None,
    since: Since = None,
    error_like: ErrorLike = None,
    everything: AllRows = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Move jobs to another run_at (running jobs are left alone)."""
    when = _run_at(at, run_in)
    where = job_filter(plugin, config, team, job_type, queue, key, state, since, error_like)

    async def do(ctx: OpsContext, t: Target, dry: bool, p: Progress) -> ChangeResult[JobRow]:
        return await ops_jobs.reschedule(ctx, t, when, dry_run=dry, progress=p)

    _change("reschedule", _target(ids, where, everything), dry_run, yes, as_json, actor, do)


@app.command("cancel")
def cancel_cmd(
    ids: Ids = None,
    plugin: Plugin = None,
    config: Config = None,
    team: Team = None,
    job_type: JobType = None,
    queue: Queue = None,
    key: Key = None,
    state: State = None,
    since: Since = None,
    error_like: ErrorLike = None,
    everything: AllRows = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Delete queued jobs that no runner holds (running ones finish as they would)."""
    where = job_filter(plugin, config, team, job_type, queue, key, state, since, error_like)

    async def do(ctx: OpsContext, t: Target, dry: bool, p: Progress) -> ChangeResult[JobRow]:
        return await ops_jobs.cancel(ctx, t, dry_run=dry, progress=p)

    _change("cancel", _target(ids, where, everything), dry_run, yes, as_json, actor, do)

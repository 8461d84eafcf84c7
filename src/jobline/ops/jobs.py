"""Queued jobs: list, show, run now, reschedule, cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from jobline.errors import NotFound
from jobline.ops.changes import (
    Change,
    ChangeResult,
    Progress,
    Target,
    missing_ids,
    no_progress,
    run_change,
)
from jobline.ops.context import OpsContext
from jobline.ops.filters import JobFilter
from jobline.store.admin_rows import JobRow

#: (ids) -> rows changed
ApplyIds = Callable[[list[int]], Awaitable[int]]


async def list_jobs(
    ctx: OpsContext, where: JobFilter, limit: int = 50, after_id: int = 0
) -> tuple[int, list[JobRow]]:
    """How many jobs match, and the first `limit` of them after `after_id` (id order)."""
    row_filter = await ctx.row_filter(where)
    total = await ctx.store.count_jobs(row_filter)
    return total, await ctx.store.jobs_page(row_filter, after_id, limit)


async def show_job(ctx: OpsContext, job_id: int) -> JobRow:
    job = await ctx.store.get_job(job_id)
    if job is None:
        raise NotFound(
            f"no queued job with id {job_id}: it ran and was deleted, or failed "
            f"(`jobline failed show {job_id}`)"
        )
    return job


async def _jobs_change(
    ctx: OpsContext,
    action: str,
    target: Target,
    apply_ids: ApplyIds,
    options: Mapping[str, object] | None = None,
) -> Change[JobRow]:
    row_filter = await ctx.row_filter(target.where, list(target.ids) or None)
    if target.ids:
        found = await ctx.store.jobs_page(row_filter, 0, len(target.ids))
        missing_ids(target.ids, found, "jobs")

    async def apply(rows: list[JobRow]) -> int:
        return await apply_ids([r.id for r in rows])

    async def audit(name: str, filter: dict[str, object], affected: int) -> None:
        await ctx.store.audit(ctx.actor, name, filter, affected)

    return Change(
        action,
        lambda: ctx.store.count_jobs(row_filter),
        lambda after, limit: ctx.store.jobs_page(row_filter, after, limit),
        apply,
        audit,
        dict(options or {}),
    )


async def run_now(
    ctx: OpsContext, target: Target, *, dry_run: bool, progress: Progress = no_progress
) -> ChangeResult[JobRow]:
    """Make the selected jobs due now (running ones are left alone)."""
    target.check("jobs run-now")
    change = await _jobs_change(ctx, "jobs.run_now", target, ctx.store.run_jobs_now)
    return await run_change(change, target, dry_run=dry_run, progress=progress)


async def reschedule(
    ctx: OpsContext,
    target: Target,
    run_at: datetime,
    *,
    dry_run: bool,
    progress: Progress = no_progress,
) -> ChangeResult[JobRow]:
    target.check("jobs reschedule")

    async def move(ids: list[int]) -> int:
        return await ctx.store.reschedule_jobs(ids, run_at)

    options = {"run_at": run_at.isoformat()}
    change = await _jobs_change(ctx, "jobs.reschedule", target, move, options)
    return await run_change(change, target, dry_run=dry_run, progress=progress)


async def cancel(
    ctx: OpsContext, target: Target, *, dry_run: bool, progress: Progress = no_progress
) -> ChangeResult[JobRow]:
    """Delete the selected jobs that no runner holds (running ones finish as they would)."""
    target.check("jobs cancel")
    change = await _jobs_change(ctx, "jobs.cancel", target, ctx.store.cancel_jobs)
    return await run_change(change, target, dry_run=dry_run, progress=progress)

"""Permanently failed jobs: list, group by cause, show, retry (optionally spread), delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobline.errors import NotFound, UsageError
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
from jobline.store.admin_rows import FailedJobRow, FailureGroup, RowFilter


def _no_state(where: JobFilter) -> None:
    if where.state is not None:
        raise UsageError(
            f"--state {where.state.value} does not apply to failed jobs (they are not queued); "
            "use --since or --error-like"
        )


async def list_failed(
    ctx: OpsContext, where: JobFilter, limit: int = 50, after_id: int = 0
) -> tuple[int, list[FailedJobRow]]:
    _no_state(where)
    row_filter = await ctx.row_filter(where)
    total = await ctx.store.count_failed(row_filter)
    return total, await ctx.store.failed_page(row_filter, after_id, limit)


async def group_failed(ctx: OpsContext, where: JobFilter, limit: int = 50) -> list[FailureGroup]:
    """Failed jobs counted by job type and error fingerprint, most frequent first."""
    _no_state(where)
    return await ctx.store.group_failed(await ctx.row_filter(where), limit)


async def show_failed(ctx: OpsContext, job_id: int) -> FailedJobRow:
    job = await ctx.store.get_failed(job_id)
    if job is None:
        raise NotFound(
            f"no failed job with id {job_id}: list them with `jobline failed list` "
            f"(a queued job? `jobline jobs show {job_id}`)"
        )
    return job


def spread_run_ats(
    start: datetime, first_index: int, count: int, total: int, window: timedelta
) -> list[datetime]:
    """Run times for rows first_index..first_index+count of `total`, evenly over `window`."""
    # One rounding per job (not a rounded step multiplied), so the last stays inside.
    return [start + window * ((first_index + i) / total) for i in range(count)]


async def _failed_change(ctx: OpsContext, action: str, target: Target) -> tuple[RowFilter, Any]:
    _no_state(target.where)
    row_filter = await ctx.row_filter(target.where, list(target.ids) or None)
    if target.ids:
        found = await ctx.store.failed_page(row_filter, 0, len(target.ids))
        missing_ids(target.ids, found, "failed jobs")

    async def audit(name: str, filter: dict[str, Any], affected: int) -> None:
        await ctx.store.audit(ctx.actor, name, filter, affected)

    return row_filter, audit


async def retry(
    ctx: OpsContext,
    target: Target,
    *,
    reset_attempts: bool = False,
    spread: timedelta = timedelta(0),
    dry_run: bool,
    progress: Progress = no_progress,
) -> ChangeResult[FailedJobRow]:
    """Put failed jobs back in the queue under their ids, due now or spread over `spread`
    (so that a retry of thousands does not hit the handlers at once)."""
    target.check("failed retry")
    row_filter, audit = await _failed_change(ctx, "failed.retry", target)
    start = datetime.now(UTC)
    seen = 0
    total = await ctx.store.count_failed(row_filter)

    async def apply(rows: list[FailedJobRow]) -> int:
        nonlocal seen
        run_ats = spread_run_ats(start, seen, len(rows), total, spread)
        seen += len(rows)
        return await ctx.store.retry_failed([r.id for r in rows], run_ats, reset_attempts)

    change = Change(
        "failed.retry",
        lambda: ctx.store.count_failed(row_filter),
        lambda after, limit: ctx.store.failed_page(row_filter, after, limit),
        apply,
        audit,
        {"reset_attempts": reset_attempts, "spread_s": spread.total_seconds()},
    )
    return await run_change(change, target, dry_run=dry_run, progress=progress)


async def delete(
    ctx: OpsContext, target: Target, *, dry_run: bool, progress: Progress = no_progress
) -> ChangeResult[FailedJobRow]:
    target.check("failed delete")
    row_filter, audit = await _failed_change(ctx, "failed.delete", target)

    async def apply(rows: list[FailedJobRow]) -> int:
        return await ctx.store.delete_failed([r.id for r in rows])

    change = Change(
        "failed.delete",
        lambda: ctx.store.count_failed(row_filter),
        lambda after, limit: ctx.store.failed_page(row_filter, after, limit),
        apply,
        audit,
    )
    return await run_change(change, target, dry_run=dry_run, progress=progress)

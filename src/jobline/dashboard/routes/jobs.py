"""Jobs: filtered, keyset-paginated list (never a count of the whole table per request),
job detail, and run now / reschedule / cancel on a selection or on all matching jobs after
a count preview."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobline.dashboard.web import back_to, filter_query, job_filter, ops, render
from jobline.errors import UsageError
from jobline.ops import jobs as ops_jobs
from jobline.ops.changes import ChangeResult, Target
from jobline.ops.context import OpsContext
from jobline.ops.filters import parse_duration
from jobline.store.admin_rows import JobRow

PAGE_SIZES = (50, 100, 500)
ACTIONS = ("run_now", "reschedule", "cancel")


def _page_size(request: Request) -> int:
    asked = request.query_params.get("limit", "")
    return int(asked) if asked.isdigit() and int(asked) in PAGE_SIZES else PAGE_SIZES[0]


async def jobs_page(request: Request) -> Response:
    ctx = await ops(request)
    where = job_filter(request.query_params)
    after = request.query_params.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    limit = _page_size(request)
    row_filter = await ctx.row_filter(where)
    # One row more than shown tells whether a next page exists, without counting.
    rows = await ctx.store.jobs_page(row_filter, after_id, limit + 1)
    return render(
        request,
        "jobs.html",
        page="jobs",
        rows=rows[:limit],
        next_after=rows[limit - 1].id if len(rows) > limit else None,
        after=after_id,
        limit=limit,
        filters=filter_query(request.query_params),
        masked_fields=request.app.state.options.masked,
    )


async def job_detail(request: Request) -> Response:
    ctx = await ops(request)
    job = await ops_jobs.show_job(ctx, int(request.path_params["job_id"]))
    runner = next((r for r in await ctx.store.list_runners() if r.id == job.locked_by), None)
    return render(
        request,
        "job.html",
        page="jobs",
        job=job,
        runner=runner,
        masked_fields=request.app.state.options.masked,
    )


async def _change(
    ctx: OpsContext, action: str, target: Target, form: FormData, dry_run: bool
) -> ChangeResult[JobRow]:
    if action == "run_now":
        return await ops_jobs.run_now(ctx, target, dry_run=dry_run)
    if action == "cancel":
        return await ops_jobs.cancel(ctx, target, dry_run=dry_run)
    if action == "reschedule":
        delay = str(form.get("delay") or "")
        if not delay.strip():
            raise UsageError("reschedule: say when, e.g. 10m or 2h (from now)")
        run_at = datetime.now(UTC) + parse_duration(delay, "delay")
        return await ops_jobs.reschedule(ctx, target, run_at, dry_run=dry_run)
    raise UsageError(f"action={action!r}: use one of {', '.join(ACTIONS)}")


def _target(form: FormData) -> Target:
    if form.get("scope") == "all":
        where = job_filter(form)
        return Target(where=where, everything=where.is_empty())
    ids = tuple(int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit())
    if not ids:
        raise UsageError("select at least one job, or act on all matching jobs")
    return Target(ids=ids)


async def preview(request: Request) -> Response:
    """How many jobs an action on all matching jobs would change (a dry run), and the
    button that does it."""
    ctx = await ops(request)
    form = await request.form()
    action = str(form.get("action", ""))
    result = await _change(ctx, action, _target(form), form, dry_run=True)
    filters = filter_query(form)
    return render(
        request, "_jobs_preview.html", result=result, action=action, filters=filters,
        delay=form.get("delay", ""),
    )  # fmt: skip


async def act(request: Request) -> Response:
    ctx = await ops(request)
    form = await request.form()
    action = str(form.get("action", ""))
    result = await _change(ctx, action, _target(form), form, dry_run=False)
    done = f"{action.replace('_', ' ')}: {result.changed} of {result.matched} job(s)"
    back = str(form.get("back", "jobs"))
    # Only a dashboard path (a form field never sends the browser elsewhere), and never a
    # cancelled job's page.
    if action == "cancel" or not back.startswith("jobs"):
        back = "jobs"
    return back_to(request, back, done=done)


routes = [
    Route("/jobs", jobs_page),
    Route("/jobs/preview", preview, methods=["POST"]),
    Route("/jobs/action", act, methods=["POST"]),
    Route("/jobs/{job_id:int}", job_detail),
]

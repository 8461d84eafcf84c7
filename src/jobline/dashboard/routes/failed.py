"""Failed: permanently failed jobs grouped by job type and error fingerprint, the jobs of
one group, and retry (spread over a window) or delete of a group."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobline.dashboard.web import back_to, filter_query, job_filter, ops, render
from jobline.errors import UsageError
from jobline.ops import failed as ops_failed
from jobline.ops.changes import Target
from jobline.ops.filters import JobFilter, parse_duration

GROUPS_SHOWN = 100
JOBS_SHOWN = 100


async def failed_page(request: Request) -> Response:
    ctx = await ops(request)
    where = job_filter(request.query_params, with_state=False)
    groups = await ops_failed.group_failed(ctx, where, GROUPS_SHOWN)
    jobs = None
    if where.fingerprint is not None or where.type is not None:
        # One group (or type) opened: its jobs, first page, counted (a group is small).
        jobs = await ops_failed.list_failed(ctx, where, JOBS_SHOWN)
    return render(
        request,
        "failed.html",
        page="failed",
        groups=groups,
        jobs=jobs,
        filters=filter_query(request.query_params),
        masked_fields=request.app.state.options.masked,
    )


def _group_target(form_type: object, fingerprint: object) -> Target:
    if not isinstance(form_type, str) or not isinstance(fingerprint, str) or not form_type:
        raise UsageError("a failure group is named by its job type and error fingerprint")
    return Target(where=JobFilter(type=form_type, fingerprint=fingerprint))


async def retry_group(request: Request) -> Response:
    ctx = await ops(request)
    form = await request.form()
    target = _group_target(form.get("type"), form.get("fingerprint"))
    spread_text = str(form.get("spread") or "").strip()
    spread = parse_duration(spread_text, "spread") if spread_text else timedelta(0)
    reset = form.get("reset_attempts") == "on"
    result = await ops_failed.retry(ctx, target, reset_attempts=reset, spread=spread, dry_run=False)
    over = f" spread over {spread_text}" if spread_text else ""
    kept = result.matched - result.changed
    note = f" ({kept} kept: a queued job holds their key)" if kept else ""
    done = f"retried {result.changed} of {result.matched} failed job(s){over}{note}"
    return back_to(request, "failed", done=done)


async def delete_group(request: Request) -> Response:
    ctx = await ops(request)
    form = await request.form()
    target = _group_target(form.get("type"), form.get("fingerprint"))
    result = await ops_failed.delete(ctx, target, dry_run=False)
    return back_to(request, "failed", done=f"deleted {result.changed} failed job(s)")


routes = [
    Route("/failed", failed_page),
    Route("/failed/retry", retry_group, methods=["POST"]),
    Route("/failed/delete", delete_group, methods=["POST"]),
]

"""Runners: host, pid, heartbeat age, running jobs, drain state; drain one; rescue the
jobs of dead runners now. Audit: who did what, with which filter, to how many rows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobline.dashboard.web import back_to, ops, render
from jobline.ops import runners as ops_runners

AUDIT_SHOWN = 500


async def runners_page(request: Request) -> Response:
    ctx = await ops(request)
    rows = await ops_runners.list_runners(ctx)
    dead_after = request.app.state.settings.runner_dead_after_s
    return render(request, "runners.html", page="runners", runners=rows, dead_after=dead_after)


async def drain(request: Request) -> Response:
    ctx = await ops(request)
    runner = await ops_runners.drain(ctx, str(request.path_params["runner_id"]))
    return back_to(request, "runners", done=f"runner {runner.id} drains: it stops fetching")


async def rescue(request: Request) -> Response:
    ctx = await ops(request)
    result = await ops_runners.rescue(ctx)
    done = f"rescued {result.rescued} job(s) of dead runners ({result.moved_to_failed} failed)"
    return back_to(request, "runners", done=done)


async def audit_page(request: Request) -> Response:
    ctx = await ops(request)
    actor = request.query_params.get("actor", "").strip()
    action = request.query_params.get("action", "").strip()
    entries = [
        e
        for e in await ctx.store.recent_audit(AUDIT_SHOWN)
        if (not actor or e.actor == actor) and (not action or e.action.startswith(action))
    ]
    return render(request, "audit.html", page="audit", entries=entries, actor=actor, action=action)


routes = [
    Route("/runners", runners_page),
    Route("/runners/rescue", rescue, methods=["POST"]),
    Route("/runners/{runner_id:str}/drain", drain, methods=["POST"]),
    Route("/audit", audit_page),
]

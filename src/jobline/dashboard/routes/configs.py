"""Plugin configs: backlog, failures, enabled / paused / skipped; pause, resume, skip,
unskip (through the operations layer: audited, effective without a restart)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobline.dashboard.web import back_to, ops, render
from jobline.errors import UsageError
from jobline.ops import configs as ops_configs
from jobline.store.dashboard_reads import ConfigLoad, DashboardReads

ACTIONS = ("pause", "resume", "skip", "unskip")


async def configs_page(request: Request) -> Response:
    ctx = await ops(request)
    configs = await (await ctx.main_db()).list_configs()
    loads = await DashboardReads(ctx.jobs_db).config_loads()
    paused = {p.plugin_config_id: p for p in await ops_configs.paused(ctx)}
    skipped = {s.plugin_config_id: s for s in await ops_configs.skipped(ctx)}
    return render(
        request,
        "configs.html",
        page="configs",
        configs=configs,
        loads=loads,
        no_load=ConfigLoad(),
        paused=paused,
        skipped=skipped,
    )


async def change(request: Request) -> Response:
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise UsageError(f"{action!r} is not a plugin config action: use {', '.join(ACTIONS)}")
    ctx = await ops(request)
    result = await ops_configs.change_config(ctx, action, int(request.path_params["config_id"]))
    return back_to(request, "configs", done=result.message)


routes = [
    Route("/configs", configs_page),
    Route("/configs/{config_id:int}/{action:str}", change, methods=["POST"]),
]

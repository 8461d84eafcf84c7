"""Runner processes: list them, drain one (it stops fetching), rescue dead runners' jobs."""

from __future__ import annotations

from dataclasses import dataclass

from jobline.errors import NotFound
from jobline.ops.context import OpsContext
from jobline.store import RescueParams
from jobline.store.admin_rows import RunnerRow


@dataclass(frozen=True)
class RescueResult:
    rescued: int
    moved_to_failed: int
    job_ids: list[int]


async def list_runners(ctx: OpsContext) -> list[RunnerRow]:
    return await ctx.store.list_runners()


async def drain(ctx: OpsContext, runner_id: str) -> RunnerRow:
    """Ask a runner to stop fetching; it finishes what it holds and keeps beating."""
    if not await ctx.store.drain_runner(runner_id):
        raise NotFound(
            f"no runner with id {runner_id!r} (a stopped runner's row is removed): "
            "list them with `jobline runners list`"
        )
    await ctx.store.audit(ctx.actor, "runners.drain", {"runner": runner_id}, 1)
    return next(r for r in await ctx.store.list_runners() if r.id == runner_id)


async def rescue(ctx: OpsContext, dead_after_s: float | None = None) -> RescueResult:
    """Run the dead-runner rescue now (the runners' heartbeats do it every few beats)."""
    s = ctx.settings
    after = s.runner_dead_after_s if dead_after_s is None else dead_after_s
    rescued = await ctx.jobs_db.rescue_dead_runners(RescueParams(after, s.max_attempts))
    used_up = sum(1 for r in rescued if r.attempts >= (r.max_attempts or s.max_attempts))
    await ctx.store.audit(ctx.actor, "runners.rescue", {"dead_after_s": after}, len(rescued))
    return RescueResult(len(rescued), used_up, [r.id for r in rescued])

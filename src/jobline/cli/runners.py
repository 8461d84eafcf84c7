"""`jobline runners list|drain|rescue`: runner processes and their heartbeats."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from jobline.cli.common import Actor, Json, Yes, cli_settings, confirm, out, print_json, run
from jobline.config import load_settings
from jobline.ops import runners as ops_runners
from jobline.ops.context import ops_context
from jobline.ops.runners import RescueResult
from jobline.store.admin_rows import RunnerRow

app = typer.Typer(help="Runner processes: heartbeats, drain, rescue.", no_args_is_help=True)


def runners_table(rows: list[RunnerRow], dead_after_s: float) -> Table:
    table = Table("id", "host", "pid", "state", "last beat", "running", "started")
    for r in rows:
        state = "dead" if r.beat_age_s > dead_after_s else "live"
        if r.drain_requested_at is not None:
            state += ", draining"
        table.add_row(
            r.id,
            r.hostname,
            str(r.pid),
            state,
            f"{r.beat_age_s:.1f} s ago",
            str(r.running),
            r.started_at.isoformat(timespec="seconds"),
        )
    return table


@app.command("list")
def list_cmd(as_json: Json = False) -> None:
    """Runners with their heartbeat age, jobs held and drain state."""
    settings = cli_settings()

    async def go() -> list[RunnerRow]:
        async with ops_context(settings) as ctx:
            return await ops_runners.list_runners(ctx)

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    out.print(runners_table(rows, settings.runner_dead_after_s))
    out.print(f"{len(rows)} runner(s)")


def _complete_runner(incomplete: str) -> list[str]:
    """Shell completion: the runner ids in the jobs DB (none if it does not answer)."""

    async def ids() -> list[str]:
        async with ops_context(load_settings()) as ctx:
            return [r.id for r in await ops_runners.list_runners(ctx)]

    try:
        return [i for i in run(ids()) if i.startswith(incomplete)]
    except Exception:  # completion must never fail loudly
        return []


@app.command("drain")
def drain_cmd(
    runner_id: Annotated[
        str,
        typer.Argument(
            help="runner id, from `jobline runners list`", autocompletion=_complete_runner
        ),
    ],
    yes: Yes = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Make a runner stop fetching; it finishes what it runs. Restart it to undo."""
    settings = cli_settings()

    async def go() -> RunnerRow:
        async with ops_context(settings, actor) as ctx:
            confirm(f"drain runner {runner_id} (it stops fetching jobs until restarted)?", yes)
            return await ops_runners.drain(ctx, runner_id)

    row = run(go())
    if as_json:
        print_json(row)
        return
    out.print(
        f"runner {row.id} asked to drain: it stops fetching within its heartbeat "
        f"(JOBLINE_RUNNER_HEARTBEAT_S) and finishes its {row.running} running job(s)"
    )


@app.command("rescue")
def rescue_cmd(
    dead_after: Annotated[
        float | None,
        typer.Option(help="seconds of silence that make a runner dead (default: the setting)"),
    ] = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Unlock the jobs of runners whose heartbeat stopped, now (they are due again)."""
    settings = cli_settings()

    async def go() -> RescueResult:
        async with ops_context(settings, actor) as ctx:
            return await ops_runners.rescue(ctx, dead_after)

    result = run(go())
    if as_json:
        print_json(result)
        return
    out.print(
        f"rescued {result.rescued} job(s) of dead runners; {result.moved_to_failed} had used "
        "their attempts and moved to failed jobs"
    )

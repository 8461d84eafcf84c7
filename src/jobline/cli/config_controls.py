"""`jobline configs pause|resume|skip|unskip|controls`: run-time switches of a plugin config.

pause: its jobs stay stored, the runners' fetch passes them by, until resume.
skip: the intake drops its triggers (counted as `skipped`), until unskip.
Both take effect without a restart (the intake re-reads skips every few seconds).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from jobline.cli.common import Actor, Json, cli_settings, out, print_json, run
from jobline.ops import configs as ops_configs
from jobline.ops.configs import ConfigChange
from jobline.ops.context import ops_context

ConfigId = Annotated[int, typer.Argument(help="plugin config id")]


def _change(action: str, config_id: int, actor: str | None, as_json: bool) -> None:
    settings = cli_settings()

    async def go() -> ConfigChange:
        async with ops_context(settings, actor) as ctx:
            return await ops_configs.change_config(ctx, action, config_id)

    result = run(go())
    if as_json:
        print_json(result)
    else:
        out.print(result.message)


def pause(config_id: ConfigId, actor: Actor = None, as_json: Json = False) -> None:
    """Keep the config's jobs stored but out of the runners' fetch."""
    _change("pause", config_id, actor, as_json)


def resume(config_id: ConfigId, actor: Actor = None, as_json: Json = False) -> None:
    """Let the runners fetch the config's jobs again."""
    _change("resume", config_id, actor, as_json)


def skip(config_id: ConfigId, actor: Actor = None, as_json: Json = False) -> None:
    """Drop the config's triggers at the intake (not stored; counted as skipped)."""
    _change("skip", config_id, actor, as_json)


def unskip(config_id: ConfigId, actor: Actor = None, as_json: Json = False) -> None:
    """Store the config's triggers again."""
    _change("unskip", config_id, actor, as_json)


def controls(as_json: Json = False) -> None:
    """Paused and skipped plugin configs."""
    settings = cli_settings()

    async def go() -> dict[str, Any]:
        async with ops_context(settings) as ctx:
            return {
                "paused": await ops_configs.paused(ctx),
                "skipped": await ops_configs.skipped(ctx),
                "skipped_by_env": sorted(settings.skipped_config_ids),
            }

    found = run(go())
    if as_json:
        print_json(found)
        return
    table = Table("config", "state", "since", "by", "jobs stored")
    for p in found["paused"]:
        table.add_row(str(p.plugin_config_id), "paused", str(p.paused_at), p.paused_by, str(p.jobs))
    for s in found["skipped"]:
        table.add_row(str(s.plugin_config_id), "skipped", str(s.skipped_at), s.skipped_by, "")
    for c in found["skipped_by_env"]:
        table.add_row(str(c), "skipped", "", "JOBLINE_INTAKE_SKIP_CONFIGS", "")
    out.print(table)


def register(configs_app: typer.Typer) -> None:
    """Add these commands to `jobline configs` (defined in cli/main.py)."""
    for command in (pause, resume, skip, unskip, controls):
        configs_app.command(command.__name__)(command)

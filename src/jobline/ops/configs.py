"""Pause / resume (runners pass a config's jobs by) and skip / unskip (the intake drops its
triggers) plugin configs, at run time, without a restart."""

from __future__ import annotations

from dataclasses import dataclass

from jobline.ops.context import OpsContext
from jobline.store.admin_rows import PausedConfig, SkippedConfig

# action -> (admin.sql query, past tense for messages)
_ACTIONS = {
    "pause": ("pause_config", "paused"),
    "resume": ("resume_config", "resumed"),
    "skip": ("skip_config", "skipped"),
    "unskip": ("unskip_config", "unskipped"),
}


@dataclass(frozen=True)
class ConfigChange:
    action: str
    plugin_config_id: int
    #: False when it was in that state already (nothing changed, nothing audited)
    changed: bool
    message: str


async def change_config(ctx: OpsContext, action: str, config_id: int) -> ConfigChange:
    """pause | resume | skip | unskip one config; an unknown config id is NotFound."""
    query, done = _ACTIONS[action]
    await ctx.config(config_id)
    changed = await ctx.store.set_config_flag(query, config_id, ctx.actor)
    if changed:
        await ctx.store.audit(ctx.actor, f"configs.{action}", {"config": config_id}, 1)
    state = done if changed else f"already {done}"
    return ConfigChange(action, config_id, changed, f"plugin config {config_id} {state}")


async def paused(ctx: OpsContext) -> list[PausedConfig]:
    return await ctx.store.paused_configs()


async def skipped(ctx: OpsContext) -> list[SkippedConfig]:
    return await ctx.store.skipped_configs()

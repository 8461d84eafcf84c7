"""`jobline logs --config ID [--follow]`: what one plugin config's handlers logged."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console

from jobline.config import load_settings
from jobline.databases import main_db_for
from jobline.errors import UnknownPluginConfig
from jobline.logs import configure_logging
from jobline.migrator import opened
from jobline.plugins.configs import MainDB
from jobline.plugins.plugin_logs import StoredLogEntry, read_plugin_logs

out = Console(soft_wrap=True, highlight=False)

_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


def logs(
    config_id: Annotated[int, typer.Option("--config", help="plugin config id")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new entries")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="entries to show first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Show the plugin log entries of one plugin config (meta.logger), oldest first."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    db = main_db_for(settings)
    asyncio.run(_show(db, config_id, follow=follow, lines=lines, as_json=as_json))


async def _show(db: MainDB, config_id: int, *, follow: bool, lines: int, as_json: bool) -> None:
    async with opened(db, migrate_first=False):
        if await db.get_config(config_id) is None:
            raise UnknownPluginConfig(config_id)
        entries = await read_plugin_logs(db, config_id, after_id=None, limit=lines)
        last_id = _print(entries, as_json, 0)
        while follow:
            await asyncio.sleep(1.0)
            entries = await read_plugin_logs(db, config_id, after_id=last_id, limit=1000)
            last_id = _print(entries, as_json, last_id)


def _print(entries: list[StoredLogEntry], as_json: bool, last_id: int) -> int:
    for e in entries:
        if as_json:
            out.print(json.dumps(_as_dict(e), default=str), markup=False)
            continue
        where = f" job {e.job_id} ({e.job_type})" if e.job_id is not None else ""
        fields = " ".join(f"{k}={v!r}" for k, v in e.fields.items())
        line = (
            f"{e.logged_at.isoformat(timespec='seconds')} {e.level:<7}{where} {e.message} {fields}"
        )
        out.print(line.rstrip(), style=_STYLES.get(e.level, ""), markup=False)
    return entries[-1].id if entries else last_id


def _as_dict(e: StoredLogEntry) -> dict[str, object]:
    return {
        "id": e.id,
        "level": e.level,
        "message": e.message,
        "fields": e.fields,
        "job_id": e.job_id,
        "job_type": e.job_type,
        "logged_at": e.logged_at.isoformat(),
    }

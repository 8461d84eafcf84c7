"""The `jobline` command: serve, migrate, enqueue, configs, and the operator commands."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from confluent_kafka import KafkaException
from rich.console import Console
from rich.table import Table

from jobline import event_loop
from jobline.cli import attachments as cli_attachments
from jobline.cli import audit, config_controls, dlq, doctor_cmd, failed, jobs, runners, status_cmd
from jobline.cli import logs as cli_logs
from jobline.cli.common import report_and_exit, version_option
from jobline.cli.dashboard import dashboard as dashboard_command
from jobline.cli.migrations import migrate_report
from jobline.config import SchemaFrom, Settings, load_settings
from jobline.databases import jobs_db_for, main_db_for
from jobline.errors import JoblineError, UnknownPluginConfig, UsageError
from jobline.logs import configure_logging
from jobline.migrator import opened
from jobline.producer.trigger import Jobs
from jobline.server.app import Server
from jobline.server.capabilities import resolve_capabilities

T = TypeVar("T")

app = typer.Typer(
    help="jobline: the jobs tier of a plugin platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
configs_app = typer.Typer(help="Plugin configs in the main DB.", no_args_is_help=True)
app.add_typer(configs_app, name="configs")
app.command("logs")(cli_logs.logs)
configs_app.command("attach")(cli_attachments.attach)
configs_app.command("detach")(cli_attachments.detach)
app.callback()(version_option)
app.command("dashboard")(dashboard_command)
app.add_typer(jobs.app, name="jobs")
app.add_typer(failed.app, name="failed")
app.add_typer(dlq.app, name="dlq")
app.add_typer(runners.app, name="runners")
config_controls.register(configs_app)
app.command("audit")(audit.audit)

status_cmd.register(app)
doctor_cmd.register(app)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings(**overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _json_arg(value: str, option: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{option} {value!r} is not valid JSON: {exc.msg} at column "
            f"{exc.colno}; quote it for the shell, e.g. '{{\"a\": 1}}'"
        ) from None


@app.command()
def serve(
    mode: Annotated[str | None, typer.Option(help="all | jobs | scheduler | api")] = None,
    capabilities: Annotated[
        str | None, typer.Option(help="comma list of intake,runner,scheduler,http")
    ] = None,
) -> None:
    """Run this process's capabilities until SIGTERM/SIGINT."""
    overrides: dict[str, Any] = {}
    if mode is not None:
        overrides["mode"] = mode
    if capabilities is not None:
        overrides["capabilities"] = capabilities
    settings = _settings(**overrides)
    caps = resolve_capabilities(settings.mode, settings.capabilities)
    _, factory = event_loop.loop_factory(settings.event_loop)
    code = event_loop.run(Server(settings, caps).run(), factory)
    sys.stdout.flush()
    sys.stderr.flush()
    # A sync handler still running past the grace holds a thread that cannot be killed;
    # its job was handed back already, so leave without waiting for it.
    os._exit(code)


@app.command()
def migrate(
    status: Annotated[bool, typer.Option("--status", help="show applied and pending")] = False,
    show_sql: Annotated[bool, typer.Option("--sql", help="print pending SQL, apply none")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="--status as JSON")] = False,
) -> None:
    """Create or upgrade the jobs DB and main DB schemas."""
    settings = _settings()
    if status or show_sql:
        migrate_report(settings, show_sql=show_sql, as_json=as_json)
        return

    async def go() -> tuple[list[int], list[int]]:
        jobs = await jobs_db_for(settings).migrate()
        main = await main_db_for(settings).migrate()
        return jobs, main

    jobs_done, main_done = _run(go())
    out.print(
        f"jobs DB: applied {jobs_done or 'nothing (up to date)'}; "
        f"main DB: applied {main_done or 'nothing (up to date)'}"
    )
    if settings.db_schema_from == SchemaFrom.ROLE:
        out.print(
            "JOBLINE_DB_SCHEMA_FROM=role: set the connecting role's search_path "
            f"({settings.schema_name}, public), statement_timeout and lock_timeout in both "
            "databases (ALTER ROLE CURRENT_USER IN DATABASE ...)"
        )


@app.command()
def enqueue(
    plugin_config: Annotated[int, typer.Option("--plugin-config", help="plugin config id")],
    job_type: Annotated[str, typer.Option("--type", help="the job's name")],
    payload: Annotated[str, typer.Option(help="JSON payload")] = "null",
    run_in: Annotated[float, typer.Option("--run-in", help="seconds from now")] = 0.0,
    key: Annotated[str | None, typer.Option(help="job key")] = None,
    queue: Annotated[str | None, typer.Option(help="queue name (one at a time)")] = None,
    priority: Annotated[int, typer.Option(help="lower runs first")] = 0,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts")] = None,
) -> None:
    """Trigger one job through the configured intake."""
    settings = _settings()
    body = _json_arg(payload, "--payload")
    config = _run(_get_config(settings, plugin_config))
    jobs = Jobs.from_settings(settings)
    try:
        trigger = jobs.for_config(plugin_config, team_id=config.team_id).job(
            job_type, body, key=key, queue=queue, priority=priority, max_attempts=max_attempts
        )
        job = trigger.run_at(datetime.now(UTC) + timedelta(seconds=run_in))
    finally:
        jobs.close()
    out.print(
        f"queued {job.type!r} for plugin config {plugin_config} (team {config.team_id}) "
        f"via {settings.intake.value} intake, due {job.run_at.isoformat()}"
    )


async def _get_config(settings: Settings, config_id: int) -> Any:
    async with opened(main_db_for(settings), migrate_first=False) as db:
        config = await db.get_config(config_id)
    if config is None:
        raise UnknownPluginConfig(config_id)
    return config


async def _with_main_db(settings: Settings, action: Any) -> Any:
    async with opened(main_db_for(settings), migrate_first=settings.migrate_on_start) as db:
        return await action(db)


@configs_app.command("add")
def configs_add(
    plugin: Annotated[str, typer.Option(help="plugin name")],
    team: Annotated[int, typer.Option(help="team id")],
    settings_json: Annotated[str, typer.Option("--settings", help="JSON object")] = "{}",
    disabled: Annotated[bool, typer.Option("--disabled", help="add it disabled")] = False,
) -> None:
    """Add a plugin config; prints its id."""
    settings = _settings()
    values = _json_arg(settings_json, "--settings")
    if not isinstance(values, dict):
        raise UsageError(f"--settings must be a JSON object, got {settings_json!r}")
    config = _run(
        _with_main_db(settings, lambda db: db.add_config(plugin, team, values, not disabled))
    )
    out.print(config.id)


@configs_app.command("list")
def configs_list() -> None:
    """List plugin configs."""
    settings = _settings()
    configs = _run(_with_main_db(settings, lambda db: db.list_configs()))
    table = Table("id", "team", "plugin", "enabled", "settings")
    for c in configs:
        table.add_row(
            str(c.id),
            str(c.team_id),
            c.plugin,
            "yes" if c.enabled else "no",
            json.dumps(c.settings),
        )
    out.print(table)


def _set_enabled(config_id: int, enabled: bool) -> None:
    settings = _settings()
    config = _run(_with_main_db(settings, lambda db: db.set_enabled(config_id, enabled)))
    if config is None:
        raise UnknownPluginConfig(config_id)
    out.print(f"plugin config {config_id} {'enabled' if enabled else 'disabled'}")


@configs_app.command("enable")
def configs_enable(config_id: int) -> None:
    """Enable a plugin config: its jobs run again."""
    _set_enabled(config_id, True)


@configs_app.command("disable")
def configs_disable(config_id: int) -> None:
    """Disable a plugin config: its jobs are kept but not run."""
    _set_enabled(config_id, False)


def main() -> None:
    try:
        app()
    except (JoblineError, psycopg.OperationalError, KafkaException) as exc:
        report_and_exit(exc)  # exit codes: cli/common.py ExitCode

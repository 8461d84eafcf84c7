"""What every operator command shares: exit codes, settings, JSON output, confirmation,
progress bars, and the filter options."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import IntEnum
from importlib import metadata
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from confluent_kafka import KafkaException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from jobline.config import Settings, load_settings
from jobline.errors import (
    ConfigError,
    DependencyUnreachable,
    JoblineError,
    NotFound,
    UsageError,
)
from jobline.logs import configure_logging
from jobline.ops.filters import JobFilter, JobState, parse_since
from jobline.plugins.registry import PluginRegistry

T = TypeVar("T")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class ExitCode(IntEnum):
    """`jobline` exit codes (README, docs/operations.md)."""

    OK = 0
    FAILURE = 1  # the command ran and something failed, or the system is unhealthy
    USAGE = 2  # a bad option or value (typer/click use 2 as well)
    CONFIGURATION = 3  # JOBLINE_* settings or env files are invalid
    UNREACHABLE = 4  # Kafka, the jobs DB or the main DB did not answer
    NOT_FOUND = 5  # an id named on the command line does not exist


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, ConfigError):
        return ExitCode.CONFIGURATION
    if isinstance(exc, UsageError):
        return ExitCode.USAGE
    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, DependencyUnreachable | psycopg.OperationalError | KafkaException):
        return ExitCode.UNREACHABLE
    return ExitCode.FAILURE


def report_and_exit(exc: JoblineError | psycopg.OperationalError | KafkaException) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
    sys.exit(exit_code_for(exc))


def cli_settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Dataclasses, lists and dicts as JSON on stdout (datetimes in ISO 8601)."""
    out.print_json(json.dumps(_plain(value), default=str))


def confirm(question: str, yes: bool) -> None:
    """Go on with --yes; ask on a terminal; refuse otherwise (a script must say --yes)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{question} Refusing without --yes (stdin is not a terminal); "
            "check the selection with --dry-run, then add --yes"
        )
    if not typer.confirm(question, default=False):
        raise typer.Exit(ExitCode.FAILURE)


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr for a bulk change; nothing when `quiet` (--json)."""
    if quiet:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def since_value(text: str | None) -> datetime | None:
    return None if text is None else parse_since(text)


# --- options shared by the commands ---------------------------------------------------------

Json = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="count and show a sample; change nothing")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do it without asking")]
Actor = Annotated[
    str | None, typer.Option(help="who makes the change, for the audit log (default: OS user)")
]
AllRows = Annotated[bool, typer.Option("--all", help="select every row (no filter)")]
Limit = Annotated[int, typer.Option(min=1, max=100_000, help="rows to show at most")]


def complete_plugin(incomplete: str) -> list[str]:
    """Shell completion: the plugins this installation loads (entry points, JOBLINE_PLUGINS)."""
    try:
        names = PluginRegistry.discover(load_settings().plugins).names()
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


Plugin = Annotated[str | None, typer.Option(help="plugin name", autocompletion=complete_plugin)]
Config = Annotated[int | None, typer.Option("--config", help="plugin config id")]
Team = Annotated[int | None, typer.Option(help="team id")]
JobType = Annotated[str | None, typer.Option("--type", help="job type (the job's name)")]
Queue = Annotated[str | None, typer.Option(help="queue name")]
Key = Annotated[str | None, typer.Option(help="job key")]
State = Annotated[JobState | None, typer.Option(help="due | scheduled | running | retrying")]
Since = Annotated[
    str | None, typer.Option(help="since a duration ago (30m, 2h, 1d) or an ISO 8601 time")
]
ErrorLike = Annotated[
    str | None,
    typer.Option("--error-like", help="substring of the last error (case-insensitive; % wildcard)"),
]


def job_filter(
    plugin: str | None = None,
    config: int | None = None,
    team: int | None = None,
    job_type: str | None = None,
    queue: str | None = None,
    key: str | None = None,
    state: JobState | None = None,
    since: str | None = None,
    error_like: str | None = None,
    fingerprint: str | None = None,
) -> JobFilter:
    return JobFilter(
        plugin=plugin,
        config=config,
        team=team,
        type=job_type,
        queue=queue,
        key=key,
        state=state,
        since=since_value(since),
        error_like=error_like,
        fingerprint=fingerprint,
    )


def _print_version(value: bool) -> None:
    if value:
        out.print(f"jobline {metadata.version('jobline')}")
        raise typer.Exit()


def version_option(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    pass

"""`jobline status [--json] [--watch S]` and `jobline top`: the pipeline on one screen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from jobline.config import load_settings
from jobline.logs import configure_logging
from jobline.status.collect import Snapshot, Target, collect
from jobline.status.view import render, status_dict

out = Console(soft_wrap=True)
#: the project's exit code for "a dependency did not answer"
EXIT_UNREACHABLE = 4


def _target(timeout_s: float) -> Target:
    settings = load_settings()
    # Probes that fail are shown in the view; the libraries' own retries would only add noise.
    configure_logging(settings.log_format, "error")
    return Target.from_settings(settings, probe_timeout_s=timeout_s)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per sample")] = False,
    watch: Annotated[
        float | None, typer.Option("--watch", help="sample again every S seconds", min=0.5)
    ] = None,
    window: Annotated[
        float, typer.Option(help="seconds over which a single sample measures the DLQ rate")
    ] = 1.0,
    timeout: Annotated[float, typer.Option(help="each probe's deadline, seconds")] = 2.5,
) -> None:
    """Per partition: high watermark, stored offset, lag, last persisted; the intake group;
    jobs due/scheduled/running/retrying/failed; oldest due job; live runners; DLQ size and
    rate. Read-only. Exit 0, or 4 when Kafka or the jobs DB did not answer."""
    target = _target(timeout)
    code = 0

    async def go() -> None:
        nonlocal code
        previous: Snapshot | None = None
        while True:
            started = time.monotonic()
            snap = await collect(target, window_s=0.0 if previous else window)
            data = status_dict(snap, previous)
            if as_json:
                print(json.dumps(data), flush=True)
            else:
                out.print(render(data))
            code = EXIT_UNREACHABLE if unreachable(snap) else 0
            if watch is None:
                return
            previous = snap
            await asyncio.sleep(max(0.0, watch - (time.monotonic() - started)))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
    _leave(code)


def unreachable(snap: Snapshot) -> bool:
    return not snap.kafka.topics.ok or not snap.db.latency.ok


def _leave(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    # A Kafka client whose broker hangs would hold the exit for its socket timeouts.
    os._exit(code)


def top(
    interval: Annotated[float, typer.Option(help="seconds between samples", min=0.5)] = 2.0,
    timeout: Annotated[float, typer.Option(help="each probe's deadline, seconds")] = 2.5,
) -> None:
    """`jobline status` as a live terminal view, refreshed every INTERVAL seconds (Ctrl-C)."""
    target = _target(timeout)

    async def go() -> None:
        previous: Snapshot | None = None
        with Live(console=out, auto_refresh=False, screen=False) as live:
            while True:
                started = time.monotonic()
                snap = await collect(target, window_s=0.0 if previous else 1.0)
                live.update(render(status_dict(snap, previous)), refresh=True)
                previous = snap
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
    _leave(0)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("top")(top)

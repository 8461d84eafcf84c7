"""`jobline status [--json] [--watch S]` and `jobline top`: the pipeline on one screen."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
    rate. Read-only."""
    target = _target(timeout)

    async def go() -> None:
        previous: Snapshot | None = None
        while True:
            started = time.monotonic()
            snap = await collect(target, window_s=0.0 if previous else window)
            data = status_dict(snap, previous)
            if as_json:
                out.print_json(json.dumps(data)) if sys.stdout.isatty() else print(
                    json.dumps(data), flush=True
                )
            else:
                out.print(render(data))
            if watch is None:
                return
            previous = snap
            await asyncio.sleep(max(0.0, watch - (time.monotonic() - started)))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


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


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("top")(top)

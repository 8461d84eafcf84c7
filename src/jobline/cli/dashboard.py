"""`jobline dashboard`: the web dashboard in a process of its own (its queries never share
a runner's event loop). Needs the `dashboard` extra: pip install 'jobline[dashboard]'."""

from __future__ import annotations

from typing import Annotated

import typer

from jobline.cli.common import cli_settings, out
from jobline.errors import ConfigError


def dashboard(
    host: Annotated[
        str, typer.Option(help="address to bind; 127.0.0.1 keeps it on this machine")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 6739,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="show everything, change nothing")
    ] = False,
) -> None:
    """Serve the dashboard: pipeline, Kafka, jobs, failed, DLQ, configs, runners, audit."""
    try:
        import uvicorn

        from jobline.dashboard.app import create_app
        from jobline.dashboard.options import load_options
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the `dashboard` extra ({exc.name} is missing): "
            "pip install 'jobline[dashboard]'"
        ) from None
    settings = cli_settings()
    options = load_options(**({"read_only": True} if read_only else {}))
    local = host in ("127.0.0.1", "localhost", "::1")
    if not local and not (options.user or options.trusted_header):
        out.print(
            f"[yellow]warning:[/] the dashboard listens on {host} without authentication: "
            "set JOBLINE_DASHBOARD_USER/PASSWORD or JOBLINE_DASHBOARD_TRUSTED_HEADER"
        )
    out.print(f"jobline dashboard on http://{host}:{port}/" + (" (read-only)" if read_only else ""))
    app = create_app(settings, options)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

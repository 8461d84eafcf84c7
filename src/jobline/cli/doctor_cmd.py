"""`jobline doctor`: walk the runbook; exit 0 ok, 1 warning, 2 failing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from jobline.config import load_settings
from jobline.doctor.model import Deployment
from jobline.doctor.options import DoctorOptions
from jobline.doctor.render import print_report
from jobline.doctor.run import BUDGET_S, run_doctor
from jobline.logs import configure_logging
from jobline.status.collect import Target

out = Console(soft_wrap=True)


JsonOption = Annotated[bool, typer.Option("--json", help="the report as one JSON object")]
NamespaceOption = Annotated[
    str, typer.Option(envvar="JOBLINE_DOCTOR_NAMESPACE", help="Kubernetes namespace of the jobs")
]
DeploymentOption = Annotated[
    str, typer.Option(envvar="JOBLINE_DOCTOR_DEPLOYMENT", help="the jobs deployment's name")
]
TimeoutOption = Annotated[float, typer.Option(help="each probe's deadline, seconds")]
WindowOption = Annotated[
    float, typer.Option(help="seconds to watch the DLQ and stored offsets move")
]
StallOption = Annotated[
    float, typer.Option(help="a partition with lag idle this long is stalled (s)")
]
LongTxOption = Annotated[float, typer.Option(help="report transactions open longer than this (s)")]
WarnOption = Annotated[float, typer.Option(help="share of usable connections that warns")]
FailOption = Annotated[float, typer.Option(help="share of usable connections that fails")]


def doctor(
    as_json: JsonOption = False,
    namespace: NamespaceOption = "default",
    deployment: DeploymentOption = "plugins-jobs",
    timeout: TimeoutOption = 2.5,
    window: WindowOption = 2.0,
    stall_after: StallOption = 60.0,
    long_transaction: LongTxOption = 60.0,
    connections_warn: WarnOption = 0.8,
    connections_fail: FailOption = 0.95,
) -> None:
    """Check Kafka, the jobs DB, the intake, the runners, the DLQ and failed jobs; name
    the failing stage and the action. Every probe has its own deadline: done within 10 s."""
    settings = load_settings()
    configure_logging(settings.log_format, "error")
    if timeout > BUDGET_S or window > BUDGET_S - 1:
        raise typer.BadParameter(
            f"--timeout {timeout:g} / --window {window:g}: the probes have {BUDGET_S:g} s in "
            f"all; keep --timeout at most {BUDGET_S:g} and --window under {BUDGET_S - 1:g}"
        )
    options = DoctorOptions(
        Deployment(namespace, deployment),
        settings.max_message_bytes,
        probe_timeout_s=timeout,
        window_s=window,
        stall_after_s=stall_after,
        long_transaction_s=long_transaction,
        connections_warn=connections_warn,
        connections_fail=connections_fail,
    )
    _report_and_leave(Target.from_settings(settings, probe_timeout_s=timeout), options, as_json)


def _report_and_leave(target: Target, options: DoctorOptions, as_json: bool) -> None:
    report = asyncio.run(run_doctor(target, options))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report, out)
    sys.stdout.flush()
    sys.stderr.flush()
    # A probe abandoned on a hung dependency may still hold a librdkafka thread; its
    # clean-up could wait on that dependency. The report is out: leave now.
    os._exit(report.verdict.exit_code)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)

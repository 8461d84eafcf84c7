"""The doctor's report for a terminal: one line per check, then the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from jobline.doctor.model import Status
from jobline.doctor.run import Report

_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.TIMEOUT: "red"}


def print_report(report: Report, console: Console) -> None:
    for check in report.checks:
        line = Text()
        line.append(f"[{check.status.value:>7}] ", style=_STYLE[check.status])
        line.append(f"{check.stage.value:<9} {check.name}: ", style="bold")
        line.append(check.evidence)
        console.print(line, highlight=False)
        if check.status is Status.OK:
            continue
        if check.meaning:
            console.print(f"            meaning: {check.meaning}", highlight=False)
        if check.action is not None:
            command = f": {check.action.command}" if check.action.command else ""
            console.print(
                f"            action: {check.action.text}{command}", highlight=False, markup=False
            )
    verdict = report.verdict
    console.print()
    console.print(
        Text(f"verdict: {verdict.status.value.upper()}", style=_STYLE[verdict.status] + " bold")
        + Text(f" — {verdict.summary}"),
        highlight=False,
    )
    if verdict.action is not None:
        console.print(f"action: {verdict.action.text}", highlight=False)
        if verdict.action.command:
            console.print(f"  $ {verdict.action.command}", highlight=False, markup=False)
    console.print(f"({report.elapsed_s:.1f} s)", style="dim", highlight=False)

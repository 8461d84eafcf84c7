"""Run the doctor: collect, check, decide. Finishes within 10 s whatever hangs."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from jobline.doctor.db_checks import db_checks
from jobline.doctor.db_probes import deep_db_probes
from jobline.doctor.flow_checks import flow_checks
from jobline.doctor.kafka_checks import kafka_checks
from jobline.doctor.model import STAGE_ORDER, Check, Status, Verdict
from jobline.doctor.options import DoctorOptions
from jobline.status.collect import Target, collect

#: the probes' share of the 10 s promise; the rest is the interpreter's start and the output
BUDGET_S = 6.5


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    verdict: Verdict
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": asdict(self.verdict) | {"exit_code": self.verdict.exit_code},
            "elapsed_s": round(self.elapsed_s, 2),
            "checks": [asdict(c) for c in self.checks],
        }


async def run_doctor(target: Target, options: DoctorOptions) -> Report:
    started = time.monotonic()
    snap = await collect(
        target,
        window_s=options.window_s,
        deep=deep_db_probes(options, target.schema),
        budget_s=BUDGET_S,
    )
    checks = [
        *kafka_checks(snap, options),
        *db_checks(snap, options),
        *flow_checks(snap, options),
    ]
    return Report(checks, decide(checks), time.monotonic() - started)


def decide(checks: list[Check]) -> Verdict:
    """The first stage (in the order a job passes them) with the worst status found.

    A dead upstream stage explains the symptoms below it (Kafka down also shows as an idle
    intake), so its action comes first.
    """
    worst = max((c.status.rank for c in checks), default=0)
    if worst == 0:
        return Verdict(Status.OK, None, "every stage of the pipeline is healthy", None)
    bad = [c for c in checks if c.status.rank == worst]
    bad.sort(key=lambda c: STAGE_ORDER.index(c.stage))
    first = bad[0]
    others = sorted({c.stage.value for c in bad[1:] if c.stage is not first.stage})
    summary = f"{first.stage.value}: {first.name} {first.status.value}: {first.evidence}"
    if others:
        summary += f" (also {', '.join(others)}: these may follow from it)"
    action = first.action or next((c.action for c in bad if c.action), None)
    return Verdict(first.status, first.stage, summary, action)

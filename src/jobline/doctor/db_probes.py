"""The doctor's extra questions to the jobs DB, asked on the status snapshot's connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from jobline.doctor.options import DoctorOptions
from jobline.status.collect import DbSession, DeepProbes
from jobline.status.outcome import Outcome
from jobline.store import health
from jobline.store.health import Conn


def deep_db_probes(options: DoctorOptions, schema: str) -> DeepProbes:
    async def run(session: DbSession) -> dict[str, Outcome[object]]:
        questions: dict[str, Callable[[Conn], Awaitable[object]]] = {
            "schema": lambda c: health.schema_exists(c, schema),
            "connections": health.connections,
            "long_transactions": lambda c: health.long_transactions(c, options.long_transaction_s),
            "lock_waits": health.lock_waits,
            "vacuum": lambda c: health.jobs_vacuum(c, schema),
            "migration": health.migration_version,
            "recent_failures": lambda c: health.recent_failures(c, options.failures_window_s),
        }
        answers: dict[str, Outcome[object]] = {}
        for name, question in questions.items():
            answers[name] = await session.run(name.replace("_", " "), question)
        return answers

    return run

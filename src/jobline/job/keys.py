"""Job keys within one batch of triggers. Pure.

A trigger with a key replaces the queued job with the same key (`replace`, default) or
leaves it alone (`preserve`). Keys are scoped by plugin config: one team's key never
touches another team's job. The jobs DB applies a batch with one INSERT ... ON CONFLICT,
which cannot touch the same row twice, so a batch is first folded to one trigger per key,
with the outcome the triggers would have had one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobline.job.model import JobMessage, KeyMode

KeyScope = tuple[int, str]


def key_scope(job: JobMessage) -> KeyScope | None:
    return (job.plugin_config_id, job.key) if job.key is not None else None


def fold_keyed(jobs: Sequence[JobMessage]) -> list[JobMessage]:
    """One job per key scope, in first-seen order; unkeyed jobs pass through.

    Sequentially, a `replace` overwrites whatever came before, and a `preserve` keeps it
    (if nothing came before in the batch, the database decides against its queued job).
    """
    slots: dict[KeyScope, int] = {}
    out: list[JobMessage] = []
    for job in jobs:
        scope = key_scope(job)
        if scope is None:
            out.append(job)
        elif scope not in slots:
            slots[scope] = len(out)
            out.append(job)
        elif job.key_mode is KeyMode.REPLACE:
            out[slots[scope]] = job
    return out

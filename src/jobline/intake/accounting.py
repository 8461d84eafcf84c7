"""What a persisted intake batch adds to the metrics and the log."""

from __future__ import annotations

from jobline.intake.batch import SortedBatch
from jobline.logs import get_logger
from jobline.metrics import (
    INTAKE_BATCH_SECONDS,
    INTAKE_BATCH_SPLITS,
    INTAKE_LAST_PERSISTED,
    INTAKE_MESSAGES,
    INTAKE_SKIPPED,
)
from jobline.store.rows import IntakeBatchResult

log = get_logger("jobline.intake")


def record_batch(batch: SortedBatch, result: IntakeBatchResult, elapsed: float) -> None:
    """Count a persisted batch in the metrics and log it."""
    dlq = len(batch.rejected) + len(result.refused)
    INTAKE_BATCH_SECONDS.observe(elapsed)
    INTAKE_MESSAGES.labels("persisted").inc(result.persisted)
    INTAKE_MESSAGES.labels("duplicate").inc(result.duplicates)
    INTAKE_MESSAGES.labels("dlq").inc(dlq)
    INTAKE_MESSAGES.labels("skipped").inc(batch.skipped)
    INTAKE_BATCH_SPLITS.inc(result.splits)
    INTAKE_SKIPPED.labels("skip_list").inc(batch.skipped)
    if result.persisted:
        INTAKE_LAST_PERSISTED.set_to_current_time()
    log.debug(
        "intake.batch_persisted",
        persisted=result.persisted,
        duplicates=result.duplicates,
        dlq=dlq,
        splits=result.splits,
        skipped=batch.skipped,
        ms=round(elapsed * 1000, 1),
    )

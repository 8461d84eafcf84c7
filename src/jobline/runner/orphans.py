"""Jobs locked by this runner that it does not know it holds, and their release.

A fetch cut off after its COMMIT (client timeout, connection lost) leaves jobs locked by
this runner whose rows never arrived; an outcome that could be neither written nor
released leaves one too. Nobody would rescue them while this runner's heartbeat lives.
On the next round trip, the runner releases every job locked by it that it does not hold
(running, waiting, or with an outcome pending); and once more when a fetch that may still
run server-side has surely ended (the call deadline later).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from jobline.logs import get_logger
from jobline.metrics import RUNNER_ORPHANS_RELEASED
from jobline.store.ports import RunnerStore

log = get_logger("jobline.runner")


class OrphanSweeper:
    def __init__(
        self, jobs_db: RunnerStore, runner_id: str, held_ids: Callable[[], Iterable[int]]
    ) -> None:
        self._db = jobs_db
        self._runner_id = runner_id
        self._held_ids = held_ids
        self._needed = False
        self._late_at: float | None = None

    def after_lost_answer(self) -> None:
        """A call that may have committed failed: sweep now and once it has surely ended."""
        self._needed = True
        self._late_at = time.monotonic() + self._db.call_timeout_s

    def needed(self) -> None:
        self._needed = True

    async def sweep_if_needed(self) -> None:
        late = self._late_at is not None and time.monotonic() >= self._late_at
        if not (self._needed or late):
            return
        held = sorted(set(self._held_ids()))
        released = await self._db.release_orphans(self._runner_id, held)
        self._needed = False
        if late:
            self._late_at = None
        if released:
            RUNNER_ORPHANS_RELEASED.inc(len(released))
            log.warning(
                "runner.orphans_released",
                jobs=len(released),
                job_ids=sorted(released)[:20],
                detail="locked by this runner, but it did not hold them (a fetch's answer "
                "was lost, or an outcome could not be written)",
            )

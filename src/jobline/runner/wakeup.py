"""When to fetch again: NOTIFY from the intake, a timer for the next run_at, a poll.

A notification that arrives while a fetch is in flight still leads to a fetch: the
runner clears the flag *before* it fetches, never after. A lost LISTEN connection is
re-established, and the runner fetches right away since it may have missed wake-ups.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from jobline.dburl import error_text
from jobline.logs import get_logger
from jobline.retry import Backoff
from jobline.store import JobsDB

log = get_logger("jobline.runner.wakeup")


class WakeUp:
    def __init__(self, jobs_db: JobsDB) -> None:
        self._db = jobs_db
        self.flag = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")  # loop time of the pending timer
        self.listening = False

    def at(self, when: datetime) -> None:
        """Wake at `when` (if that is earlier than the wake-up already planned)."""
        self.at_epoch(when.timestamp())

    def at_epoch(self, epoch_s: float) -> None:
        delay = epoch_s - time.time()
        if delay <= 0:
            self.flag.set()
            return
        loop = asyncio.get_running_loop()
        target = loop.time() + delay
        if target >= self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = target
        self._timer = loop.call_at(target, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self.flag.set()

    async def listen_forever(self) -> None:
        """Keep a LISTEN connection open; reconnect after any loss, with jittered backoff.

        The connection has TCP keepalives (JOBLINE_DB_KEEPALIVES_*): a half-open one is
        noticed and replaced instead of waiting for notifications for ever.
        """
        backoff = Backoff(0.2, 5.0)
        while True:
            try:
                async with await self._db.listen_connection() as conn:
                    self.listening = True
                    backoff.reset()
                    self.flag.set()  # anything sent while we were not listening
                    async for note in conn.notifies():
                        self._on_payload(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next()
                log.warning(
                    "runner.listen_lost",
                    error=error_text(exc, self._db.url, self._db.direct_url),
                    retry_in_s=round(delay, 2),
                )
            else:
                delay = backoff.next()
            self.listening = False
            self.flag.set()
            await asyncio.sleep(delay)

    def _on_payload(self, payload: str) -> None:
        try:
            earliest_ms = int(payload)
        except ValueError:
            self.flag.set()
            return
        self.at_epoch(earliest_ms / 1000)

"""Live updates: one task per dashboard process samples the pipeline when the jobs DB
NOTIFYs (the intake committed a batch, an operator re-queued jobs) and on a short timer
(gauges, finished jobs, Kafka), renders the live fragments once, and hands them to every
open event stream. Browsers never poll; a hundred open tabs cost one sampler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from jobline.dashboard.sample import PipelineSample
from jobline.logs import get_logger
from jobline.retry import Backoff
from jobline.store import JobsDB

log = get_logger("jobline.dashboard.hub")

#: fragment name -> HTML, as the event stream sends it
Fragments = dict[str, str]
#: bursts of NOTIFY (one per intake batch) are folded into one sample per this many seconds
MIN_GAP_S = 0.5


class Hub:
    def __init__(
        self,
        sample: Callable[[], Awaitable[PipelineSample]],
        render: Callable[[PipelineSample], Fragments],
        jobs_db: Callable[[], Awaitable[JobsDB]],
        interval_s: float,
    ) -> None:
        self._sample = sample
        self._render = render
        self._jobs_db = jobs_db
        self.interval_s = interval_s
        self.latest: PipelineSample | None = None
        self.fragments: Fragments = {}
        self._subscribers: set[asyncio.Queue[Fragments]] = set()
        self._poke = asyncio.Event()
        self._sampling = asyncio.Lock()  # the first page view and the first tick race
        self._task: asyncio.Task[None] | None = None
        self.notifications = 0  # NOTIFYs received (tests and the page show it)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="dashboard-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self) -> asyncio.Queue[Fragments]:
        self.start()
        queue: asyncio.Queue[Fragments] = asyncio.Queue(maxsize=1)
        if self.fragments:
            queue.put_nowait(self.fragments)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Fragments]) -> None:
        self._subscribers.discard(queue)

    async def current(self) -> PipelineSample:
        """The latest sample, or a fresh one before the first tick."""
        self.start()
        async with self._sampling:
            if self.latest is None:
                await self._sample_now()
        assert self.latest is not None
        return self.latest

    async def _tick(self) -> None:
        async with self._sampling:
            await self._sample_now()

    async def _sample_now(self) -> None:
        self.latest = await self._sample()
        self.fragments = self._render(self.latest)
        for queue in list(self._subscribers):
            if queue.full():  # a slow browser gets the newest state, not a backlog
                queue.get_nowait()
            queue.put_nowait(self.fragments)

    async def _run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="dashboard-listen")
        try:
            while True:
                try:
                    await self._tick()
                except Exception as exc:  # the next tick tries again
                    log.warning("dashboard.sample_failed", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self.interval_s)
                self._poke.clear()
                await asyncio.sleep(MIN_GAP_S)
        finally:
            listener.cancel()

    async def _listen(self) -> None:
        """LISTEN on the jobs DB's channel; re-established after any loss."""
        backoff = Backoff(0.2, 5.0)
        while True:
            try:
                db = await self._jobs_db()
                conn = await db.listen_connection()
                async with conn:
                    backoff.reset()
                    async for _note in conn.notifies():
                        self.notifications += 1
                        self._poke.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dashboard.listen_lost", error=str(exc))
            await asyncio.sleep(backoff.next())

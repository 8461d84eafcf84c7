"""Threads for sync handlers: daemon threads, a handler's start signalled, zombies counted.

A sync handler past its timeout cannot be stopped; its thread runs on (a zombie). The
pool then starts another thread, so live jobs never wait behind zombies, and counts
the zombies for /metrics and readiness. Threads are daemons: a zombie never holds up
the process's exit (concurrent.futures joins its threads at exit, for ever if need be).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from jobline.metrics import RUNNER_ZOMBIE_THREADS


class HandlerExited(Exception):
    """A handler raised a BaseException that is not an Exception (SystemExit...)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


class ThreadWork:
    """One call handed to a thread; `started` and `done` resolve on the event loop."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        loop = asyncio.get_running_loop()
        self.fn = fn
        self.args = args
        self.loop = loop
        self.started: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[Any] = loop.create_future()
        # Both set under the pool's lock, so that abandon() and the start never race.
        self.abandoned = False  # no longer wanted, before it started
        self.running = False

    def _resolve(
        self, future: asyncio.Future[Any], result: Any, error: BaseException | None
    ) -> None:
        def apply() -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(apply)


class HandlerThreads:
    def __init__(self, name: str = "job") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[ThreadWork | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._zombies = 0
        self._closed = False

    @property
    def zombies(self) -> int:
        return self._zombies

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, fn: Callable[..., Any], *args: Any) -> ThreadWork:
        work = ThreadWork(fn, args)
        with self._lock:
            if self._closed:
                raise RuntimeError("the handler threads are shut down")
            # A thread per waiting call: the runner's slots bound live calls, so threads
            # stay at most its concurrency plus the zombies.
            if self._idle == 0:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
            else:
                self._idle -= 1
        self._queue.put(work)
        return work

    def abandon(self, work: ThreadWork) -> bool:
        """Stop `work` from starting; False if it already started."""
        with self._lock:
            if work.running:
                return False
            work.abandoned = True
            return True

    def became_zombie(self) -> None:
        with self._lock:
            self._zombies += 1
            RUNNER_ZOMBIE_THREADS.set(self._zombies)

    def zombie_ended(self) -> None:
        with self._lock:
            self._zombies -= 1
            RUNNER_ZOMBIE_THREADS.set(self._zombies)

    def shutdown(self) -> None:
        """Idle threads exit; busy ones end with their handler (or with the process)."""
        with self._lock:
            self._closed = True
            idle = self._idle
        for _ in range(idle):
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            with self._lock:
                skip = work.abandoned
                work.running = not skip
            if not skip:
                work._resolve(work.started, None, None)
                self._call(work)
            with self._lock:
                if self._closed:
                    self._threads -= 1
                    return
                self._idle += 1

    @staticmethod
    def _call(work: ThreadWork) -> None:
        try:
            result = work.fn(*work.args)
        except Exception as exc:
            work._resolve(work.done, None, exc)
        except BaseException as exc:
            # Wrapped: raised in the runner's task as is, a CancelledError would pass for
            # the runner's own cancellation, a SystemExit for the process's.
            work._resolve(work.done, None, HandlerExited(exc))
        else:
            work._resolve(work.done, result, None)

"""The shape every long-running part shares: start, stop(grace), status, wait."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from jobline.retry import sleep_or_stop


@dataclass(frozen=True)
class ServiceStatus:
    ready: bool
    detail: str


class Service(ABC):
    """A long-running part of `jobline serve`.

    `start()` returns once the service works (or raises); `wait()` returns or raises
    when the service ends on its own, which the server treats as fatal; `stop(grace)`
    ends it cleanly within `grace` seconds.
    """

    name: str = "service"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self._open()
        self._task = asyncio.create_task(self._main(), name=self.name)

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    def begin_stop(self) -> None:  # noqa: B027 - optional hook
        """Stop taking new work at once (the server calls it on every service first)."""

    async def stop(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        self._stopping.set()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=max(grace_s, 0.1))
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            except Exception:
                pass
        await self._close(max(0.0, deadline - time.monotonic()))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def sleep_unless_stopping(self, seconds: float) -> None:
        await sleep_or_stop(seconds, self._stopping)

    async def _open(self) -> None:  # noqa: B027 - optional hook
        """Acquire what the service needs; raise with a clear message if it cannot."""

    @abstractmethod
    async def _main(self) -> None:
        """Run until `stopping`."""

    async def _close(self, grace_s: float) -> None:  # noqa: B027 - optional hook
        """Release what `_open` acquired, within `grace_s` seconds."""

    @abstractmethod
    def status(self) -> ServiceStatus: ...

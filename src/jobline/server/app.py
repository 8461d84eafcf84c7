"""`jobline serve`: build the services of this process's capabilities, run, stop cleanly."""

from __future__ import annotations

import asyncio
import signal
import time
from contextlib import AsyncExitStack

from jobline.config import Settings
from jobline.logs import get_logger
from jobline.server.builders import ServiceBuilder
from jobline.server.capabilities import Capability
from jobline.service import Service, ServiceStatus

log = get_logger("jobline.server")


class Server:
    def __init__(self, settings: Settings, capabilities: frozenset[Capability]) -> None:
        self.settings = settings
        self.capabilities = capabilities
        self.services: list[Service] = []
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def _build(self, stack: AsyncExitStack) -> list[Service]:
        builder = ServiceBuilder(self.settings, self.capabilities, stack, self.readiness)
        return await builder.build()

    def readiness(self) -> dict[str, ServiceStatus]:
        return {svc.name: svc.status() for svc in self.services}

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0) or until a service dies (exit 1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        exit_code = 0
        async with AsyncExitStack() as stack:
            self.services = await self._build(stack)
            started: list[Service] = []
            try:
                for svc in self.services:
                    await svc.start()
                    started.append(svc)
                log.info(
                    "server.started",
                    capabilities=sorted(c.value for c in self.capabilities),
                    intake=self.settings.intake.value,
                    event_loop=type(asyncio.get_running_loop()).__module__.split(".")[0],
                )
                exit_code = await self._wait_for_stop_or_failure()
            finally:
                exit_code = await self._stop_services(started) or exit_code
        log.info("server.stopped", exit_code=exit_code)
        return exit_code

    async def _stop_services(self, started: list[Service]) -> int:
        """Stop within ONE deadline for the whole process (JOBLINE_SHUTDOWN_GRACE_S): every
        service stops taking work at once (the runner stops fetching), then each stops in
        reverse order with what is left of the grace. Returns 1 if a stop failed."""
        grace = self.settings.shutdown_grace_s
        deadline = time.monotonic() + grace
        log.info("server.stopping", grace_s=grace)
        for svc in started:
            svc.begin_stop()
        failed = 0
        for svc in reversed(started):
            try:
                await svc.stop(max(0.0, deadline - time.monotonic()))
            except Exception:
                log.exception("service.stop_failed", service=svc.name)
                failed = 1
        return failed

    async def _wait_for_stop_or_failure(self) -> int:
        stop: asyncio.Future[object] = asyncio.ensure_future(self._stop.wait())
        watched: dict[asyncio.Future[object], Service] = {
            asyncio.ensure_future(svc.wait()): svc for svc in self.services
        }
        done, _ = await asyncio.wait({stop, *watched}, return_when=asyncio.FIRST_COMPLETED)
        for fut in watched:
            if fut not in done:
                fut.cancel()
        if stop in done:
            return 0
        stop.cancel()
        for fut in done:
            svc = watched[fut]
            exc = fut.exception()
            log.error(
                "service.failed",
                service=svc.name,
                error=str(exc) if exc else "stopped on its own",
                exc_info=exc,
            )
        return 1

"""HttpService: /_health (liveness), /_ready (readiness), /metrics (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jobline.errors import HttpPortUnavailable
from jobline.logs import get_logger
from jobline.service import Service, ServiceStatus

log = get_logger("jobline.http")

Readiness = Callable[[], Mapping[str, ServiceStatus]]
#: adds routes of another part (the trigger API, later the admin API) to the app
RouteAdder = Callable[[web.Application], None]


class HttpService(Service):
    name = "http"

    def __init__(
        self, host: str, port: int, readiness: Readiness, routes: Sequence[RouteAdder] = ()
    ) -> None:
        super().__init__()
        self._route_adders = list(routes)
        self._host = host
        self._port = port
        self._readiness = readiness
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_health", self._health)
        app.router.add_get("/_ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        for add_routes in self._route_adders:
            add_routes(app)
        return app

    async def _health(self, _request: web.Request) -> web.Response:
        # Answering at all proves the process and its event loop are alive.
        return web.json_response({"status": "ok"})

    async def _ready(self, _request: web.Request) -> web.Response:
        statuses = self._readiness()
        ready = all(s.ready for s in statuses.values())
        body = {
            "ready": ready,
            "services": {n: {"ready": s.ready, "detail": s.detail} for n, s in statuses.items()},
        }
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def _open(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise HttpPortUnavailable(
                f"http: cannot listen on {self._host}:{self._port}: {exc.strerror}; "
                "set JOBLINE_HTTP_PORT to a free port (0 picks one)"
            ) from exc
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("http.listening", host=self._host, port=self.bound_port)

    async def _main(self) -> None:
        await self._stopping.wait()

    async def _close(self, grace_s: float) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def status(self) -> ServiceStatus:
        return ServiceStatus(self._runner is not None, f"listening on port {self.bound_port}")

"""`create_app(settings)`: the dashboard as an ASGI app, to serve with `jobline dashboard`
or to mount in another Starlette/FastAPI app (`app.mount("/jobs-ui", create_app(s))`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from jobline.config import Settings
from jobline.dashboard.hub import Fragments, Hub
from jobline.dashboard.kafka import KafkaMarks
from jobline.dashboard.options import DashboardOptions, load_options
from jobline.dashboard.resources import Resources
from jobline.dashboard.routes import configs, dlq, failed, jobs, pipeline, runners
from jobline.dashboard.sample import PipelineSample, Sampler
from jobline.dashboard.security import DashboardGuard
from jobline.dashboard.web import HERE, render, templates
from jobline.errors import DependencyUnreachable, JoblineError, NotFound, UsageError
from jobline.store import JobsDB


def _status_of(exc: Exception) -> int:
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, DependencyUnreachable | psycopg.OperationalError):
        return 503
    return 500


async def _error_page(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", _status_of(exc), error=str(exc), page="")


def _fragments(settings: Settings) -> Callable[[PipelineSample], Fragments]:
    def render_fragments(sample: PipelineSample) -> Fragments:
        values = {"sample": sample, "settings": settings}
        return {
            "pipeline": templates.get_template("_pipeline.html").render(values),
            "kafka": templates.get_template("_kafka.html").render(values),
        }

    return render_fragments


def _hub(
    settings: Settings, options: DashboardOptions, resources: Resources, kafka: KafkaMarks
) -> Hub:
    sampler = Sampler(settings, kafka)

    async def sample() -> PipelineSample:
        try:
            reads = await resources.reads()
            runners = await (await resources.ctx("dashboard")).store.list_runners()
        except (JoblineError, psycopg.Error, OSError) as exc:
            return await sampler.sample(None, [], f"jobs DB: {exc}")
        return await sampler.sample(reads, runners)

    async def jobs_db() -> JobsDB:
        return (await resources.ctx("dashboard")).jobs_db

    return Hub(sample, _fragments(settings), jobs_db, options.sample_interval_s)


def create_app(settings: Settings, options: DashboardOptions | None = None) -> Starlette:
    """The dashboard for the jobs DB, main DB and Kafka that `settings` name. Options
    default to JOBLINE_DASHBOARD_* from the environment."""
    options = options or load_options()
    resources = Resources(settings)
    kafka = KafkaMarks(settings)
    hub = _hub(settings, options, resources, kafka)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        hub.start()  # history (rates, charts) from the start; mounted apps start on first use
        yield
        await hub.stop()
        kafka.close()
        await resources.close()

    routes = [
        *pipeline.routes,
        *jobs.routes,
        *failed.routes,
        *dlq.routes,
        *configs.routes,
        *runners.routes,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(DashboardGuard, options=options)],
        exception_handlers={JoblineError: _error_page, psycopg.Error: _error_page},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.options = options
    app.state.resources = resources
    app.state.hub = hub
    return app

"""Pipeline (`/`), Kafka (`/kafka`) and the event stream (`/events`) that keeps them live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from jobline.dashboard.hub import Fragments, Hub
from jobline.dashboard.web import render

#: an SSE comment this often keeps proxies from closing a quiet stream
KEEPALIVE_S = 15.0


async def pipeline_page(request: Request) -> Response:
    sample = await request.app.state.hub.current()
    return render(request, "pipeline.html", sample=sample, page="pipeline")


async def kafka_page(request: Request) -> Response:
    sample = await request.app.state.hub.current()
    return render(request, "kafka.html", sample=sample, page="kafka")


def sse_message(fragments: Fragments) -> str:
    """One SSE event per fragment: `event: name`, the HTML as data lines."""
    parts = []
    for name, html in fragments.items():
        data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
        parts.append(f"event: {name}\n{data}\n\n")
    return "".join(parts)


async def _stream(hub: Hub) -> AsyncIterator[str]:
    queue = hub.subscribe()
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                fragments = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            yield sse_message(fragments)
    finally:
        hub.unsubscribe(queue)


async def events(request: Request) -> Response:
    """Server-sent events: the live fragments each time the hub samples."""
    stream = _stream(request.app.state.hub)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


routes = [
    Route("/", pipeline_page),
    Route("/kafka", kafka_page),
    Route("/events", events),
]

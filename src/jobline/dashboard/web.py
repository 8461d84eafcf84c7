"""What every dashboard page shares: templates and their filters, the request's operations
context, query-string filters, and the redirect after a change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from jobline.dashboard.resources import Resources
from jobline.errors import UsageError
from jobline.ops.context import OpsContext
from jobline.ops.filters import JobFilter, JobState, parse_since
from jobline.store.dashboard_reads import COUNT_CAP

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
#: the query-string fields of a job filter (Jobs and Failed pages, bulk actions)
FILTER_FIELDS = ("plugin", "config", "team", "type", "queue", "key", "state", "since", "error")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """`12s ago`, `in 3m`: a time as an operator reads it in an incident."""
    if value is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    text = duration(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 1 or seconds == 0 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds / 86_400:.1f}d"


def count(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}+" if value >= COUNT_CAP else f"{value:,}"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def masked(value: Any, fields: frozenset[str]) -> Any:
    """The payload with the named fields (at any depth) replaced by ***."""
    if isinstance(value, dict):
        return {k: "***" if k in fields else masked(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, fields) for v in value]
    return value


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def polyline(values: list[float], top: float, width: int = 600, height: int = 80) -> str:
    """SVG polyline points for `values` scaled into width x height (top = the max)."""
    if len(values) < 2 or top <= 0:
        return ""
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - min(v, top) / top * height:.1f}" for i, v in enumerate(values)
    )


templates.env.globals["polyline"] = polyline
templates.env.globals["masked"] = masked
templates.env.filters.update(ago=ago, duration=duration, count=count, rate=rate, when=when)
templates.env.filters["json"] = pretty_json


def base_path(request: Request) -> str:
    """Where the dashboard is mounted ('' when it is the whole app)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(request: Request, name: str, status: int = 200, **values: Any) -> Response:
    state = request.app.state
    context = {
        "base": base_path(request) + "/",
        "read_only": state.options.read_only,
        "settings": state.settings,
        "actor": getattr(request.state, "actor", ""),
        "message": request.query_params.get("done"),
        "failure": request.query_params.get("error"),
        "now": datetime.now(UTC),
        **values,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)


def back_to(request: Request, path: str, **query: object) -> RedirectResponse:
    """303 to a dashboard page (so a reload does not repeat the change), with a message."""
    shown = {k: v for k, v in query.items() if v not in (None, "")}
    joiner = "&" if "?" in path else "?"
    suffix = f"{joiner}{urlencode(shown)}" if shown else ""
    return RedirectResponse(f"{base_path(request)}/{path}{suffix}", status_code=303)


async def ops(request: Request) -> OpsContext:
    resources: Resources = request.app.state.resources
    return await resources.ctx(str(request.state.actor))


def _int(value: str | None, name: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not a number") from None


def _text(values: QueryParams | FormData, name: str) -> str | None:
    value = values.get(name)
    return value.strip() or None if isinstance(value, str) else None


def job_filter(values: QueryParams | FormData, *, with_state: bool = True) -> JobFilter:
    """The job filter named by a query string (or a form's hidden fields)."""
    state = _text(values, "state") if with_state else None
    since = _text(values, "since")
    try:
        job_state = JobState(state) if state else None
    except ValueError:
        raise UsageError(f"state={state!r}: use due, scheduled, running or retrying") from None
    return JobFilter(
        plugin=_text(values, "plugin"),
        config=_int(_text(values, "config"), "config"),
        team=_int(_text(values, "team"), "team"),
        type=_text(values, "type"),
        queue=_text(values, "queue"),
        key=_text(values, "key"),
        state=job_state,
        since=parse_since(since, "since") if since else None,
        error_like=_text(values, "error"),
        fingerprint=_text(values, "fingerprint"),
    )


def filter_query(values: QueryParams | FormData, *names: str) -> dict[str, str]:
    """The non-empty filter fields, to carry into links and hidden form fields."""
    kept = {}
    for name in names or (*FILTER_FIELDS, "fingerprint"):
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            kept[name] = value.strip()
    return kept

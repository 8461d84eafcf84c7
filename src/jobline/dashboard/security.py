"""Who is asking, and whether a change may be made: basic auth or a trusted header, the
read-only mode, and a same-origin check on every POST (a page of another site cannot make
the operator's browser change anything)."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp

from jobline.dashboard.options import DashboardOptions

#: the audit log's actor when the dashboard knows no user (no auth configured)
ANONYMOUS = "dashboard"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def basic_user(header: str | None, user: str, password: str) -> str | None:
    """The user named by a valid `Authorization: Basic` header, else None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, _, secret = given.partition(":")
    # Both compared in full, in constant time: no timing tells which one was wrong.
    name_ok = hmac.compare_digest(name.encode(), user.encode())
    secret_ok = hmac.compare_digest(secret.encode(), password.encode())
    return name if name_ok and secret_ok else None


def same_origin(request: Request, behind_proxy: bool = False) -> bool:
    """Origin (or else Referer) names the host the request was sent to; behind an auth
    proxy (which may rewrite Host), the host the proxy says it was sent to counts too."""
    hosts = {request.headers.get("host", "")}
    if behind_proxy and request.headers.get("x-forwarded-host"):
        hosts.add(request.headers["x-forwarded-host"].split(",")[0].strip())
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc in hosts


class DashboardGuard(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, options: DashboardOptions) -> None:
        super().__init__(app)
        self.options = options

    def _actor(self, request: Request) -> str | None:
        o = self.options
        if o.trusted_header:
            return request.headers.get(o.trusted_header) or None
        if o.user:
            password = o.password.get_secret_value()
            return basic_user(request.headers.get("authorization"), o.user, password)
        return ANONYMOUS

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        actor = self._actor(request)
        if actor is None:
            headers = {"WWW-Authenticate": 'Basic realm="jobline"'} if self.options.user else {}
            return PlainTextResponse("sign in to the jobline dashboard", 401, headers)
        request.state.actor = actor
        if request.method not in _SAFE_METHODS:
            if self.options.read_only:
                return PlainTextResponse(
                    "the dashboard is read-only (--read-only / JOBLINE_DASHBOARD_READ_ONLY): "
                    "make changes with the `jobline` commands",
                    403,
                )
            if not same_origin(request, behind_proxy=bool(self.options.trusted_header)):
                return PlainTextResponse(
                    "refused: this change did not come from a dashboard page (its Origin or "
                    f"Referer does not name host {request.headers.get('host', '')!r})",
                    403,
                )
        return await call_next(request)

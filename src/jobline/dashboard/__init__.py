"""The jobline dashboard: the whole pipeline in a browser (`jobline dashboard`, or mount
`create_app(settings)` in an ASGI app). Needs the `dashboard` extra."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobline.dashboard.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Starlette and Jinja2 load when the dashboard is used, not when jobline is imported.
    if name == "create_app":
        from jobline.dashboard.app import create_app

        return create_app
    raise AttributeError(name)

"""The browser chat page: ``/`` and its assets under ``/static`` (no build step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")

#: The page loads only its own scripts and styles and talks only to its own origin, so an
#: injected script or a framing site gets nowhere ('self' covers ws/wss to the same host).
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _Assets(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        # Revalidate on each load: a changed script must not run against a stale page.
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={**HEADERS, "Cache-Control": "no-cache"})


def routes() -> list[BaseRoute]:
    """``GET /`` (the page) and ``/static`` (its scripts and styles)."""
    return [
        Route("/", _index, methods=["GET", "HEAD"]),
        Mount("/static", _Assets(directory=STATIC), name="static"),
    ]

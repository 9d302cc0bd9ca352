"""Where the web app is served, when the settings say it is (like GraphiQL: on, except in
production unless ORDERCENTER_WEB_APP=true)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.settings import Settings
from app.web import demo_sign_in
from app.web.page import HTML, OPERATIONS_PREFIX, POLICY, STATIC_PREFIX

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
# The documents the app sends: the repository's examples/, one operation per file.
OPERATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "examples"


async def page(_: Request) -> Response:
    return HTMLResponse(HTML, headers={"Content-Security-Policy": POLICY})


def routes(settings: Settings) -> list[BaseRoute]:
    """The page at ``/``, its files, its documents and, in development, demo sign-in;
    nothing when the web app is off."""
    if not settings.web_app_enabled:
        return []
    served: list[BaseRoute] = [
        Route("/", page, methods=["GET"]),
        Mount(STATIC_PREFIX, app=StaticFiles(directory=STATIC_DIR), name="web-static"),
        Mount(OPERATIONS_PREFIX, app=StaticFiles(directory=OPERATIONS_DIR), name="web-operations"),
    ]
    if demo_sign_in.available(settings):
        served += [
            Route("/web/demo-users", demo_sign_in.demo_users, methods=["GET"]),
            Route("/web/sign-in", demo_sign_in.sign_in, methods=["POST"]),
        ]
    return served

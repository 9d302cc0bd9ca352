"""Development sign-in: the web app offers a few seeded buyers and sellers and gets a token
for the one picked, minted as ``ordercenter token`` mints it (app.auth.issue_token_for).

Only when ``settings.demo_sign_in_enabled`` (ORDERCENTER_ENV=development): anywhere else
these routes do not exist, and a person signs in with a token from the identity provider.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.auth import TokenIssuingError, ensure_can_issue, issue_token_for
from app.settings import Settings
from db.models import User

# How many of each role the sign-in screen offers, the demo buyer first.
OFFERED: Final = {"buyer": 4, "seller": 3}
DEMO_HANDLE: Final = "demo"


def available(settings: Settings) -> bool:
    if not settings.demo_sign_in_enabled:
        return False
    try:
        ensure_can_issue(settings)
    except TokenIssuingError:
        return False
    return True


async def offered_users(request: Request) -> list[User]:
    users: list[User] = []
    async with request.app.state.sessions() as session:
        for role, count in OFFERED.items():
            statement = (
                select(User)
                .where(col(User.role) == role)
                # The demo buyer (the one `make run` prints a token for) leads the list.
                .order_by(col(User.handle) != DEMO_HANDLE, col(User.id))
                .limit(count)
            )
            users.extend((await session.execute(statement)).scalars())
    return users


def _public(user: User) -> dict[str, Any]:
    return {"handle": user.handle, "displayName": user.display_name, "role": user.role}


async def demo_users(request: Request) -> Response:
    return JSONResponse({"users": [_public(user) for user in await offered_users(request)]})


async def sign_in(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    handle = body.get("handle") if isinstance(body, dict) else None
    if not isinstance(handle, str):
        return JSONResponse({"error": 'Send {"handle": …} of a demo user.'}, 400)
    user = next((u for u in await offered_users(request) if u.handle == handle), None)
    if user is None or user.id is None:
        return JSONResponse({"error": f"No demo user {handle!r}."}, 404)
    settings: Settings = request.app.state.settings
    token = issue_token_for(settings, user.id)
    return JSONResponse({"token": token, "user": _public(user)})

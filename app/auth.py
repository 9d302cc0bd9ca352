"""Bearer-token authentication, Starlette style: the backend sets ``request.user``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AuthenticatedViewer(BaseUser):
    """The caller a valid token names. Its row is loaded lazily by the viewer loader."""

    user_id: int

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(self.user_id)

    @property
    def identity(self) -> str:
        return str(self.user_id)


def issue_token(user_id: int, *, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, *, secret: str) -> AuthenticatedViewer | None:
    """The viewer a token names, or None for anything not signed, expired or malformed."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}, leeway=30
        )
        return AuthenticatedViewer(int(claims["sub"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class BearerTokenBackend(AuthenticationBackend):
    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = bearer_token(conn.headers.get("authorization"))
        if token is None:
            return None
        viewer = verify_token(token, secret=self._secret)
        if viewer is None:
            # An invalid token is treated as no token: fields that need a viewer answer
            # UNAUTHENTICATED, public fields still work.
            return None
        return AuthCredentials(["authenticated"]), viewer

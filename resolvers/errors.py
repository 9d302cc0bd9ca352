"""Errors a client can act on. Anything else that escapes a resolver is a bug and masked."""

from __future__ import annotations


class ClientError(Exception):
    """A request-level refusal, answered as a GraphQL error with ``extensions.code``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument

    @property
    def extensions(self) -> dict[str, object]:
        extensions: dict[str, object] = {"code": self.code}
        if self.argument is not None:
            extensions["argument"] = self.argument
        return extensions


# Why a request has no viewer, and what the caller should do about it. Short enough for
# a WebSocket close reason (123 bytes). Never more detail than this (which key, which
# claim), so a forger learns nothing.
SIGN_IN = {
    "missing": "Sign in: send a bearer token (Authorization: Bearer <token>).",
    "malformed": "The Authorization value is not a bearer token: send 'Bearer <token>'.",
    "expired": "Your token has expired: sign in again for a new one.",
    "invalid": "Your token is not valid here: sign in again for a new one.",
}


class NotAuthenticated(ClientError):
    """No viewer; ``reason`` (missing, malformed, expired, invalid) says why."""

    code = "UNAUTHENTICATED"

    def __init__(self, reason: str = "missing") -> None:
        super().__init__(SIGN_IN.get(reason, SIGN_IN["invalid"]))
        self.reason = reason if reason in SIGN_IN else "invalid"

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "reason": self.reason}


class InvalidArgument(ClientError):
    """Malformed input: bad ids, cursors, page sizes, filters."""

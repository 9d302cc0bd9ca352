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


class NotAuthenticated(ClientError):
    code = "UNAUTHENTICATED"

    def __init__(self) -> None:
        super().__init__("Sign in: this field needs a valid bearer token.")


class InvalidArgument(ClientError):
    """Malformed input: bad ids, cursors, page sizes, filters."""

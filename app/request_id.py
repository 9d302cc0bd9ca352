"""Every request gets an id: the client's X-Request-ID if sane, else a fresh one.

It is echoed on every response, handed to resolvers (masked errors carry it) and
written with every error log line, so a user's report finds its log entry.
"""

from __future__ import annotations

import re
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(scope: Scope) -> str:
    """The id the middleware gave this request (a fresh one outside it)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return found if isinstance(found, str) else uuid4().hex


SERVER_SEND = "ordercenter_server_send"  # where in a WebSocket scope's state
_HEADER_BYTES = HEADER.encode()


def _set(message: Message, header: tuple[bytes, bytes]) -> None:
    """The response's one X-Request-ID header (as ``MutableHeaders.__setitem__`` sets
    it, in one pass over the raw headers: this runs on every response)."""
    headers = message["headers"] = list(message.get("headers", ()))
    found = [i for i, (name, _) in enumerate(headers) if name == header[0]]
    for index in reversed(found[1:]):
        del headers[index]
    if found:
        headers[found[0]] = header
    else:
        headers.append(header)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        supplied = ""
        for name, value in scope.get("headers", []):
            if name == _HEADER_BYTES:
                supplied = value.decode("latin-1")
                break
        request_id = supplied if _SANE.match(supplied) else uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            # No response headers to add after the handshake; an unwrapped send keeps
            # every delivery of a live subscription one call shorter. The server's own
            # send, unwrapped by any middleware: live frames may go straight to it.
            scope["state"][SERVER_SEND] = send
            await self.app(scope, receive, send)
            return

        header = (_HEADER_BYTES, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                _set(message, header)
            await send(message)

        await self.app(scope, receive, send_with_id)

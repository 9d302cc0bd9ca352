"""What every request passes on its way in and out, in one middleware: its id
(app/request_id.py), its log line (app/request_log.py) and, on HTTP, the security
headers (app/security.py).

One middleware rather than three: each wrapped every message sent in a closure of its
own, and the three cost ~25 us of a small request's ~340 us of CPU (examples/
Wallet.graphql, bench/http_suite.py). The rules stay in their modules; this only
applies them, in the order the three middlewares did: the id first, then the line,
then the headers (added before the id's, which comes last in the response).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import request_id
from app.request_log import RequestLog
from app.security import secure
from app.settings import Settings


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.log = RequestLog(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record, token = self.log.begin(scope, request_id.assign(scope))
        sent = self.log.sent
        failed = False
        if kind == "websocket":
            # No response headers after the handshake. The server's own send, unwrapped:
            # a live subscription's frames may go straight to it (app/live_lane.py), one
            # call shorter for every delivery.
            scope["state"][request_id.SERVER_SEND] = send

            async def sending(message: Message) -> None:
                sent(record, message)
                await send(message)

        else:
            path = scope["path"]
            echoed = request_id.header(record.request_id)

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    secure(message, path)
                    sent(record, message)
                    request_id.stamp(message, echoed)
                await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            failed = True
            raise
        finally:
            self.log.end(record, token, failed)

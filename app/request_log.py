"""One log line per request: JSON in production, readable text in development.

The line says who asked what and how it went, never what was sent: request id, method,
path (no query string: GET /graphql carries variables there), transport, operation
name, status, duration and the viewer's id hashed. Not the token, not the variables,
not the document.

The pipeline fills in the operation and the viewer (``note_operation``) on the record
app/edge.py keeps for the request; a WebSocket gets one line when it closes, with
the names of the operations it ran.

The viewer id is hashed with HMAC-SHA256 under a server key, not a bare hash: ids are
small integers, and sha256 of each could be listed in a second. The key is
``ORDERCENTER_LOG_KEY``, or derived from the JWT secret; the same viewer hashes alike
across lines and processes, so one user's requests can still be followed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from starlette.types import Message, Scope

from app.settings import Settings
from app.vocabulary import TRANSPORTS, http_transport

REQUEST_LOGGER = "ordercenter.request"
log = logging.getLogger(REQUEST_LOGGER)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ANONYMOUS = "(anonymous)"
MAX_OPERATIONS = 20


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    transport: str | None  # app/vocabulary.py's word (None: no GraphQL transport)
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    operations: list[str] = field(default_factory=list)
    viewer: int | None = None
    status: int | None = None


_current: ContextVar[RequestRecord | None] = ContextVar("ordercenter_request", default=None)


def note_operation(name: str | None, transport: str, viewer_id: int | None) -> None:
    """The pipeline says the current request runs an operation, and for whom."""
    record = _current.get()
    if record is None:
        return
    record.transport = transport
    if viewer_id is not None:
        record.viewer = viewer_id
    # A WebSocket may run many: the line stays bounded.
    if len(record.operations) < MAX_OPERATIONS:
        record.operations.append(name or ANONYMOUS)


def note_operation_name(name: str) -> None:
    """The name of the operation just noted, once its document is read."""
    record = _current.get()
    if record is not None and record.operations:
        record.operations[-1] = name


def viewer_hasher(settings: Settings) -> Any:
    """The function that turns a viewer id into the 16 hex digits logs show."""
    key = hashlib.sha256(
        b"ordercenter log viewer key\0" + (settings.log_key or settings.jwt_secret).encode()
    ).digest()

    def hashed(viewer_id: int) -> str:
        return hmac.new(key, str(viewer_id).encode(), hashlib.sha256).hexdigest()[:16]

    return hashed


class RequestLog:
    """The request lines of one application: a record per request, kept current while
    the request runs (``note_operation`` fills it in), written when it ends. Driven by
    app/edge.py: ``begin`` as a request comes in, ``sent`` for each message it sends,
    ``end`` when it is over (an HTTP response sent, a WebSocket closed)."""

    def __init__(self, settings: Settings) -> None:
        self.hash_viewer = viewer_hasher(settings)

    def begin(self, scope: Scope, request_id: str) -> tuple[RequestRecord, Token[Any]]:
        kind = scope["type"]
        record = RequestRecord(
            request_id=request_id,
            # An HTTP request's by its method, a WebSocket's its protocol once accepted;
            # the pipeline says the same of each operation (``note_operation``).
            transport=http_transport(scope["method"]) if kind == "http" else None,
            method=scope.get("method", "WEBSOCKET"),
            path=scope.get("path", ""),
        )
        return record, _current.set(record)

    @staticmethod
    def sent(record: RequestRecord, message: Message) -> None:
        """What a message sent says of how the request went."""
        kind = message["type"]
        if kind == "http.response.start":
            record.status = message["status"]
        elif kind == "websocket.close":
            record.status = message.get("code", 1000)
        elif kind == "websocket.accept":
            if message.get("subprotocol") in TRANSPORTS:
                record.transport = message["subprotocol"]
            if record.status is None:
                record.status = 101

    def end(self, record: RequestRecord, token: Token[Any], failed: bool) -> None:
        """The request is over (``failed``: by an exception, answered 500 by Starlette)."""
        if failed:
            record.status = 500
        _current.reset(token)
        self.write(record)

    def write(self, record: RequestRecord) -> None:
        if not log.isEnabledFor(logging.INFO):
            return  # the line would be dropped: its fields (the viewer's HMAC) are not made
        fields: dict[str, Any] = {
            "request_id": record.request_id,
            "method": record.method,
            "path": record.path,
            "transport": record.transport,
            "operation": ",".join(dict.fromkeys(record.operations)) or None,
            "status": record.status,
            "duration_ms": round((time.perf_counter() - record.started) * 1000, 2),
            "viewer": self.hash_viewer(record.viewer) if record.viewer is not None else None,
        }
        log.info(
            "%s %s %s %s %.1fms",
            record.method,
            record.path,
            record.status,
            fields["operation"] or "-",
            fields["duration_ms"],
            extra={"fields": fields},
        )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and a request line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The readable format, with the request line's id and viewer appended."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text += f" request_id={fields['request_id']} transport={fields['transport'] or '-'}"
            if fields.get("viewer"):
                text += f" viewer={fields['viewer']}"
        return text


def configure(settings: Settings, stream: IO[str] | None = None) -> None:
    """The root logger writes to stderr in the format the settings choose."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.json_logs else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's logging in JSON mode: its own lines go through the root logger (JSON),
    and its access log is off, since the request line replaces it. None: uvicorn's
    default (text, with the access log that app/access_log.py strips of query strings)."""
    if not settings.json_logs:
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }

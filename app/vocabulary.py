"""The words every instrument uses for how an operation came and what answered it.

Metrics' labels (app/metrics.py), span attributes (app/tracing.py) and request log
lines (app/request_log.py) all say these, so one operation reads the same in each.

Transports: GraphQL over HTTP by GET or POST, and the two WebSocket protocols, named
as their subprotocols are. Execution paths: a compiled plan answered by PostgreSQL, a
compiled plan answered in Python, graphql-core; and, for metrics only, an operation
the pipeline refused before anything ran.
"""

from __future__ import annotations

from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

HTTP_GET = "http-get"
HTTP_POST = "http-post"
GRAPHQL_TRANSPORT_WS = GRAPHQL_TRANSPORT_WS_PROTOCOL  # "graphql-transport-ws"
GRAPHQL_WS = GRAPHQL_WS_PROTOCOL  # "graphql-ws", the legacy protocol
TRANSPORTS = (HTTP_GET, HTTP_POST, GRAPHQL_TRANSPORT_WS, GRAPHQL_WS)

SQL_PLAN = "sql_plan"
COMPILED_PLAN = "compiled_plan"
GENERIC = "generic"
REFUSED = "refused"
PATHS = (SQL_PLAN, COMPILED_PLAN, GENERIC, REFUSED)


def http_transport(method: str) -> str | None:
    """An HTTP request's transport by its method (None: not one GraphQL is sent by)."""
    if method in ("GET", "HEAD"):
        return HTTP_GET
    if method == "POST":
        return HTTP_POST
    return None

"""GraphQL over HTTP, as the spec (graphql-over-http) describes it.

Written over Strawberry's ``Schema.execute`` rather than its ASGI view because the
spec's media-type negotiation and status codes need control the view does not give:
``application/graphql-response+json`` answers 400 with no ``data`` when a request
never reached execution, while ``application/json`` keeps answering 200.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from app.graphiql import graphiql_html
from app.persisted import names_persisted_query
from app.pipeline import REQUEST_BYTES, OperationPipeline, OperationRequest, Refused
from app.request_id import request_id_of
from app.vocabulary import HTTP_POST, http_transport
from resolvers.context import Context
from schema.plans import Plans

log = logging.getLogger("ordercenter.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TOO_LARGE = "REQUEST_TOO_LARGE"


class RequestError(Exception):
    """The HTTP request itself is unusable, or refused; no GraphQL execution happens.

    ``error``: the message, or the whole formatted error of a pipeline refusal.
    """

    def __init__(
        self,
        status: int,
        error: str | dict[str, Any],
        headers: dict[str, str] | None = None,
        code: str = "BAD_REQUEST",
    ):
        formatted = error if isinstance(error, dict) else {"message": error}
        super().__init__(formatted["message"])
        self.status = status
        self.headers = headers or {}
        self.formatted = {"extensions": {"code": code}, **formatted}

    def as_error(self) -> dict[str, Any]:
        return self.formatted


# Clients send the same few Accept values on every request: each is read once (the
# bound keeps arbitrary ones from piling up).
@functools.lru_cache(maxsize=64)
def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we offer nothing it takes.

    No header, ``*/*`` or ``application/*`` get ``application/json``, as the spec
    advises for legacy clients; a client naming both types equally gets the new one.
    """
    if not accept or not accept.strip():
        return JSON
    best: dict[str, tuple[int, float]] = {}  # offered type -> (specificity, quality)
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        for offered in (GRAPHQL_RESPONSE, JSON):
            specificity = {offered: 2, "application/*": 1, "*/*": 0}.get(media)
            if specificity is not None and specificity >= best.get(offered, (-1, 0.0))[0]:
                best[offered] = (specificity, quality)
    ranked = sorted(
        ((q, spec, (o == GRAPHQL_RESPONSE) == (spec == 2), o) for o, (spec, q) in best.items()),
        reverse=True,
    )
    if not ranked or ranked[0][0] <= 0:
        return None
    return ranked[0][3]


def wants_graphiql(request: Request) -> bool:
    if request.method != "GET" or {"query", "extensions"} & set(request.query_params):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


class GraphQLHTTPHandler:
    def __init__(self, pipeline: OperationPipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings

    @property
    def plans(self) -> Plans | None:
        return self.pipeline.plans

    def context_for(self, request: Request, request_id: str) -> Context:
        user = request.user if "user" in request.scope else None
        return self.pipeline.context(
            request.app.state,
            viewer_id=getattr(user, "user_id", None),
            request_id=request_id,
            client_host=request.client.host if request.client else None,
            auth_problem=getattr(user, "auth_problem", None),
        )

    async def handle(self, request: Request) -> Response:
        request_id = request_id_of(request.scope)
        if wants_graphiql(request):
            if not self.settings.graphiql_enabled:
                return _plain(404, "Not Found", request_id)
            return HTMLResponse(graphiql_html(str(request.url.path)), headers=_id(request_id))
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return _plain(
                406, f"Acceptable response types: {GRAPHQL_RESPONSE}, {JSON}.", request_id
            )
        try:
            params = await _read_params(request)
            result = await self._execute(request, params, request_id)
        except RequestError as error:
            return _errors_response(
                error.status,
                [error.as_error()],
                media_type,
                request_id,
                error.headers,
            )
        return self._result_response(result, media_type, request_id)

    async def _execute(
        self, request: Request, params: dict[str, Any], request_id: str
    ) -> ExecutionResult:
        allowed = (
            {OperationType.QUERY}
            if request.method == "GET"
            else {
                OperationType.QUERY,
                OperationType.MUTATION,
            }
        )
        operation = OperationRequest(
            query=params.get("query"),
            variables=params.get("variables"),
            operation_name=params.get("operationName"),
            extensions=params.get("extensions"),
        )
        try:
            return await self.pipeline.execute(
                operation,
                self.context_for(request, request_id),
                allowed=allowed,
                fresh_context=lambda: self.context_for(request, request_id),
                transport=http_transport(request.method) or HTTP_POST,
            )
        except Refused as refused:
            if refused.status is None:
                return PreExecutionError(data=None, errors=[refused.error])
            raise RequestError(refused.status, dict(refused.error.formatted)) from None
        except InvalidOperationTypeError as error:
            if request.method == "GET":
                raise RequestError(
                    405,
                    "Only queries run over GET; send mutations with POST.",
                    {"Allow": "POST"},
                    code="METHOD_NOT_ALLOWED",
                ) from error
            raise RequestError(400, "Subscriptions run over WebSocket at /graphql.") from error
        except CannotGetOperationTypeError as error:
            # An unknown operationName is a GraphQL request error, not an HTTP one:
            # 200 under application/json, 400 under application/graphql-response+json.
            return PreExecutionError(data=None, errors=[GraphQLError(error.as_http_error_reason())])
        except MissingQueryError as error:
            raise RequestError(400, "No GraphQL query found in the request.") from error

    def _result_response(
        self, result: ExecutionResult, media_type: str, request_id: str
    ) -> Response:
        # Masked and coded by the pipeline already (schema/error_policy.py).
        errors = [e.formatted for e in result.errors or []]
        # A request that never reached execution (syntax, validation, variable
        # coercion) has no `data` entry at all.
        not_executed = isinstance(result, PreExecutionError) or (
            result.data is None
            and bool(result.errors)
            and all(e.path is None for e in result.errors or [])
        )
        body: dict[str, Any] = {}
        if errors:
            body["errors"] = errors
        if not not_executed:
            body["data"] = result.data
        if result.extensions:
            body["extensions"] = result.extensions
        status = 400 if not_executed and media_type == GRAPHQL_RESPONSE else 200
        limited = [
            e for e in result.errors or [] if (e.extensions or {}).get("code") == "RATE_LIMITED"
        ]
        if limited:
            response = _json(429, body, media_type, request_id)
            response.headers["Retry-After"] = str(
                (limited[0].extensions or {}).get("retryAfter", 1)
            )
            return response
        return _json(status, body, media_type, request_id)


async def _read_params(request: Request) -> dict[str, Any]:
    params: Any
    if request.method == "GET":
        query = request.query_params
        params = {
            "query": query.get("query"),
            "operationName": query.get("operationName"),
        }
        for name in ("variables", "extensions"):
            raw = query.get(name)
            if raw:
                try:
                    params[name] = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise RequestError(400, f"`{name}` is not valid JSON.") from None
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestError(
                415, "Send GraphQL requests as application/json.", code="UNSUPPORTED_MEDIA_TYPE"
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > REQUEST_BYTES:
            raise RequestError(
                413, f"Request bodies are limited to {REQUEST_BYTES} bytes.", code=TOO_LARGE
            )
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > REQUEST_BYTES:
                raise RequestError(
                    413, f"Request bodies are limited to {REQUEST_BYTES} bytes.", code=TOO_LARGE
                )
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise RequestError(400, "The request body is not valid JSON.") from None
        if isinstance(params, list):
            raise RequestError(400, "Batched requests are not supported; send one operation.")
        if not isinstance(params, dict):
            raise RequestError(400, "The request body must be a JSON object.")
    for name in ("variables", "extensions"):
        if params.get(name) is not None and not isinstance(params[name], dict):
            raise RequestError(400, f"`{name}` must be a JSON object.")
    query = params.get("query")
    # A persisted query may come as its hash alone (app/persisted.py).
    hash_only = query is None and names_persisted_query(params.get("extensions"))
    if not hash_only and (not isinstance(query, str) or not query.strip()):
        raise RequestError(400, "`query` must be a non-empty string.")
    if params.get("operationName") is not None and not isinstance(params["operationName"], str):
        raise RequestError(400, "`operationName` must be a string.")
    checked: dict[str, Any] = params
    return checked


def _id(request_id: str) -> dict[str, str]:
    return {"X-Request-ID": request_id}


def _json(status: int, body: dict[str, Any], media_type: str, request_id: str) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=_id(request_id),
    )


def _errors_response(
    status: int,
    errors: list[dict[str, Any]],
    media_type: str,
    request_id: str,
    headers: dict[str, str],
) -> Response:
    response = _json(status, {"errors": errors}, media_type, request_id)
    response.headers.update(headers)
    return response


def _plain(status: int, message: str, request_id: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain", headers=_id(request_id))

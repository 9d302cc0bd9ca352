"""GraphQL over HTTP as the spec describes it: methods, media types, status codes, limits.

Everything goes through the real ASGI app (routing, auth middleware, handler) at /graphql.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import issue_token
from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from resolvers import orders
from resolvers.ids import to_global_id
from schema.definition import OrderCenterSchema
from tests.conftest import TEST_SECRET, token_for
from tests.factories import make_product, make_shop, make_user

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
VIEWER_QUERY = "{ viewer { handle } }"


def answer(response: httpx.Response) -> dict[str, Any]:
    """The response body without ``extensions`` (the cost report every answer carries)."""
    body: dict[str, Any] = response.json()
    body.pop("extensions", None)
    return body


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every document the handler hands to the schema, in order."""
    calls: list[str] = []
    original = OrderCenterSchema.execute

    # On the class: each app builds its own schema instance with its limits.
    async def spy(self: OrderCenterSchema, query: str | None, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(query))
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(OrderCenterSchema, "execute", spy)
    return calls


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON error body every refusal carries: a non-empty list of {message: str}."""
    assert media_type(response) in (JSON, GRAPHQL_RESPONSE), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body["errors"], list), body
    assert body["errors"], body
    for error in body["errors"]:
        assert isinstance(error, dict), body
        assert isinstance(error["message"], str), body
        assert error["message"], body
    return body


async def post(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    accept: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = dict(headers or {})
    if accept is not None:
        all_headers["Accept"] = accept
    return await client.post("/graphql", json=body, headers=all_headers)


# --- POST and content types ------------------------------------------------------------


async def test_post_application_json_runs_the_query(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ __typename }"})
    assert response.status_code == 200
    assert answer(response) == {"data": {"__typename": "Query"}}


async def test_post_accepts_a_charset_parameter(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert answer(response) == {"data": {"__typename": "Query"}}


async def test_operation_name_and_variables_are_used(client: httpx.AsyncClient) -> None:
    response = await post(
        client,
        {
            "query": "query A { a: __typename } query B($p: ID!) { product(id: $p) { id } }",
            "operationName": "B",
            "variables": {"p": to_global_id("Product", 999)},
        },
    )
    assert response.status_code == 200
    assert answer(response) == {"data": {"product": None}}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/graphql", None],
)
async def test_non_json_post_is_415_and_not_executed(
    client: httpx.AsyncClient, executions: list[str], content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    assert response.status_code == 415
    error_body(response)
    assert executions == []


# --- GET -------------------------------------------------------------------------------


async def test_get_runs_queries(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": "query Q($p: ID!) { product(id: $p) { id } }",
            "variables": json.dumps({"p": to_global_id("Product", 1)}),
            "operationName": "Q",
        },
    )
    assert response.status_code == 200
    assert answer(response) == {"data": {"product": None}}


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("mutation { __typename }", None),
        ("mutation M { __typename }", "M"),
        ("subscription { __typename }", None),
        ("query Q { __typename } mutation M { __typename }", "M"),
    ],
)
async def test_get_refuses_anything_but_a_query_with_405(
    client: httpx.AsyncClient, query: str, operation_name: str | None
) -> None:
    params = {"query": query}
    if operation_name is not None:
        params["operationName"] = operation_name
    response = await client.get("/graphql", params=params)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    body = error_body(response)
    assert "data" not in body


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": ""},
        {"query": "{ __typename }", "variables": "{not json"},
        {"query": "{ __typename }", "variables": "[1]"},
    ],
)
async def test_get_with_a_bad_query_string_is_400(
    client: httpx.AsyncClient, executions: list[str], params: dict[str, str]
) -> None:
    response = await client.get("/graphql", params=params)
    assert response.status_code == 400
    error_body(response)
    assert executions == []


# --- Accept negotiation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON),
        (JSON, JSON),
        (None, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
    ],
)
async def test_response_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str | None, expected: str
) -> None:
    response = await post(client, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 200
    assert media_type(response) == expected
    assert answer(response) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["text/plain", "text/html", f"{GRAPHQL_RESPONSE};q=0"])
async def test_unacceptable_accept_is_406_and_not_executed(
    client: httpx.AsyncClient, executions: list[str], accept: str
) -> None:
    response = await post(client, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 406
    assert GRAPHQL_RESPONSE in response.text
    assert executions == []


# --- Status codes ----------------------------------------------------------------------

NOT_EXECUTED = [
    pytest.param({"query": "{ viewer { "}, "Syntax Error", id="syntax"),
    pytest.param({"query": "{ nope }"}, "nope", id="unknown-field"),
    pytest.param({"query": "mutation { nope }"}, "nope", id="unknown-mutation-field"),
    pytest.param(
        {
            "query": "query($n: Int) { viewer { orders(first: $n) { totalCount } } }",
            "variables": {"n": "ten"},
        },
        "$n",
        id="variable-of-wrong-type",
    ),
    pytest.param(
        {"query": "query($p: ID!) { product(id: $p) { id } }"},
        "$p",
        id="missing-required-variable",
    ),
    pytest.param(
        {"query": "query A { __typename }", "operationName": "B"},
        "B",
        id="unknown-operation-name",
    ),
]


@pytest.mark.parametrize(("body", "mentions"), NOT_EXECUTED)
async def test_graphql_response_json_answers_400_without_data_when_not_executed(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: dict[str, Any],
    mentions: str,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await post(client, body, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    payload = error_body(response)
    assert "data" not in payload
    # The client's mistake is explained to the client, not masked as a server error...
    assert mentions in payload["errors"][0]["message"]
    assert payload["errors"][0].get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR"
    # ...and not logged as one.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("body", "mentions"), NOT_EXECUTED)
async def test_application_json_answers_200_without_data_when_not_executed(
    client: httpx.AsyncClient, body: dict[str, Any], mentions: str
) -> None:
    response = await post(client, body, accept=JSON)
    assert response.status_code == 200
    assert media_type(response) == JSON
    payload = error_body(response)
    assert "data" not in payload
    assert mentions in payload["errors"][0]["message"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_field_error_during_execution_is_200_with_data(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await post(client, {"query": VIEWER_QUERY}, accept=accept)
    assert response.status_code == 200
    payload = error_body(response)
    assert "data" in payload
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert payload["errors"][0]["path"] == ["viewer"]


# --- Malformed bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"query": "{ __typename }"', id="broken-json"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b'[{"query": "{ __typename }"}]', id="batch"),
        pytest.param(b'"{ __typename }"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"{}", id="no-query"),
        pytest.param(b'{"query": null}', id="null-query"),
        pytest.param(b'{"query": ""}', id="empty-query"),
        pytest.param(b'{"query": "   "}', id="blank-query"),
        pytest.param(b'{"query": 7}', id="query-not-a-string"),
        pytest.param(b'{"query": "{ __typename }", "variables": []}', id="variables-list"),
        pytest.param(b'{"query": "{ __typename }", "variables": "{}"}', id="variables-string"),
        pytest.param(b'{"query": "{ __typename }", "extensions": 1}', id="extensions-number"),
        pytest.param(b'{"query": "{ __typename }", "operationName": 1}', id="operation-name-int"),
    ],
)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_malformed_request_is_400_with_json_errors(
    client: httpx.AsyncClient, executions: list[str], raw: bytes, accept: str
) -> None:
    response = await client.post(
        "/graphql", content=raw, headers={"Content-Type": JSON, "Accept": accept}
    )
    assert response.status_code == 400
    assert media_type(response) == accept
    assert "data" not in error_body(response)
    assert executions == []


async def test_null_variables_and_operation_name_are_allowed(client: httpx.AsyncClient) -> None:
    response = await post(
        client, {"query": "{ __typename }", "variables": None, "operationName": None}
    )
    assert response.status_code == 200
    assert answer(response) == {"data": {"__typename": "Query"}}


# --- Size limit ------------------------------------------------------------------------

TOO_BIG = 1_048_576 + 1


def _padded_body(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes (the padding is a GraphQL comment)."""
    head, tail = b'{"query": "{ __typename } #', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _padded_variables(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes, padded in an unused variable."""
    head, tail = b'{"query": "{ __typename }", "variables": {"pad": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_body_of_exactly_one_mib_is_accepted(client: httpx.AsyncClient) -> None:
    body = _padded_variables(1_048_576)
    response = await client.post("/graphql", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 200
    assert answer(response) == {"data": {"__typename": "Query"}}


async def test_document_over_its_limit_is_413_before_it_is_read(
    client: httpx.AsyncClient, executions: list[str]
) -> None:
    """A one-megabyte comment is one token: the document's own size limit refuses it."""
    response = await client.post(
        "/graphql", content=_padded_body(1_048_576), headers={"Content-Type": JSON}
    )
    assert response.status_code == 413
    [error] = error_body(response)["errors"]
    assert error["extensions"]["code"] == "DOCUMENT_TOO_LARGE"
    assert executions == []


async def test_body_over_one_mib_is_413(client: httpx.AsyncClient, executions: list[str]) -> None:
    response = await client.post(
        "/graphql", content=_padded_body(TOO_BIG), headers={"Content-Type": JSON}
    )
    assert response.status_code == 413
    error_body(response)
    assert executions == []


async def test_chunked_body_over_one_mib_is_413(
    client: httpx.AsyncClient, executions: list[str]
) -> None:
    """Without a Content-Length the limit still holds while reading the stream."""
    body = _padded_body(TOO_BIG)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    response = await client.post("/graphql", content=chunks(), headers={"Content-Type": JSON})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    error_body(response)
    assert executions == []


# --- Paths, GraphiQL, health -----------------------------------------------------------


async def test_exact_path_answers_without_redirect(client: httpx.AsyncClient) -> None:
    posted = await client.post("/graphql", json={"query": "{ __typename }"}, follow_redirects=False)
    assert posted.status_code == 200
    got = await client.get("/graphql", params={"query": "{ __typename }"}, follow_redirects=False)
    assert got.status_code == 200


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_browser_get_serves_graphiql_from_local_assets(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False
    )
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert "graphiql" in response.text.lower()
    assert not re.search(r"""src=["']?(https?:)?//""", response.text)
    assert "https://" not in response.text


async def test_root_sends_browsers_to_graphiql_when_the_web_app_is_off(
    engine: AsyncEngine,
) -> None:
    settings = Settings(
        env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db", web_app=False
    )
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/", follow_redirects=False)
    assert response.is_redirect
    assert response.headers["location"] == "/graphql"


async def test_graphiql_can_be_turned_off(engine: AsyncEngine) -> None:
    settings = Settings(
        env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db", graphiql=False
    )
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()
        # The API itself is unaffected.
        response = await post(client, {"query": "{ __typename }"})
        assert response.status_code == 200
        assert answer(response) == {"data": {"__typename": "Query"}}


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- X-Request-ID ----------------------------------------------------------------------

REQUESTS: list[Any] = [
    pytest.param("POST", {"json": {"query": "{ __typename }"}}, 200, id="ok"),
    pytest.param("POST", {"json": {"query": VIEWER_QUERY}}, 200, id="field-error"),
    pytest.param("POST", {"json": {"query": "{"}}, 200, id="syntax-error"),
    pytest.param("POST", {"content": b"[]", "headers": {"Content-Type": JSON}}, 400, id="400"),
    pytest.param("GET", {"params": {"query": "mutation { __typename }"}}, 405, id="405"),
    pytest.param(
        "POST",
        {"json": {"query": "{ __typename }"}, "headers": {"Accept": "text/plain"}},
        406,
        id="406",
    ),
    pytest.param(
        "POST", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}, 415, id="415"
    ),
    pytest.param(
        "POST",
        {"content": _padded_body(TOO_BIG), "headers": {"Content-Type": JSON}},
        413,
        id="413",
    ),
    pytest.param("GET", {"headers": {"Accept": "text/html"}}, 200, id="graphiql"),
]


def _merge_headers(kwargs: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    return {**kwargs, "headers": {**kwargs.get("headers", {}), **extra}}


@pytest.mark.parametrize(("method", "kwargs", "status"), REQUESTS)
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, method: str, kwargs: dict[str, Any], status: int
) -> None:
    first = await client.request(method, "/graphql", **kwargs)
    second = await client.request(method, "/graphql", **kwargs)
    assert first.status_code == status
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(SANE_REQUEST_ID.match(i) for i in ids), ids
    assert ids[0] != ids[1]


@pytest.mark.parametrize(("method", "kwargs", "status"), REQUESTS)
async def test_a_sane_client_request_id_is_echoed(
    client: httpx.AsyncClient, method: str, kwargs: dict[str, Any], status: int
) -> None:
    supplied = "req-2026.01_Abc9"
    response = await client.request(
        method, "/graphql", **_merge_headers(kwargs, {"X-Request-ID": supplied})
    )
    assert response.status_code == status
    assert response.headers["x-request-id"] == supplied


@pytest.mark.parametrize(
    "supplied",
    ["x" * 200, "has spaces", "semi;colon", "<script>", "a" * 65],
)
async def test_an_insane_client_request_id_is_replaced(
    client: httpx.AsyncClient, supplied: str
) -> None:
    response = await post(client, {"query": "{ __typename }"}, headers={"X-Request-ID": supplied})
    assert response.status_code == 200
    echoed = response.headers["x-request-id"]
    assert echoed != supplied
    assert SANE_REQUEST_ID.match(echoed)


# --- Unexpected errors -----------------------------------------------------------------


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_user(sessions, handle="ada")

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret detail")

    # schema/user.py calls `orders.tab_counts(...)` through the module.
    monkeypatch.setattr(orders, "tab_counts", broken)
    with caplog.at_level(logging.ERROR, logger="ordercenter.graphql"):
        response = await post(
            client,
            {"query": "{ viewer { handle orderTabs { tab count } } }"},
            headers={"Authorization": f"Bearer {token_for(user.id)}"},
        )
    assert response.status_code == 200
    payload = error_body(response)
    assert payload["data"] is None  # viewer and orderTabs are non-null
    (error,) = payload["errors"]
    assert error["message"] == "Internal server error"
    assert error["path"] == ["viewer", "orderTabs"]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # The operator can find the real cause by the id the client was given.
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert "secret detail" in str(logged[0].exc_info[1])


# --- Authentication --------------------------------------------------------------------


async def test_valid_bearer_token_signs_the_viewer_in(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    user = await make_user(sessions, handle="ada")
    for scheme in ("Bearer", "bearer"):
        response = await post(
            client,
            {"query": VIEWER_QUERY},
            headers={"Authorization": f"{scheme} {token_for(user.id)}"},
        )
        assert response.status_code == 200
        assert answer(response) == {"data": {"viewer": {"handle": "ada"}}}


def _claims(user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user_id), "iat": now, "exp": now + 3600, **overrides}


BAD_AUTHORIZATIONS: dict[str, Any] = {
    "expired": lambda uid: "Bearer " + issue_token(uid, secret=TEST_SECRET, ttl_seconds=-3600),
    "other-secret": lambda uid: (
        "Bearer "
        + issue_token(uid, secret="another-secret-that-is-long-enough-for-hs256", ttl_seconds=3600)
    ),
    "alg-none": lambda uid: "Bearer " + jwt.encode(_claims(uid), key=None, algorithm="none"),
    "no-exp": lambda uid: "Bearer " + jwt.encode({"sub": str(uid)}, TEST_SECRET, algorithm="HS256"),
    "sub-not-a-number": lambda uid: (
        "Bearer " + jwt.encode(_claims(uid, sub="ada"), TEST_SECRET, algorithm="HS256")
    ),
    "unknown-user": lambda uid: "Bearer " + token_for(uid + 1000),
    "malformed": lambda uid: "Bearer not.a.jwt",
    "garbage": lambda uid: "Bearer " + "%%%",
    "empty-bearer": lambda uid: "Bearer ",
    "basic-scheme": lambda uid: "Basic " + token_for(uid),
    "token-without-scheme": lambda uid: token_for(uid),
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATIONS))
async def test_bad_credentials_leave_the_caller_anonymous(
    client: httpx.AsyncClient, sessions: SessionFactory, case: str
) -> None:
    user = await make_user(sessions, handle="ada")
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, title="Teapot")
    assert user.id is not None
    assert product.id is not None
    headers = {"Authorization": BAD_AUTHORIZATIONS[case](user.id)}

    viewer = await post(client, {"query": VIEWER_QUERY}, headers=headers)
    assert viewer.status_code == 200
    payload = error_body(viewer)
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # Products are public: a bad token does not stop the request.
    public = await post(
        client,
        {
            "query": "query($id: ID!) { product(id: $id) { id title } }",
            "variables": {"id": to_global_id("Product", product.id)},
        },
        headers=headers,
    )
    assert public.status_code == 200
    assert answer(public) == {
        "data": {"product": {"id": to_global_id("Product", product.id), "title": "Teapot"}}
    }


async def test_several_operations_need_an_operation_name(client: httpx.AsyncClient) -> None:
    document = "query A { __typename } query B { __typename }"
    response = await client.post("/graphql", json={"query": document})
    assert response.status_code == 400
    assert "operationName" in response.json()["errors"][0]["message"]
    chosen = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert chosen.status_code == 200
    assert answer(chosen) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("path", ["/healthz", "/graphiql/static/graphiql.min.css", "/nowhere"])
async def test_routes_besides_graphql_carry_the_request_id(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"X-Request-ID": "support-ticket-42"})
    assert response.headers["X-Request-ID"] == "support-ticket-42"

"""Abuse limits, each at its bound and just over it: depth, aliases, tokens, page size,
static cost, and the per-caller cost budget (in memory, and shared through Redis).

Every refusal is a GraphQL error with a stable ``extensions.code``; the budget's is an
HTTP 429 with Retry-After.
"""

from __future__ import annotations

import math
import os
import uuid
from typing import Any

import httpx
import pytest

from app.settings import Settings
from db.engine import SessionFactory
from resolvers.ids import to_global_id
from tests.conftest import token_for
from tests.factories import make_user
from tests.security.conftest import Apps, make_settings

REDIS_URL_VAR = "ORDERCENTER_TEST_REDIS_URL"
PRODUCT = "query($id: ID!) { product(id: $id) { id } }"  # costs 1: one object
NO_PRODUCT = {"id": to_global_id("Product", 999_999)}


async def run(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    user_id: int | None = None,
) -> httpx.Response:
    headers = {} if user_id is None else {"Authorization": f"Bearer {token_for(user_id)}"}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def codes(response: httpx.Response) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


def assert_clean(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body


def assert_refused(response: httpx.Response, code: str) -> dict[str, Any]:
    """Refused before execution: one error with ``code`` and no ``data`` at all."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["message"]
    return error


@pytest.fixture
async def viewer_id(sessions: SessionFactory) -> int:
    user = await make_user(sessions, handle="ada")
    assert user.id is not None
    return user.id


# --- Depth -----------------------------------------------------------------------------

DEPTH_3 = "{ viewer { orders { edges { cursor } } } }"
DEPTH_4 = "{ viewer { orders { edges { node { id } } } } }"
DEPTH_4_IN_FRAGMENTS = """
query { viewer { ...Orders } }
fragment Orders on User { orders { ...Edges } }
fragment Edges on OrderConnection { edges { node { id } } }
"""


async def test_depth_at_the_limit_runs(apps: Apps, viewer_id: int) -> None:
    client = await apps.client(make_settings(max_query_depth=3))
    assert_clean(await run(client, DEPTH_3, user_id=viewer_id))


@pytest.mark.parametrize("query", [DEPTH_4, DEPTH_4_IN_FRAGMENTS], ids=["inline", "fragments"])
async def test_depth_over_the_limit_is_refused(apps: Apps, viewer_id: int, query: str) -> None:
    client = await apps.client(make_settings(max_query_depth=3))
    error = assert_refused(await run(client, query, user_id=viewer_id), "QUERY_TOO_DEEP")
    assert "depth of 3" in error["message"]


# --- Aliases ---------------------------------------------------------------------------

ALIASES: list[Any] = [
    pytest.param("{ a: __typename b: __typename c: __typename }", id="inline"),
    pytest.param(
        "{ ...F } fragment F on Query { a: __typename b: __typename c: __typename }",
        id="in-a-fragment",
    ),
    pytest.param(
        "{ ...F ... on Query { ...F } } fragment F on Query { a: __typename b: __typename }",
        id="fragment-spread-twice",
    ),
    pytest.param(
        "{ ...F } fragment F on Query { a: __typename ...G } "
        "fragment G on Query { b: __typename c: __typename }",
        id="nested-fragments",
    ),
    pytest.param(
        "{ a: product(id: 1) { id } b: product(id: 2) { id } ... on Query { c: __typename } }",
        id="in-an-inline-fragment",
    ),
]


async def test_aliases_at_the_limit_run(apps: Apps) -> None:
    client = await apps.client(make_settings(max_aliases=2))
    body = assert_clean(
        await run(client, "{ a: __typename ...F } fragment F on Query { b: __typename }")
    )
    assert body["data"] == {"a": "Query", "b": "Query"}


@pytest.mark.parametrize("query", ALIASES)
async def test_aliases_over_the_limit_are_refused(apps: Apps, query: str) -> None:
    client = await apps.client(make_settings(max_aliases=2))
    error = assert_refused(await run(client, query), "TOO_MANY_ALIASES")
    assert "Allowed: 2" in error["message"]


# --- Tokens ----------------------------------------------------------------------------


def typenames(count: int) -> str:
    """A document of ``count + 2`` tokens: the braces and ``count`` field names."""
    return "{ " + "__typename " * count + "}"


async def test_tokens_at_the_limit_run(apps: Apps) -> None:
    client = await apps.client(make_settings(max_tokens=10))
    assert_clean(await run(client, typenames(8)))


@pytest.mark.parametrize(
    "query",
    [typenames(9), "# a comment is a token too\n" + typenames(8)],
    ids=["fields", "comment"],
)
async def test_tokens_over_the_limit_are_refused(apps: Apps, query: str) -> None:
    client = await apps.client(make_settings(max_tokens=10))
    error = assert_refused(await run(client, query), "TOO_MANY_TOKENS")
    assert "more than 10 tokens" in error["message"]


# --- Page size -------------------------------------------------------------------------


@pytest.mark.parametrize("argument", ["first", "last"])
async def test_page_size_100_runs_and_101_is_refused(
    apps: Apps, viewer_id: int, argument: str
) -> None:
    client = await apps.client(make_settings())
    query = f"query($n: Int) {{ viewer {{ orders({argument}: $n) {{ edges {{ cursor }} }} }} }}"
    body = assert_clean(await run(client, query, {"n": 100}, user_id=viewer_id))
    assert body["data"] == {"viewer": {"orders": {"edges": []}}}

    over = await run(client, query, {"n": 101}, user_id=viewer_id)
    assert over.status_code == 200
    (error,) = over.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert "100" in error["message"]


# --- Static cost -----------------------------------------------------------------------

# viewer (1) + orders (1 + n x (edges 1 + node 1)): 2 + 2n.
COSTED = "query($n: Int!) { viewer { orders(first: $n) { edges { node { id } } } } }"


async def test_cost_at_the_limit_runs_and_is_reported(apps: Apps, viewer_id: int) -> None:
    client = await apps.client(make_settings(max_query_cost=42))
    first = assert_clean(await run(client, COSTED, {"n": 20}, user_id=viewer_id))
    again = assert_clean(await run(client, COSTED, {"n": 20}, user_id=viewer_id))
    assert first["extensions"]["cost"] == {"requested": 42, "maximum": 42}
    # The same operation reports the same: nothing about the budget left leaks.
    assert again["extensions"] == first["extensions"]


async def test_cost_over_the_limit_is_refused(apps: Apps, viewer_id: int) -> None:
    client = await apps.client(make_settings(max_query_cost=42))
    error = assert_refused(
        await run(client, COSTED, {"n": 21}, user_id=viewer_id), "QUERY_TOO_COSTLY"
    )
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 44, "maxCost": 42}
    assert "44" in error["message"]
    assert "42" in error["message"]


async def test_cost_counts_what_fragments_and_aliases_add(apps: Apps, viewer_id: int) -> None:
    client = await apps.client(make_settings(max_query_cost=42))
    query = """
    query($n: Int!) { viewer { ...O } again: viewer { handle } }
    fragment O on User { orders(first: $n) { edges { node { id } } } }
    """
    # Alone the fragment's page would cost 42; the aliased second viewer adds 1.
    assert_refused(await run(client, query, {"n": 20}, user_id=viewer_id), "QUERY_TOO_COSTLY")


# --- Budget per caller -----------------------------------------------------------------


def assert_rate_limited(response: httpx.Response, budget_per_minute: int) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = error["extensions"]["retryAfter"]
    assert isinstance(retry_after, int)
    # One unit refills in 60 / budget seconds.
    assert 1 <= retry_after <= math.ceil(60 / budget_per_minute)
    assert response.headers["Retry-After"] == str(retry_after)


def budget_settings(**overrides: Any) -> Settings:
    return make_settings(cost_budget_per_minute=3, **overrides)


async def test_the_request_over_the_budget_gets_429(apps: Apps, sessions: SessionFactory) -> None:
    ada = await make_user(sessions, handle="ada")
    bob = await make_user(sessions, handle="bob")
    client = await apps.client(budget_settings())
    for _ in range(3):
        assert_clean(await run(client, PRODUCT, NO_PRODUCT, user_id=ada.id))
    assert_rate_limited(await run(client, PRODUCT, NO_PRODUCT, user_id=ada.id), 3)
    # Another user has a budget of their own, from the same address.
    assert_clean(await run(client, PRODUCT, NO_PRODUCT, user_id=bob.id))
    # Free operations (cost 0) still run for the limited user.
    body = assert_clean(await run(client, "{ __typename }", user_id=ada.id))
    assert body["data"] == {"__typename": "Query"}


async def test_anonymous_callers_are_limited_by_address(
    apps: Apps, sessions: SessionFactory
) -> None:
    ada = await make_user(sessions, handle="ada")
    app = apps.app(budget_settings())
    first = await apps.client(app, address="198.51.100.1")
    for _ in range(3):
        assert_clean(await run(first, PRODUCT, NO_PRODUCT))
    assert_rate_limited(await run(first, PRODUCT, NO_PRODUCT), 3)
    # Another address has a budget of its own.
    other = await apps.client(app, address="198.51.100.2")
    assert_clean(await run(other, PRODUCT, NO_PRODUCT))
    # Signing in from the limited address spends the user's budget, not the address's.
    assert_clean(await run(first, PRODUCT, NO_PRODUCT, user_id=ada.id))


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VAR)
    if not url:
        pytest.skip(f"shared Redis budget: set {REDIS_URL_VAR} (e.g. redis://127.0.0.1:6379/0)")
    return url


async def test_the_redis_budget_holds_across_two_app_instances(apps: Apps, redis_url: str) -> None:
    import redis.asyncio as redis

    # A caller no other test or run uses: its key is the only one touched.
    address = f"203.0.113.{uuid.uuid4().hex}"
    key = f"ordercenter:budget:ip:{address}"
    settings = budget_settings(rate_limit_url=redis_url)
    one = await apps.client(settings, address=address)
    two = await apps.client(settings, address=address)
    store = redis.from_url(redis_url)
    try:
        assert_clean(await run(one, PRODUCT, NO_PRODUCT))
        assert_clean(await run(two, PRODUCT, NO_PRODUCT))
        assert_clean(await run(one, PRODUCT, NO_PRODUCT))
        # Each instance alone has spent at most 2 of 3; together they spent all.
        assert_rate_limited(await run(two, PRODUCT, NO_PRODUCT), 3)
        assert_rate_limited(await run(one, PRODUCT, NO_PRODUCT), 3)
        assert await store.exists(key) == 1
    finally:
        await store.delete(key)
        await store.aclose()

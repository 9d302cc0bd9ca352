"""Keyset pagination through the API: every connection pages forwards (orders both ways)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from graphql import GraphQLObjectType, build_schema
from sqlmodel import select

from db.engine import SessionFactory
from db.models import Payment, User
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from schema.definition import schema
from tests.conftest import GraphQLClient
from tests.factories import (
    BASE_TIME,
    make_order,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
    make_view,
)

PAGE_INFO = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

ORDERS = f"""
query Orders($first: Int, $after: String, $last: Int, $before: String) {{
  viewer {{
    orders(first: $first, after: $after, last: $last, before: $before) {{
      {PAGE_INFO}
      edges {{ cursor node {{ id number placedAt }} }}
    }}
  }}
}}
"""

# Forward-only connections and a field identifying each node.
CONNECTIONS: dict[str, str] = {
    "orders": "id",
    "payments": "id",
    "taggedItems": "id",
    "recentlyViewed": "product { id }",
    "recommendations": "id",
}


def _forward_query(field: str) -> str:
    return f"""
query Page($first: Int, $after: String) {{
  viewer {{
    {field}(first: $first, after: $after) {{
      {PAGE_INFO}
      edges {{ cursor node {{ {CONNECTIONS[field]} }} }}
    }}
  }}
}}
"""


def _key(node: dict[str, Any]) -> str:
    return str(node["id"] if "id" in node else node["product"]["id"])


async def _page(gql: GraphQLClient, user: User, field: str, **variables: Any) -> dict[str, Any]:
    query = ORDERS if field == "orders" else _forward_query(field)
    data = await gql.query(query, variables, user_id=user.id)
    connection: dict[str, Any] = data["viewer"][field]
    return connection


def _ids(connection: dict[str, Any]) -> list[str]:
    return [_key(edge["node"]) for edge in connection["edges"]]


async def _walk_forward(gql: GraphQLClient, user: User, field: str, size: int) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    for page_number in range(100):
        page = await _page(gql, user, field, first=size, after=after)
        info = page["pageInfo"]
        edges = page["edges"]
        assert len(edges) <= size
        assert info["hasPreviousPage"] is (page_number > 0)
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        seen.extend(_ids(page))
        if not info["hasNextPage"]:
            return seen
        assert len(edges) == size
        after = info["endCursor"]
    raise AssertionError("pagination never ended")


async def _walk_backward(gql: GraphQLClient, user: User, size: int) -> list[str]:
    seen: list[str] = []
    before: str | None = None
    for page_number in range(100):
        page = await _page(gql, user, "orders", last=size, before=before)
        info = page["pageInfo"]
        edges = page["edges"]
        assert len(edges) <= size
        assert info["hasNextPage"] is (page_number > 0)
        seen[:0] = _ids(page)
        if not info["hasPreviousPage"]:
            return seen
        assert len(edges) == size
        before = info["startCursor"]
    raise AssertionError("pagination never ended")


async def _buyer_with_orders(
    sessions: SessionFactory, placed: list[datetime], status: OrderStatus = OrderStatus.UNPAID
) -> tuple[User, list[str]]:
    """A buyer with orders placed at ``placed``; returns their ids newest first."""
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    orders = [
        await make_order(
            sessions, buyer=buyer, shop=shop, products=[product], placed_at=at, status=status
        )
        for at in placed
    ]
    newest_first = sorted(orders, key=lambda o: (o.placed_at, o.id), reverse=True)
    return buyer, [to_global_id("Order", o.id) for o in newest_first if o.id is not None]


def _times(*minutes: int) -> list[datetime]:
    return [BASE_TIME + timedelta(minutes=m) for m in minutes]


# Seven orders: inserted out of time order, with two pairs placed at the same instant.
PLACED = _times(30, 10, 50, 10, 40, 50, 20)


@pytest.mark.parametrize("field", list(CONNECTIONS))
async def test_empty_list(gql: GraphQLClient, sessions: SessionFactory, field: str) -> None:
    buyer = await make_user(sessions)
    page = await _page(gql, buyer, field, first=10)
    assert page == {
        "totalCount": 0,
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "edges": [],
    }


async def test_empty_list_backwards(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    page = await _page(gql, buyer, "orders", last=10)
    assert page["edges"] == []
    assert page["totalCount"] == 0
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_an_exact_page_has_no_next_page(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, expected = await _buyer_with_orders(sessions, _times(1, 2, 3, 4, 5))
    page = await _page(gql, buyer, "orders", first=5)
    assert _ids(page) == expected
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["totalCount"] == 5
    short = await _page(gql, buyer, "orders", first=4)
    assert _ids(short) == expected[:4]
    assert short["pageInfo"]["hasNextPage"] is True
    assert short["totalCount"] == 5


async def test_orders_newest_first_with_id_tie_break(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, expected = await _buyer_with_orders(sessions, PLACED)
    page = await _page(gql, buyer, "orders", first=100)
    placed = [edge["node"]["placedAt"] for edge in page["edges"]]
    assert _ids(page) == expected
    assert placed == sorted(placed, reverse=True)
    # Same instant: the later-inserted (higher id) order comes first.
    assert len(set(placed)) == 5  # two pairs share an instant


@pytest.mark.parametrize("size", [1, 2, 3, 6, 7])
async def test_walking_forward_sees_every_order_once(
    gql: GraphQLClient, sessions: SessionFactory, size: int
) -> None:
    buyer, expected = await _buyer_with_orders(sessions, PLACED)
    assert await _walk_forward(gql, buyer, "orders", size) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 6, 7])
async def test_walking_backward_gives_the_same_order(
    gql: GraphQLClient, sessions: SessionFactory, size: int
) -> None:
    buyer, expected = await _buyer_with_orders(sessions, PLACED)
    assert await _walk_backward(gql, buyer, size) == expected


async def test_last_page(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, expected = await _buyer_with_orders(sessions, PLACED)
    page = await _page(gql, buyer, "orders", last=3)
    assert _ids(page) == expected[-3:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["totalCount"] == 7
    whole = await _page(gql, buyer, "orders", last=7)
    assert _ids(whole) == expected
    assert whole["pageInfo"]["hasPreviousPage"] is False


async def test_forward_from_the_end_is_empty(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, _ = await _buyer_with_orders(sessions, _times(1, 2))
    page = await _page(gql, buyer, "orders", first=2)
    after = await _page(gql, buyer, "orders", first=2, after=page["pageInfo"]["endCursor"])
    assert after["edges"] == []
    assert after["pageInfo"]["hasNextPage"] is False
    assert after["totalCount"] == 2


async def test_cursors_go_both_ways(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, expected = await _buyer_with_orders(sessions, PLACED)
    whole = await _page(gql, buyer, "orders", first=7)
    cursors = [edge["cursor"] for edge in whole["edges"]]
    # Everything after the 3rd edge, and everything before the 5th.
    after = await _page(gql, buyer, "orders", first=10, after=cursors[2])
    assert _ids(after) == expected[3:]
    before = await _page(gql, buyer, "orders", last=10, before=cursors[4])
    assert _ids(before) == expected[:4]
    # totalCount is the whole list, whatever the cursor.
    assert after["totalCount"] == before["totalCount"] == 7


async def test_first_zero(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, _ = await _buyer_with_orders(sessions, _times(1, 2, 3))
    page = await _page(gql, buyer, "orders", first=0)
    assert page["edges"] == []
    assert page["totalCount"] == 3
    # Relay: with first: 0, more edges exist than were asked for.
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["startCursor"] is None
    assert page["pageInfo"]["endCursor"] is None
    empty = await make_user(sessions)
    none = await _page(gql, empty, "orders", first=0)
    assert none["pageInfo"]["hasNextPage"] is False


async def test_default_page_size_is_20(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, expected = await _buyer_with_orders(sessions, _times(*range(23)))
    data = await gql.query(
        "{ viewer { orders { totalCount pageInfo { hasNextPage } edges { node { id } } } } }",
        user_id=buyer.id,
    )
    page = data["viewer"]["orders"]
    assert _ids(page) == expected[:20]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 23


@pytest.mark.parametrize("field", list(CONNECTIONS))
@pytest.mark.parametrize("first", [101, -1])
async def test_page_size_out_of_bounds_is_bad_user_input(
    gql: GraphQLClient, sessions: SessionFactory, field: str, first: int
) -> None:
    buyer = await make_user(sessions)
    error = await gql.error(_forward_query(field), {"first": first}, user_id=buyer.id)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}
    assert error["message"] == f"`first` must be between 0 and 100; got {first}."
    assert error["path"] == ["viewer", field]


async def test_first_100_is_allowed(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer, expected = await _buyer_with_orders(sessions, _times(1))
    page = await _page(gql, buyer, "orders", first=100)
    assert _ids(page) == expected


@pytest.mark.parametrize(
    ("variables", "argument", "message"),
    [
        ({"last": 101}, "last", "`last` must be between 0 and 100; got 101."),
        ({"first": 1, "last": 1}, "last", "Pass either `first` or `last`, not both."),
    ],
)
async def test_bad_orders_page_arguments(
    gql: GraphQLClient,
    sessions: SessionFactory,
    variables: dict[str, Any],
    argument: str,
    message: str,
) -> None:
    buyer = await make_user(sessions)
    error = await gql.error(ORDERS, variables, user_id=buyer.id)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert error["message"] == message


async def test_after_and_before_together_is_an_error(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _ = await _buyer_with_orders(sessions, _times(1, 2))
    cursor = (await _page(gql, buyer, "orders", first=1))["pageInfo"]["endCursor"]
    error = await gql.error(ORDERS, {"after": cursor, "before": cursor}, user_id=buyer.id)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not both" in error["message"]


def _crafted(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        _crafted("orders", "yesterday", 1),
        _crafted("orders", "2026-01-01T00:00:00", 1),
        _crafted("orders", "9999-12-31T23:59:59-05:00", 1),
        _crafted("orders", "2026-01-01T00:00:00+00:00", 2**70),
    ],
    ids=["garbage", "empty", "bad key", "naive key", "overflowing key", "huge pk"],
)
@pytest.mark.parametrize("direction", ["after", "before"])
async def test_invalid_cursor_is_a_clear_error(
    gql: GraphQLClient, sessions: SessionFactory, cursor: str, direction: str
) -> None:
    buyer, _ = await _buyer_with_orders(sessions, _times(1))
    error = await gql.error(ORDERS, {direction: cursor}, user_id=buyer.id)
    assert error["message"] == f"`{direction}` is not a valid cursor."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": direction}


async def test_cursor_of_another_list_names_it(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    # AWAITING_SHIPMENT orders have a captured payment each.
    buyer, _ = await _buyer_with_orders(sessions, _times(1, 2), OrderStatus.AWAITING_SHIPMENT)
    payments = await _page(gql, buyer, "payments", first=1)
    cursor = payments["pageInfo"]["endCursor"]
    assert cursor is not None
    error = await gql.error(ORDERS, {"first": 1, "after": cursor}, user_id=buyer.id)
    assert error["message"] == "`after` is a cursor of another list (payments), not of orders."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}
    # And the other way round.
    orders = await _page(gql, buyer, "orders", first=1)
    error = await gql.error(
        _forward_query("payments"),
        {"first": 1, "after": orders["pageInfo"]["endCursor"]},
        user_id=buyer.id,
    )
    assert "another list (orders)" in error["message"]


async def test_cursor_of_a_float_list_on_a_datetime_list(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    await make_recommendation(
        sessions, user=buyer, product=await make_product(sessions, shop=shop), score=0.5
    )
    recs = await _page(gql, buyer, "recommendations", first=1)
    error = await gql.error(
        _forward_query("taggedItems"),
        {"first": 1, "after": recs["pageInfo"]["endCursor"]},
        user_id=buyer.id,
    )
    assert "another list (recommendations)" in error["message"]


async def test_other_buyers_orders_are_not_listed(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, expected = await _buyer_with_orders(sessions, _times(1, 2))
    await _buyer_with_orders(sessions, _times(1, 2, 3))
    page = await _page(gql, buyer, "orders", first=10)
    assert _ids(page) == expected
    assert page["totalCount"] == 2


# --- the other connections ------------------------------------------------------


async def _activity(sessions: SessionFactory) -> tuple[User, dict[str, list[str]]]:
    """A buyer with 5 of each forward-only list, ties included; expected ids per list."""
    buyer = await make_user(sessions)
    stranger = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(6)]
    times = _times(3, 1, 3, 2, 5)
    scores = [0.5, 0.9, 0.5, 0.1, 0.7]

    tags = [
        await make_tag(sessions, user=buyer, product=p, tagged_at=t)
        for p, t in zip(products, times, strict=False)
    ]
    views = [
        await make_view(sessions, user=buyer, product=p, viewed_at=t)
        for p, t in zip(products, times, strict=False)
    ]
    recs = [
        await make_recommendation(sessions, user=buyer, product=p, score=s)
        for p, s in zip(products, scores, strict=False)
    ]
    await make_recommendation(sessions, user=buyer, product=products[5], score=1.0, dismissed=True)
    orders = [
        await make_order(
            sessions,
            buyer=buyer,
            shop=shop,
            products=[products[0]],
            placed_at=t,
            status=OrderStatus.AWAITING_SHIPMENT,
        )
        for t in times
    ]
    # Someone else's rows never show up.
    await make_tag(sessions, user=stranger, product=products[0])
    await make_view(sessions, user=stranger, product=products[0])
    await make_recommendation(sessions, user=stranger, product=products[0], score=0.99)
    await make_order(
        sessions,
        buyer=stranger,
        shop=shop,
        products=[products[0]],
        status=OrderStatus.AWAITING_SHIPMENT,
    )

    def newest(rows: list[Any], key: str) -> list[Any]:
        return sorted(rows, key=lambda r: (getattr(r, key), r.id), reverse=True)

    payment_order = newest(orders, "placed_at")  # each payment is 5 minutes after its order
    expected = {
        "orders": [to_global_id("Order", o.id) for o in payment_order],
        "taggedItems": [to_global_id("TaggedItem", t.id) for t in newest(tags, "tagged_at")],
        "recentlyViewed": [
            to_global_id("Product", v.product_id) for v in newest(views, "viewed_at")
        ],
        "recommendations": [to_global_id("Recommendation", r.id) for r in newest(recs, "score")],
    }
    assert buyer.id is not None
    expected["payments"] = await _payment_ids(sessions, buyer.id)
    return buyer, expected


async def _payment_ids(sessions: SessionFactory, user_id: int) -> list[str]:
    async with sessions() as session:
        rows = (await session.execute(select(Payment).where(Payment.user_id == user_id))).scalars()
        ordered = sorted(rows, key=lambda p: (p.created_at, p.id), reverse=True)
    return [to_global_id("Payment", p.id) for p in ordered if p.id is not None]


@pytest.mark.parametrize("field", list(CONNECTIONS))
@pytest.mark.parametrize("size", [1, 2, 5])
async def test_every_connection_pages_forward_in_order(
    gql: GraphQLClient, sessions: SessionFactory, field: str, size: int
) -> None:
    buyer, expected = await _activity(sessions)
    assert len(expected[field]) == 5
    assert await _walk_forward(gql, buyer, field, size) == expected[field]
    page = await _page(gql, buyer, field, first=size)
    assert page["totalCount"] == 5


async def test_recommendations_are_best_first_and_skip_dismissed(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _ = await _activity(sessions)
    data = await gql.query(
        "{ viewer { recommendations(first: 10) { totalCount edges { node { score } } } } }",
        user_id=buyer.id,
    )
    recs = data["viewer"]["recommendations"]
    assert [e["node"]["score"] for e in recs["edges"]] == [0.9, 0.7, 0.5, 0.5, 0.1]
    assert recs["totalCount"] == 5


def test_every_connection_takes_the_same_paging_arguments() -> None:
    # One declaration (schema.paging) for every list: same names, same descriptions.
    served = build_schema(schema.as_str())
    orders = served.get_type("User")
    assert isinstance(orders, GraphQLObjectType)
    said = {
        name: argument.description
        for name, argument in orders.fields["orders"].args.items()
        if name in ("first", "after", "last", "before")
    }
    assert len(said) == 4
    connections = [
        (type_name, field_name, field)
        for type_name, graphql_type in served.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType)
        for field_name, field in graphql_type.fields.items()
        if str(field.type).rstrip("!").endswith("Connection")
    ]
    assert len(connections) >= 7
    for type_name, field_name, field in connections:
        paging = {n: a.description for n, a in field.args.items() if n in said}
        assert {"first", "after"} <= set(paging), (type_name, field_name)
        assert paging == {n: said[n] for n in paging}, (type_name, field_name)

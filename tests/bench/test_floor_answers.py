"""The stronger floor (bench/floor.py's /sql routes, bench/floor_sql.py) answers with the
JSON our API answers: the same values, types and key order, on edge-case data.

A floor that answered less (a field left out, a list cut short, a card shown that our
API hides) would flatter it; the benchmark's ratios are only fair if this holds. The
floor's own bytes are PostgreSQL's text (spaces included) wrapped in ``{"data":…}``, so
the comparison is of the parsed answers, written out again the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.queries import ACTIVITY, ORDER_CENTER_PAGE, ORDER_DETAIL
from db.engine import create_session_factory
from db.models import PaymentMethod, User
from tests.conftest import token_for
from tests.factories import (
    make_payment,
    make_payment_method,
    make_product,
    make_shop,
    make_tag,
    make_view,
)
from tests.queries.test_sql_plans import _people
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _activity(engine: AsyncEngine, people: dict[str, Any]) -> None:
    """More than a page of tags, views and payments; a removed card; a second one."""
    sessions = create_session_factory(engine)
    buyer: User = people["buyer"]
    shop = await make_shop(sessions, name="Tags & Views")
    await make_payment_method(sessions, user=buyer, last4="1111", is_default=False)
    removed = await make_payment_method(sessions, user=buyer, last4="9999", is_default=False)
    async with sessions() as session:
        row = await session.get(PaymentMethod, removed.id)
        assert row is not None
        row.removed_at = people["orders"][0].placed_at
        await session.commit()
    base = people["orders"][0].placed_at
    for i in range(12):
        # JPY and KWD too: amounts with no and with three decimals.
        currency = ("USD", "JPY", "KWD")[i % 3]
        product = await make_product(
            sessions, shop=shop, price_minor=100 * i + 5, currency=currency
        )
        at = base + timedelta(hours=i, microseconds=0 if i % 2 else 10)
        await make_tag(sessions, user=buyer, product=product, tagged_at=at)
        await make_view(sessions, user=buyer, product=product, viewed_at=at)
        await make_payment(sessions, order=people["orders"][i % 6], status="FAILED", created_at=at)


async def _ours(apps: Apps, query: str, variables: dict[str, Any], user: User) -> Any:
    client = await apps.client(make_settings())
    assert user.id is not None
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token_for(user.id)}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _floor(floor: httpx.AsyncClient, path: str, body: dict[str, Any], user: User) -> Any:
    assert user.id is not None
    response = await floor.post(
        path, json=body, headers={"Authorization": f"Bearer {token_for(user.id)}"}
    )
    assert response.status_code == 200
    assert response.content.startswith(b'{"data":{"viewer" : '), response.content[:200]
    return orjson.loads(response.content)["data"]


def _same(ours: Any, theirs: Any) -> None:
    # Written out again by one serializer: equal only with equal values, types (1.0 is
    # not 1) and key order.
    assert orjson.dumps(theirs) == orjson.dumps(ours)


async def test_the_page_is_our_answer(
    apps: Apps, engine: AsyncEngine, floor: httpx.AsyncClient
) -> None:
    people = await _people(engine)
    await _activity(engine, people)
    for who in ("buyer", "operator", "stranger"):
        for first in (20, 2, 0):
            ours = await _ours(apps, ORDER_CENTER_PAGE, {"first": first}, people[who])
            _same(ours, await _floor(floor, "/sql/page", {"first": first}, people[who]))
    # The edge cases are in what was compared.
    page = await _ours(apps, ORDER_CENTER_PAGE, {"first": 20}, people["buyer"])
    text = orjson.dumps(page)
    for expected in (
        b'"score":1.0',
        b'"score":0.30000000000000004',
        b'"amount":"500"',
        b'"amount":"12.345"',
        b'"SHIP"',
    ):
        assert expected in text, expected
    assert page["viewer"]["orders"]["pageInfo"]["hasNextPage"] is False
    assert (await _ours(apps, ORDER_CENTER_PAGE, {"first": 2}, people["buyer"]))["viewer"][
        "orders"
    ]["pageInfo"]["hasNextPage"] is True


async def test_order_detail_is_our_answer(
    apps: Apps, engine: AsyncEngine, floor: httpx.AsyncClient
) -> None:
    people = await _people(engine)
    await _activity(engine, people)
    for order in people["orders"]:
        for who in ("buyer", "stranger"):
            ours = await _ours(apps, ORDER_DETAIL, {"number": order.number}, people[who])
            theirs = await _floor(floor, "/sql/order", {"number": order.number}, people[who])
            _same(ours, theirs)
            assert (theirs["viewer"]["order"] is None) is (who == "stranger")


async def test_activity_is_our_answer(
    apps: Apps, engine: AsyncEngine, floor: httpx.AsyncClient
) -> None:
    people = await _people(engine)
    await _activity(engine, people)
    for who in ("buyer", "stranger"):
        for first in (10, 1):
            ours = await _ours(apps, ACTIVITY, {"first": first}, people[who])
            _same(ours, await _floor(floor, "/sql/activity", {"first": first}, people[who]))
    activity = (await _ours(apps, ACTIVITY, {"first": 10}, people["buyer"]))["viewer"]
    assert [m["last4"] for m in activity["paymentMethods"]] == ["4242", "1111"]  # not removed
    for connection in ("payments", "taggedItems", "recentlyViewed"):
        assert activity[connection]["pageInfo"]["hasNextPage"] is True
        assert len(activity[connection]["edges"]) == 10
    # Somebody else's card on the buyer's payment stays hidden.
    assert b'"0005"' not in orjson.dumps(activity)


async def test_a_bad_token_is_refused(engine: AsyncEngine, floor: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await floor.post("/sql/page", json={"first": 20}, headers=headers)
        assert response.json() == {"errors": [{"message": "Sign in first."}], "data": None}
    # A valid token of nobody: refused as ours refuses it, not answered with nulls.
    response = await floor.post(
        "/sql/page", json={"first": 20}, headers={"Authorization": f"Bearer {token_for(10**6)}"}
    )
    assert response.json()["data"] is None

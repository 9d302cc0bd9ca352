"""The Order Center screen in one request, and the SQL behind it not growing with it."""

from __future__ import annotations

from typing import Any

from bench.queries import ORDER_CENTER_PAGE
from db.engine import SessionFactory
from domain.order_status import OrderStatus
from tests.conftest import GraphQLClient, StatementCounter
from tests.factories import (
    make_order,
    make_payment_method,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
)

PAGE_QUERY = ORDER_CENTER_PAGE  # the query `make bench` measures, too

STATUSES = list(OrderStatus)


async def _seed_orders(
    sessions: SessionFactory, count: int, statuses: list[OrderStatus] = STATUSES
) -> int:
    buyer = await make_user(sessions, handle="buyer")
    method = await make_payment_method(sessions, user=buyer)
    shops = [await make_shop(sessions) for _ in range(3)]
    products = [await make_product(sessions, shop=s) for s in shops for _ in range(3)]
    for i in range(count):
        shop_index = i % 3
        await make_order(
            sessions,
            buyer=buyer,
            shop=shops[shop_index],
            products=products[shop_index * 3 : shop_index * 3 + 2],
            status=statuses[i % len(statuses)],
            payment_method=method,
        )
    # Recommendations: products the buyer has not bought, based on one they tagged.
    other_shop = await make_shop(sessions)
    tagged = await make_product(sessions, shop=other_shop)
    await make_tag(sessions, user=buyer, product=tagged)
    await make_tag(sessions, user=buyer, product=products[0])
    for i in range(5):
        product = await make_product(sessions, shop=other_shop)
        await make_recommendation(
            sessions, user=buyer, product=product, score=0.9 - i / 10, based_on=tagged
        )
    assert buyer.id is not None
    return buyer.id


async def _page(gql: GraphQLClient, user_id: int, first: int) -> dict[str, Any]:
    return await gql.query(PAGE_QUERY, {"first": first}, user_id=user_id)


async def test_page_query_reads_everything_the_screen_shows(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    user_id = await _seed_orders(sessions, 7)
    data = (await _page(gql, user_id, 20))["viewer"]
    assert data["handle"] == "buyer"
    orders = data["orders"]
    assert orders["totalCount"] == 7
    assert len(orders["edges"]) == 7
    statuses = {e["node"]["status"] for e in orders["edges"]}
    assert statuses == {s.value for s in OrderStatus}
    for edge in orders["edges"]:
        node = edge["node"]
        timeline = node["timeline"]
        assert timeline[0]["fromStatus"] is None
        assert timeline[-1]["toStatus"] == node["status"]
        assert timeline[-1]["orderVersion"] == node["version"]
        assert len(node["items"]) == 2
        if node["status"] in ("UNPAID", "CANCELLED", "AWAITING_SHIPMENT"):
            assert node["shipment"] is None
        else:
            assert node["shipment"]["events"][0]["kind"] == "LABEL_CREATED"
    tabs = {t["tab"]: t["count"] for t in data["orderTabs"]}
    assert tabs == {
        "TO_PAY": 1,
        "TO_SHIP": 2,
        "SHIPPED": 1,
        "DELIVERED": 1,
        "COMPLETED": 1,
        "CANCELLED": 1,
        "TO_REVIEW": 1,  # the completed order, none of its lines reviewed
        "RETURNS": 0,
    }
    recs = data["recommendations"]["edges"]
    assert [r["node"]["score"] for r in recs] == sorted(
        (r["node"]["score"] for r in recs), reverse=True
    )
    assert recs[0]["node"]["basedOn"] is not None


async def test_statement_count_does_not_grow_with_orders_shown(
    gql: GraphQLClient, sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    # Completed orders exercise every relation: payments, shipment, scans, timeline.
    user_id = await _seed_orders(sessions, 50, statuses=[OrderStatus.COMPLETED])
    # Answered once, the document has its compiled plan: on PostgreSQL the database
    # builds the whole answer in one statement from then on.
    await _page(gql, user_id, 1)
    counts: dict[int, int] = {}
    for shown in (1, 20, 50):
        count_statements.reset()
        data = await _page(gql, user_id, shown)
        assert len(data["viewer"]["orders"]["edges"]) == shown
        counts[shown] = count_statements.count
    # One batched query per relation, whatever the number of orders shown.
    assert counts[1] == counts[20] == counts[50], counts
    assert counts[50] <= MAX_STATEMENTS, "\n".join(count_statements.statements)


# viewer; orders page, tabs, recommendations; totalCount, items, payments, shipments,
# timeline, shops, recommended products; payment methods, scans, ordered products;
# the viewer's tags of them.
MAX_STATEMENTS = 15

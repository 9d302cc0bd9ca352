"""On PostgreSQL a compiled plan's answer is built by the database in one statement
(schema.sql_plans); it must be exactly graphql-core's, byte for byte.

The data here is made for the rules' edges: a buyer who owns the shop they bought from
(seller actions too), an operator (seller of every shop), a payment made with somebody
else's card (hidden), instants with and without microseconds (".123400" keeps its
zeros), currencies with 0 and 3 decimals, scores whose JSON differs between languages
(1.0, 1e-05, 0.30000000000000004), text with quotes, backslashes and emoji, dismissed
recommendations and empty lists.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, update

from bench.queries import ORDER_CENTER_PAGE, ORDER_DETAIL
from db.engine import create_session_factory
from db.models import Order, PaymentMethod, Product, Shop, User
from domain.order_status import OrderStatus
from resolvers.ids import from_global_id, to_global_id
from resolvers.loaders import relation_of
from resolvers.policy import NODE_SIGHTS
from tests.conftest import StatementCounter, token_for
from tests.factories import (
    make_order,
    make_payment,
    make_payment_method,
    make_product,
    make_recommendation,
    make_return,
    make_review,
    make_shop,
    make_tag,
    make_user,
    make_view,
    record_steps,
    set_delivered_at,
)
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

# Both databases build the answer: PostgreSQL with its json functions, SQLite with its own.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

EVERYTHING = """
query Everything($n: Int) {
  me: viewer {
    __typename id handle displayName
    tabs: orderTabs { count __typename tab }
    list: orders(first: $n) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { __typename ...O } }
    }
    recommendations {
      totalCount
      pageInfo { endCursor hasNextPage }
      edges { cursor node { id score reason
        product { id title price { amount currencyCode } }
        basedOn { id title imageUrl } } }
    }
  }
}
fragment O on Order {
  id number tab status cancelReason placedAt updatedAt paymentStatus availableActions version
  subtotal { amount currencyCode } shippingFee { amount } tax { amount }
  total { currencyCode amount }
  shippingAddress { name line1 line2 city region postalCode countryCode phone }
  shop { id handle name }
  items { id title quantity sourceVideoId unitPrice { amount currencyCode } total { amount }
          product { id title description category imageUrl viewerHasTagged
                    price { amount currencyCode } shop { name } } }
  payments { id status createdAt amount { amount currencyCode }
             method { id brand last4 expMonth expYear isDefault } }
  shipment { carrier trackingNumber shippedAt deliveredAt estimatedDelivery
             events { kind location message happenedAt } }
  timeline { id cursor fromStatus toStatus orderVersion actor note occurredAt }
}
"""


async def _people(engine: AsyncEngine) -> dict[str, Any]:
    sessions = create_session_factory(engine)
    buyer = await make_user(sessions)
    operator = await make_user(sessions, role="operator")
    stranger = await make_user(sessions)
    own_shop = await make_shop(sessions, owner=buyer, name='Ada\'s "Own" Shop \\ 🛍')
    other_shop = await make_shop(sessions)
    tea = await make_product(sessions, shop=own_shop, title='Tea "Matcha" — 抹茶 \\ 🍵')
    yen = await make_product(sessions, shop=other_shop, price_minor=500, currency="JPY")
    dinar = await make_product(sessions, shop=other_shop, price_minor=12345, currency="KWD")
    cheap = await make_product(sessions, shop=other_shop, price_minor=5)
    spare = await make_product(sessions, shop=other_shop, price_minor=0)
    card = await make_payment_method(sessions, user=buyer)
    foreign_card = await make_payment_method(sessions, user=stranger, last4="0005")
    base = datetime(2026, 10, 3, 9, 30, 15, 123400, tzinfo=UTC)
    orders: list[Order] = []
    for i, (status, shop, products) in enumerate(
        [
            (OrderStatus.UNPAID, own_shop, [tea]),
            (OrderStatus.AWAITING_SHIPMENT, own_shop, [tea, cheap]),
            (OrderStatus.IN_TRANSIT, other_shop, [yen]),
            (OrderStatus.DELIVERED, other_shop, [dinar]),
            (OrderStatus.COMPLETED, other_shop, [cheap]),
            (OrderStatus.CANCELLED, own_shop, [tea]),
        ]
    ):
        micro = [base, base.replace(microsecond=0), base.replace(microsecond=1)][i % 3]
        orders.append(
            await make_order(
                sessions,
                buyer=buyer,
                shop=shop,
                products=products,
                status=status,
                placed_at=micro + timedelta(days=i),
                payment_method=card,
            )
        )
    await make_payment(sessions, order=orders[5], status="REFUNDED", payment_method=foreign_card)
    await make_payment(sessions, order=orders[0], status="FAILED", payment_method=foreign_card)
    # Listed by creation, not by id: one made before the capture, one after.
    for minutes in (-30, 600):
        at = orders[1].placed_at + timedelta(minutes=minutes)
        await make_payment(sessions, order=orders[1], status="FAILED", created_at=at)
    for owner in (operator, stranger):
        await make_order(sessions, buyer=owner, shop=own_shop, products=[tea], payment_method=card)
    await make_tag(sessions, user=buyer, product=tea)
    for score, product, based_on in [
        (1.0, yen, tea),
        (1e-05, dinar, None),
        (0.1 + 0.2, cheap, yen),
        (0.5, tea, None),
    ]:
        await make_recommendation(
            sessions, user=buyer, product=product, score=score, based_on=based_on
        )
    await make_recommendation(sessions, user=buyer, product=spare, score=0.9, dismissed=True)
    # Reviews: the completed order's line (so it leaves TO_REVIEW), and more of `cheap`
    # from other buyers' completed orders, one edited, their average 4.25 -> 4.3.
    await make_review(
        sessions, order=orders[4], rating=4, text='Tiny "but" \\ good 🍵', posted_at=base
    )
    for rating, owner, edited in [(4, stranger, None), (5, operator, base), (4, buyer, None)]:
        done = await make_order(
            sessions,
            buyer=owner,
            shop=other_shop,
            products=[cheap, dinar],
            status=OrderStatus.COMPLETED,
        )
        posted = done.placed_at + timedelta(days=3, microseconds=rating)
        await make_review(sessions, order=done, rating=rating, posted_at=posted, edited_at=edited)
    # Payment, scan and review events on the timelines, each naming its row.
    assert await record_steps(sessions) > 0
    return {
        "buyer": buyer,
        "operator": operator,
        "stranger": stranger,
        "orders": orders,
        "products": [tea, yen, dinar],
        "reviewed": [cheap, dinar],
    }


def _around_first_difference(a: bytes, b: bytes) -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"in SQL: {a[at - 120 : at + 60]!r}\ngeneric: {b[at - 120 : at + 60]!r}"


async def _compare(
    apps: Apps,
    count_statements: StatementCounter,
    query: str,
    variables: dict[str, Any],
    user: User,
) -> bytes:
    plain = apps.app(make_settings(compiled_plans=False))
    planned = apps.app(make_settings(compiled_plans=True))
    assert user.id is not None
    headers = {"Authorization": f"Bearer {token_for(user.id)}"}
    body = {"query": query, "variables": variables}
    generic = await (await apps.client(plain)).post("/graphql", json=body, headers=headers)
    client = await apps.client(planned)
    await client.post("/graphql", json=body, headers=headers)  # compiles the plan
    count_statements.reset()
    in_sql = await client.post("/graphql", json=body, headers=headers)
    assert b'"errors"' not in generic.content, generic.content[:400]
    assert in_sql.content == generic.content, _around_first_difference(
        in_sql.content, generic.content
    )
    assert planned.state.plans.answered == 1
    assert count_statements.count == 1  # the database built it: one statement
    # With nobody listening for statements, PostgreSQL's runs on asyncpg's connection
    # itself (resolvers.batching.Reads.text_rows): the same bytes again.
    sync_engine = planned.state.engine.sync_engine
    event.remove(sync_engine, "before_cursor_execute", count_statements)
    try:
        by_driver = await client.post("/graphql", json=body, headers=headers)
    finally:
        event.listen(sync_engine, "before_cursor_execute", count_statements)
    assert by_driver.content == generic.content, _around_first_difference(
        by_driver.content, generic.content
    )
    assert planned.state.plans.answered == 2
    return generic.content


async def test_the_plans_statement_takes_one_pooled_connection_and_no_more(
    apps: Apps, engine: AsyncEngine
) -> None:
    """On PostgreSQL the plan's one statement runs on a raw connection of the pool, with
    no SQLAlchemy Connection made for it; SQLite reads through one, as every read there."""
    people = await _people(engine)
    planned = apps.app(make_settings(compiled_plans=True))
    client = await apps.client(planned)
    headers = {"Authorization": f"Bearer {token_for(people['buyer'].id)}"}
    body = {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}
    generic = await client.post("/graphql", json=body, headers=headers)  # compiles the plan
    connections: list[object] = []
    checkouts: list[object] = []
    sync_engine = engine.sync_engine

    def connected(connection: object) -> None:
        connections.append(connection)

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(sync_engine, "engine_connect", connected)
    event.listen(sync_engine, "checkout", checked_out)
    try:
        in_sql = await client.post("/graphql", json=body, headers=headers)
    finally:
        event.remove(sync_engine, "engine_connect", connected)
        event.remove(sync_engine, "checkout", checked_out)
    assert in_sql.content == generic.content
    assert planned.state.plans.answered == 1
    assert len(checkouts) == 1
    assert len(connections) == (0 if engine.dialect.name == "postgresql" else 1)
    assert sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # given back


@pytest.mark.parametrize("first", [None, 0, 1, 2, 6, 100])
async def test_everything_in_one_statement_answers_as_graphql_core(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter, first: int | None
) -> None:
    people = await _people(engine)
    for who in ("buyer", "operator", "stranger"):
        answer = await _compare(apps, count_statements, EVERYTHING, {"n": first}, people[who])
        if who == "buyer" and first == 6:
            # The edges this data is for are in the answer.
            for expected in (
                b'"availableActions":["CANCEL","SHIP"]',  # buyer and seller of that order
                b'"availableActions":["CONFIRM_RECEIPT"]',
                b".123400+00:00",
                b':15+00:00"',  # no microseconds at all
                b'"score":1.0,',
                b'"score":0.00001,',
                b'"score":0.30000000000000004,',
                "抹茶".encode(),
            ):
                assert expected in answer, expected
            assert b'"0005"' not in answer  # somebody else's card stays hidden
            assert b'"amount":"500"' in answer  # yen: no decimals
            assert b'"amount":"12.345"' in answer  # dinar: three


async def test_the_page_and_order_detail_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    await _compare(apps, count_statements, ORDER_CENTER_PAGE, {"first": 20}, people["buyer"])
    for order in people["orders"]:
        answer = await _compare(
            apps, count_statements, ORDER_DETAIL, {"number": order.number}, people["buyer"]
        )
        assert order.number.encode() in answer
    # Somebody else's order, and a number too long to exist: null, as the resolver says.
    for number in (people["orders"][0].number, "X" * 65):
        answer = await _compare(
            apps, count_statements, ORDER_DETAIL, {"number": number}, people["stranger"]
        )
        assert answer.startswith(b'{"data":{"viewer":{"order":null}}')


TIMELINES = """
query Timelines($n: Int) {
  viewer { orders(first: $n) { edges { node { number timeline {
    id kind toStatus orderVersion actor
    shipmentEvent { kind location message happenedAt }
    payment { id status createdAt amount { amount currencyCode } method { id last4 } }
    review { id rating text reviewerName postedAt editedAt }
    orderReturn { id status lines { quantity } }
  } } } } }
}
"""


async def test_event_subjects_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    """An event's scan, payment, return or review, by its kind (null for the other kinds): in SQL as
    graphql-core resolves it, the card only to its owner."""
    people = await _people(engine)
    sessions = create_session_factory(engine)
    await make_return(sessions, order=people["orders"][3])
    assert await record_steps(sessions) == 1  # the return's request
    for who in ("buyer", "operator", "stranger"):
        answer = await _compare(apps, count_statements, TIMELINES, {"n": 20}, people[who])
        if who == "buyer":
            for expected in (
                b'"kind":"CARRIER_SCAN"',
                b'"shipmentEvent":{"kind":"LABEL_CREATED"',
                b'"kind":"PAYMENT_CAPTURED"',
                b'"kind":"PAYMENT_FAILED"',
                b'"kind":"REFUNDED"',
                b'"last4":"4242"',
                b'"shipmentEvent":null',
                b'"payment":null',
                b'"kind":"REVIEW_POSTED"',
                b'"review":{"id":',
                b'"review":null',
                b'"kind":"RETURN_REQUESTED"',
                b'"orderReturn":{"id":',
                b'"orderReturn":null',
            ):
                assert expected in answer, expected
            # A payment made with somebody else's card: shown, the card not.
            assert b'"method":null' in answer
            assert b'"0005"' not in answer


async def test_sql_plans_off_means_python_plans(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    app = apps.app(make_settings(sql_plans=False))
    client = await apps.client(app)
    buyer = people["buyer"]
    assert buyer.id is not None
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    body = {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}
    await client.post("/graphql", json=body, headers=headers)
    count_statements.reset()
    await client.post("/graphql", json=body, headers=headers)
    assert app.state.plans.answered == 1
    assert count_statements.count > 1


async def test_a_statement_the_database_refuses_falls_back_to_the_python_plan(
    apps: Apps,
    engine: AsyncEngine,
    count_statements: StatementCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = await _people(engine)
    plain = apps.app(make_settings(compiled_plans=False))
    planned = apps.app(make_settings())
    buyer = people["buyer"]
    assert buyer.id is not None
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    body = {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}
    generic = await (await apps.client(plain)).post("/graphql", json=body, headers=headers)
    client = await apps.client(planned)
    await client.post("/graphql", json=body, headers=headers)
    plan = planned.state.plans.get(ORDER_CENTER_PAGE, None)
    assert plan is not None
    dialect = engine.dialect.name
    sql_plan = plan.sql_plan(dialect)
    assert sql_plan is not None
    plan.sql[dialect] = replace(sql_plan, statement=text("SELECT no_such_function(:viewer)"))
    answer = await client.post("/graphql", json=body, headers=headers)
    assert answer.content == generic.content
    assert planned.state.plans.answered == 1  # the plan answered, in Python
    assert "an SQL plan failed" in caplog.text


async def test_a_statement_too_deep_for_sqlites_parser_is_tried_once_then_left_to_python(
    apps: Apps,
    engine: AsyncEngine,
    count_statements: StatementCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Which documents nest deeper than SQLite's parser goes depends on their shape alone
    (generated documents find such shapes): it is not a fault to warn about, and the
    statement is not sent again for that document. Any other refusal (PostgreSQL's parser
    has no such limit: a missing function there) is warned about and tried again."""
    sqlite = engine.dialect.name == "sqlite"
    people = await _people(engine)
    plain = apps.app(make_settings(compiled_plans=False))
    planned = apps.app(make_settings())
    buyer = people["buyer"]
    assert buyer.id is not None
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    body = {"query": ORDER_CENTER_PAGE, "variables": {"first": 20}}
    generic = await (await apps.client(plain)).post("/graphql", json=body, headers=headers)
    client = await apps.client(planned)
    await client.post("/graphql", json=body, headers=headers)
    plan = planned.state.plans.get(ORDER_CENTER_PAGE, None)
    assert plan is not None
    dialect = engine.dialect.name
    sql_plan = plan.sql_plan(dialect)
    assert sql_plan is not None
    deep = "SELECT " + "(" * 400 + ":viewer" + ")" * 400 if sqlite else "SELECT nope(:viewer)"
    plan.sql[dialect] = replace(sql_plan, statement=text(deep))
    for _ in range(2):
        count_statements.reset()
        answer = await client.post("/graphql", json=body, headers=headers)
        assert answer.content == generic.content
    assert plan.sql[dialect].too_deep is sqlite
    # SQLite: the second answer sent no statement it cannot parse, the Python plan's only.
    marker = "(" * 400 if sqlite else "nope("
    sent_again = any(marker in statement for statement in count_statements.statements)
    assert sent_again is not sqlite
    assert ("an SQL plan failed" in caplog.text) is not sqlite


ACTIVITY = """
query Activity($first: Int, $after: String) {
  viewer {
    paymentMethods { id brand last4 expMonth expYear isDefault }
    payments(first: $first) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id status createdAt amount { amount currencyCode }
        order { number total { amount } } method { last4 } } }
    }
    taggedItems(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id taggedAt sourceVideoId product { id title viewerHasTagged } } }
    }
    recentlyViewed(first: $first) {
      totalCount edges { cursor node { viewedAt product { title price { amount } } } }
    }
  }
}
"""

FILTERED = """
query Filtered($first: Int, $after: String, $last: Int, $before: String, $filter: OrderFilter) {
  viewer {
    orders(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { number status tab placedAt timeline { toStatus cursor } } }
    }
  }
}
"""


async def test_every_list_of_the_viewer_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    sessions = create_session_factory(engine)
    buyer = people["buyer"]
    for product in people["products"]:
        await make_view(sessions, user=buyer, product=product)
    for who in ("buyer", "operator", "stranger"):
        for first in (None, 0, 1, 3):
            await _compare(apps, count_statements, ACTIVITY, {"first": first}, people[who])


async def test_filtered_and_paged_orders_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    buyer = people["buyer"]
    placed = people["orders"][2].placed_at
    filters: list[dict[str, Any] | None] = [
        None,
        {},
        {"tab": "TO_PAY"},
        {"tab": "SHIPPED", "status": ["IN_TRANSIT", "DELIVERED"]},
        {"status": ["COMPLETED", "CANCELLED", "UNPAID"]},
        {"status": []},
        {"placedAfter": placed.isoformat()},
        {"placedBefore": placed.isoformat(), "tab": "TO_SHIP"},
        {"search": "matcha"},  # an item title, any case
        {"search": people["orders"][3].number},
        {"search": "own"},  # the shop's name
        {"search": "100%_\\"},  # LIKE's own characters are matched as text
        {"search": "   "},
        {"tab": "TO_REVIEW"},  # a list by its own rule, beside the status tabs
        {"tab": "TO_REVIEW", "search": "OC-"},
    ]
    for flt in filters:
        answer = await _compare(
            apps, count_statements, FILTERED, {"first": 2, "filter": flt}, buyer
        )
        # Then the next page, from the end cursor of the first, and back again.
        end = orjson.loads(answer)["data"]["viewer"]["orders"]["pageInfo"]["endCursor"]
        if end is not None:
            variables = {"first": 2, "after": end, "filter": flt}
            following = await _compare(apps, count_statements, FILTERED, variables, buyer)
            start = orjson.loads(following)["data"]["viewer"]["orders"]["pageInfo"]["startCursor"]
            if start is not None:
                variables = {"last": 2, "before": start, "filter": flt}
                back = await _compare(apps, count_statements, FILTERED, variables, buyer)
                assert back == answer
        # The last page, counted from the end.
        await _compare(apps, count_statements, FILTERED, {"last": 3, "filter": flt}, buyer)


async def test_the_statement_leaves_out_the_filters_a_request_does_not_send(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    """PostgreSQL runs generic plans (db.engine): a filter term or cursor a request does
    not send must not be in its statement as a test the plan keeps for every row."""
    buyer = (await _people(engine))["buyer"]
    shapes = [
        {"first": 2},
        {"first": 2, "filter": {"tab": "TO_SHIP"}},
        {"first": 2, "filter": {"search": "matcha"}},
        {"last": 2, "filter": {"tab": "TO_REVIEW"}},
    ]
    sent = []
    for variables in shapes:
        await _compare(apps, count_statements, FILTERED, variables, buyer)
        sent.append(count_statements.statements[-1])
    if engine.dialect.name != "postgresql":
        return  # SQLite plans each statement as it comes
    for statement in sent:
        assert re.search(r"CAST\(\S+ AS [^)]*\) IS NULL", statement) is None, statement[:300]
    assert len(set(sent)) == len(shapes)  # one statement per combination of terms sent


PRODUCT = """
query Product($id: ID!) {
  product(id: $id) { id title category price { amount currencyCode }
    shop { id handle name } viewerHasTagged }
}
"""


async def test_a_product_by_id_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    for product in people["products"]:
        for who in ("buyer", "stranger"):
            answer = await _compare(
                apps,
                count_statements,
                PRODUCT,
                {"id": to_global_id("Product", product.id)},
                people[who],
            )
            assert answer.startswith(b'{"data":{"product":{"id":"'), answer[:200]
    missing = to_global_id("Product", 10**9)
    answer = await _compare(apps, count_statements, PRODUCT, {"id": missing}, people["buyer"])
    assert answer.startswith(b'{"data":{"product":null}')


REVIEWS = """
query Reviews($id: ID!, $first: Int, $after: String) {
  product(id: $id) {
    id rating { average count }
    reviews(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { __typename id rating text postedAt editedAt editableUntil
                            reviewerName } }
    }
  }
}
"""

ITEM_REVIEWS = """
query ItemReviews {
  viewer { orders(first: 20) { edges { node { number items { id title
    review { id rating text postedAt editedAt editableUntil reviewerName } } } } } }
}
"""


async def test_product_rating_and_reviews_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    for product in [*people["products"], *people["reviewed"]]:
        product_id = to_global_id("Product", product.id)
        for first in (None, 1, 2, 10):
            answer = await _compare(
                apps, count_statements, REVIEWS, {"id": product_id, "first": first}, people["buyer"]
            )
            end = orjson.loads(answer)["data"]["product"]["reviews"]["pageInfo"]["endCursor"]
            if end is not None:
                variables = {"id": product_id, "first": first, "after": end}
                await _compare(apps, count_statements, REVIEWS, variables, people["stranger"])
    cheap = to_global_id("Product", people["reviewed"][0].id)
    answer = await _compare(apps, count_statements, REVIEWS, {"id": cheap}, people["stranger"])
    assert b'"rating":{"average":4.3,"count":4}' in answer
    assert 'Tiny \\"but\\" \\\\ good 🍵'.encode() in answer
    no_reviews = to_global_id("Product", people["products"][0].id)
    answer = await _compare(apps, count_statements, REVIEWS, {"id": no_reviews}, people["buyer"])
    assert b'"rating":{"average":null,"count":0}' in answer


async def test_order_item_reviews_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    for who in ("buyer", "operator", "stranger"):
        answer = await _compare(apps, count_statements, ITEM_REVIEWS, {}, people[who])
        if who == "buyer":
            assert b'"review":{"id":"' in answer
            assert b'"review":null' in answer


NESTED_REVIEWS = """
query Nested {
  viewer { orders(first: 3) { edges { node { items { product {
    rating { average count } reviews(first: 2) { totalCount edges { cursor node { rating } } }
  } } } } } }
}
"""


async def test_a_connection_inside_a_connection(
    apps: Apps,
    engine: AsyncEngine,
    count_statements: StatementCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One statement on PostgreSQL; on SQLite that statement nests deeper than its parser
    goes, so the SQL plan declines it (no failed statement) and the Python plan answers."""
    people = await _people(engine)
    if engine.dialect.name == "postgresql":
        await _compare(apps, count_statements, NESTED_REVIEWS, {}, people["buyer"])
        return
    plain = apps.app(make_settings(compiled_plans=False))
    planned = apps.app(make_settings(compiled_plans=True))
    buyer = people["buyer"]
    assert buyer.id is not None
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    body = {"query": NESTED_REVIEWS, "variables": {}}
    generic = await (await apps.client(plain)).post("/graphql", json=body, headers=headers)
    client = await apps.client(planned)
    await client.post("/graphql", json=body, headers=headers)
    answer = await client.post("/graphql", json=body, headers=headers)
    assert answer.content == generic.content
    assert b'"reviews":{"totalCount":' in answer.content
    assert planned.state.plans.answered == 1
    assert "an SQL plan failed" not in caplog.text


async def test_json_written_by_the_database_is_the_bytes_orjson_writes(
    engine: AsyncEngine,
) -> None:
    """The SQL plan sends the database's JSON text as it is: strings, floats and nesting
    must be written exactly as orjson writes graphql-core's answers."""
    from schema.sql_plans import as_text, json_array, json_object, orjson_float, typed, writing

    texts = ["plain", 'quote " back \\ slash', "tab\tnew\nline\r\x01\x1f\x7f", "抹茶 🍵 \u2028 /"]
    floats = [
        1e-3,
        1e-4,
        1.5e-4,
        1e-5,
        1.5e-5,
        -1.5e-5,
        1e-6,
        1.23e-7,
        0.1,
        1.0,
        12.0,
        1e15,
        1e16,
        1.5e16,
        0.1 + 0.2,
        -2.5,
        123456.789,
    ]
    with writing(engine.dialect.name):
        v = typed(":v", "text")
        value_sql = as_text(
            json_object([("k", v), ("n", "CAST(NULL AS integer)"), ("a", json_array([v, "1"]))])
        )
        number_sql = orjson_float(typed(":v", "double precision"))
    async with engine.connect() as connection:
        for value in texts:
            row = (await connection.execute(text(f"SELECT {value_sql}"), {"v": value})).one()
            assert row[0].encode() == orjson.dumps({"k": value, "n": None, "a": [value, 1]})
        for number in floats:
            row = (await connection.execute(text(f"SELECT {number_sql}"), {"v": number})).one()
            assert row[0].encode() == orjson.dumps(number), number


# --- node / nodes: objects of any Node type, each type's visibility in the statement ----

NODE_PARTS = """
fragment N on Node {
  __typename id
  ... on User { handle displayName }
  ... on Order { ...O }
  ... on OrderEvent { cursor toStatus actor occurredAt order { number } }
  ... on Shop { name handle }
  ... on Product { ...P }
  ... on Payment { paid: status amount { amount currencyCode } method { last4 } order { id } }
  ... on PaymentMethod { brand last4 isDefault }
  ... on Recommendation { score reason product { ...P } basedOn { id } }
  ... on Review { rating text reviewerName postedAt editedAt }
}
fragment P on Product { title price { amount currencyCode } viewerHasTagged shop { name } }
""" + EVERYTHING[EVERYTHING.index("fragment O on Order") :]

NODE = (
    """
query Node($id: ID!) {
  node(id: $id) { ...N again: id ... on Node { __typename } }
  only: node(id: $id) { ... on Order { number } }
}
"""
    + NODE_PARTS
)

NODES = (
    """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { ...N }
  typenames: nodes(ids: $ids) { __typename }
}
"""
    + NODE_PARTS
)


async def _every_id(engine: AsyncEngine) -> list[str]:
    """A global id of every row of every type that has one, and of a missing one each."""
    found = []
    async with engine.connect() as connection:
        for type_name, sight in NODE_SIGHTS.items():
            relation = relation_of(sight.loader)
            assert relation is not None
            table = relation.model.__tablename__
            rows = await connection.execute(text(f"SELECT id FROM {table} ORDER BY id"))  # noqa: S608
            found += [to_global_id(type_name, pk) for (pk,) in rows]
            found.append(to_global_id(type_name, 10**6))
    return found


async def _people_and_ids(engine: AsyncEngine) -> tuple[dict[str, Any], list[str]]:
    """The people, the buyer's removed card too, and every id (_every_id)."""
    people = await _people(engine)
    await _removed_card(engine, people)
    return people, await _every_id(engine)


async def _removed_card(engine: AsyncEngine, people: dict[str, Any]) -> None:
    """The buyer's removed card: kept for old payments, never shown (policy.shown)."""
    sessions = create_session_factory(engine)
    card = await make_payment_method(sessions, user=people["buyer"])
    async with sessions() as session:
        removed = datetime(2026, 10, 1, tzinfo=UTC)
        await session.execute(
            update(PaymentMethod).where(col(PaymentMethod.id) == card.id).values(removed_at=removed)
        )
        await session.commit()


async def test_a_node_of_every_type_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people, ids = await _people_and_ids(engine)
    shown: dict[str, set[str]] = {}
    for who in ("buyer", "operator", "stranger"):
        for global_id in ids:
            answer = await _compare(apps, count_statements, NODE, {"id": global_id}, people[who])
            type_name = from_global_id(global_id)[0]
            if not answer.startswith(b'{"data":{"node":null'):
                shown.setdefault(who, set()).add(type_name)
                assert global_id.encode() in answer
    # Each viewer saw what the policy lets them see, and nothing else.
    public = {"Shop", "Product", "Review"}
    assert shown["buyer"] == public | {
        "User",
        "Order",
        "OrderEvent",
        "Payment",
        "PaymentMethod",
        "Recommendation",
    }
    assert shown["operator"] == public | {"User", "Order", "OrderEvent", "Payment"}
    # Their own orders (the completed one they reviewed is paid) and their card; not the
    # buyer's removed one.
    assert shown["stranger"] == public | {"User", "Order", "OrderEvent", "Payment", "PaymentMethod"}


async def test_nodes_of_every_type_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people, ids = await _people_and_ids(engine)
    for who in ("buyer", "operator", "stranger"):
        for chosen in (ids[:100], ids[-100:], [ids[3], ids[3], ids[0]], []):
            answer = await _compare(apps, count_statements, NODES, {"ids": chosen}, people[who])
            assert len(orjson.loads(answer)["data"]["nodes"]) == len(chosen)


async def test_malformed_ids_are_answered_as_graphql_core_answers_them(
    apps: Apps, engine: AsyncEngine
) -> None:
    people = await _people(engine)
    plain = apps.app(make_settings(compiled_plans=False))
    planned = apps.app(make_settings(compiled_plans=True))
    buyer = people["buyer"]
    assert buyer.id is not None
    headers = {"Authorization": f"Bearer {token_for(buyer.id)}"}
    good = to_global_id("Product", people["products"][0].id)
    client, generic = await apps.client(planned), await apps.client(plain)
    for document, name, value in ((NODE, "id", good), (NODES, "ids", [good])):
        # The plan is compiled on an answer without errors; then it meets the bad ids.
        await client.post("/graphql", json={"query": document, "variables": {name: value}})
        bad: list[Any] = ["x", "T3JkZXI6MQ==", to_global_id("Nope", 1)]
        if name == "ids":
            bad = [["x", "T3JkZXI6MQ=="], [good] * 101]
        for value in bad:
            body = {"query": document, "variables": {name: value}}
            expected = await generic.post("/graphql", json=body, headers=headers)
            got = await client.post("/graphql", json=body, headers=headers)
            assert b'"errors"' in expected.content
            assert got.content == expected.content


BUY_AGAIN = """
query BuyAgain($first: Int, $after: String) {
  viewer {
    buyAgain(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { __typename lastOrderedAt timesOrdered unitsOrdered
        product { id title price { amount currencyCode } } } }
    }
  }
}
"""


async def test_buy_again_in_one_statement(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    sessions = create_session_factory(engine)
    # Bought again, and a purchase of a product no longer on sale (not listed).
    buyer, tea, yen, dinar = people["buyer"], *people["products"]
    orders = people["orders"]
    await make_order(
        sessions,
        buyer=buyer,
        shop=await make_shop(sessions),
        products=[yen, dinar],
        status=OrderStatus.COMPLETED,
        placed_at=orders[3].placed_at,
        quantity=4,
    )
    async with sessions() as session:
        await session.execute(
            update(Product).where(col(Product.id) == tea.id).values(on_sale=False)
        )
        await session.commit()
    for who in ("buyer", "operator", "stranger"):
        for first in (None, 0, 1, 2, 10):
            answer = await _compare(
                apps, count_statements, BUY_AGAIN, {"first": first}, people[who]
            )
            # Every following page, from each page's end cursor.
            page = orjson.loads(answer)["data"]["viewer"]["buyAgain"]
            while first and page["pageInfo"]["hasNextPage"]:
                variables = {"first": first, "after": page["pageInfo"]["endCursor"]}
                answer = await _compare(apps, count_statements, BUY_AGAIN, variables, people[who])
                page = orjson.loads(answer)["data"]["viewer"]["buyAgain"]
    answer = await _compare(apps, count_statements, BUY_AGAIN, {"first": 10}, buyer)
    titles = [
        e["node"]["product"]["title"]
        for e in orjson.loads(answer)["data"]["viewer"]["buyAgain"]["edges"]
    ]
    assert len(titles) == 3  # yen, dinar and the cheap one
    assert tea.title not in titles


RETURNS = """
query Returns($n: Int) {
  viewer {
    orderTabs { tab count }
    returning: orders(filter: {tab: RETURNS}, first: $n) {
      totalCount
      edges { cursor node { id tab status paymentStatus availableActions
        returns { id status reason note rejectReason carrier trackingNumber refundFailure
                  subtotal { amount currencyCode } tax { amount } shippingFee { amount }
                  refundTotal { amount currencyCode }
                  requestedAt decidedAt shippedAt receivedAt refundedAt
                  lines { quantity item { id } } order { id number } } } }
    }
    all: orders(first: 20) { edges { node { number availableActions paymentStatus
                                            payments { status amount { amount } } } } }
  }
}
"""


# A return's lines in full: under `order(number:)`, as the page under a connection nests
# one level deeper than SQLite's parser allows (there the Python plan answers).
RETURN_DETAIL = """
query ReturnDetail($number: String!) {
  viewer { order(number: $number) { number availableActions returns { id status
    lines { quantity unitPrice { amount currencyCode } total { amount currencyCode }
            item { id title quantity } } } } }
}
"""


async def test_returns_in_one_statement_answer_as_graphql_core(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    people = await _people(engine)
    sessions = create_session_factory(engine)
    buyer, orders = people["buyer"], people["orders"]
    now = datetime.now(UTC)
    delivered, completed = orders[3], orders[4]
    # In the window, every unit in a return; a refunded and a withdrawn return on an
    # order past its window; one of the buyer's own shop (buyer and seller at once) on
    # its way back, with a unit left.
    for order, days in ((delivered, 1), (completed, 20)):
        assert order.id is not None
        await set_delivered_at(sessions, order.id, now - timedelta(days=days))
    await make_return(sessions, order=delivered, status="REQUESTED")
    refunded = await make_return(sessions, order=completed, status="REFUNDED")
    await make_payment(
        sessions, order=completed, status="PARTIALLY_REFUNDED", amount_minor=refunded.total_minor
    )
    await make_return(sessions, order=completed, status="CANCELLED")
    own = await make_order(
        sessions,
        buyer=buyer,
        shop=await _shop_of(sessions, orders[0]),
        products=people["products"][:1],
        status=OrderStatus.DELIVERED,
        quantity=2,
    )
    assert own.id is not None
    await set_delivered_at(sessions, own.id, now - timedelta(days=2))
    await make_return(sessions, order=own, status="SHIPPED_BACK")
    for who in ("buyer", "operator", "stranger"):
        for n in (None, 1, 5):
            answer = await _compare(apps, count_statements, RETURNS, {"n": n}, people[who])
            if who == "buyer" and n == 5:
                for expected in (
                    b'{"tab":"RETURNS","count":3}',
                    b'"availableActions":["CONFIRM_RECEIPT","CANCEL_RETURN"]',
                    b'"availableActions":["CONFIRM_RECEIPT","REQUEST_RETURN","RECEIVE_RETURN"]',
                    b'"paymentStatus":"PARTIALLY_REFUNDED"',
                    b'"status":"REFUNDED"',
                    b'"status":"CANCELLED"',
                ):
                    assert expected in answer, expected
        for order in (delivered, completed, own):
            answer = await _compare(
                apps, count_statements, RETURN_DETAIL, {"number": order.number}, people[who]
            )
            if who == "buyer":
                assert b'"lines":[{"quantity":1' in answer


async def test_request_return_in_one_statement_by_window_and_units_left(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    """REQUEST_RETURN is offered as graphql-core offers it for a delivered order: in its
    window with no return, with only refused or withdrawn ones (their units are free
    again), with a unit no return holds; not with every unit in a return, nor past the
    window."""
    people = await _people(engine)
    sessions = create_session_factory(engine)
    shop = await _shop_of(sessions, people["orders"][3])
    now = datetime.now(UTC)
    offered: dict[str, bool] = {}
    for days, returns, quantity, offers in (
        (1, (), 1, True),
        (1, ("CANCELLED", "REJECTED"), 1, True),
        (1, ("APPROVED",), 2, True),
        (1, ("RECEIVED",), 1, False),
        (40, (), 1, False),
    ):
        order = await make_order(
            sessions,
            buyer=people["buyer"],
            shop=shop,
            products=people["products"][1:2],
            status=OrderStatus.DELIVERED,
            quantity=quantity,
        )
        assert order.id is not None
        await set_delivered_at(sessions, order.id, now - timedelta(days=days))
        for status in returns:
            await make_return(sessions, order=order, status=status)
        offered[order.number] = offers
    for who in ("buyer", "operator", "stranger"):
        for number, offers in offered.items():
            answer = await _compare(
                apps, count_statements, RETURN_DETAIL, {"number": number}, people[who]
            )
            if who == "buyer":
                assert (b'"REQUEST_RETURN"' in answer) is offers, (number, answer[:300])


async def _shop_of(sessions: Any, order: Order) -> Shop:
    async with sessions() as session:
        shop = await session.get(Shop, order.shop_id)
    assert shop is not None
    return shop


REVIEW_ACTIONS = """
query ReviewActions($id: ID!) {
  node(id: $id) { ... on Order { number status availableActions
    items { id review { id postedAt editableUntil } } } }
}
"""


async def test_review_actions_in_one_statement_by_lines_left_and_edit_window(
    apps: Apps, engine: AsyncEngine, count_statements: StatementCounter
) -> None:
    """REVIEW and EDIT_REVIEW are offered as graphql-core offers them: to the buyer of a
    completed order with a line left to review / a review inside its edit window; to its
    seller (the operator) and a stranger, never. Review.editableUntil is postedAt plus
    the window, to the microsecond, in both."""
    people = await _people(engine)
    sessions = create_session_factory(engine)
    shop = await _shop_of(sessions, people["orders"][3])
    # Days from either end of the window: "now" moves on a little before the requests.
    now = datetime.now(UTC).replace(microsecond=250)
    fresh, old = now - timedelta(days=1), now - timedelta(days=40, microseconds=-7)
    offered: dict[str, tuple[bool, bool]] = {}
    for status, posted, offers in (
        (OrderStatus.COMPLETED, (), (True, False)),
        (OrderStatus.COMPLETED, (fresh,), (True, True)),
        (OrderStatus.COMPLETED, (old, fresh.replace(microsecond=0)), (False, True)),
        (OrderStatus.COMPLETED, (old,), (True, False)),
        (OrderStatus.COMPLETED, (old, old), (False, False)),
        (OrderStatus.DELIVERED, (), (False, False)),
    ):
        order = await make_order(
            sessions,
            buyer=people["buyer"],
            shop=shop,
            products=people["reviewed"],
            status=status,
        )
        for index, at in enumerate(posted):
            await make_review(sessions, order=order, item_index=index, posted_at=at)
        offered[to_global_id("Order", order.id)] = offers
    for who in ("buyer", "operator", "stranger"):
        for order_id, (review, edit) in offered.items():
            answer = await _compare(
                apps, count_statements, REVIEW_ACTIONS, {"id": order_id}, people[who]
            )
            found = orjson.loads(answer)["data"]["node"]
            actions = [] if found is None else found["availableActions"]
            mine = who == "buyer"
            assert ("REVIEW" in actions) is (review and mine), (who, found)
            assert ("EDIT_REVIEW" in actions) is (edit and mine), (who, found)
            for item in [] if found is None else found["items"]:
                if item["review"] is not None:
                    posted_at = datetime.fromisoformat(item["review"]["postedAt"])
                    until = datetime.fromisoformat(item["review"]["editableUntil"])
                    assert until - posted_at == timedelta(days=30)

"""placeOrder: server-side pricing, snapshots, stock, paying at once, and every refusal.

The helpers at the top are shared by the other mutation test modules.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import (
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderItem,
    Payment,
    PaymentMethod,
    Product,
    Shipment,
    ShipmentEvent,
    User,
)
from resolvers.ids import from_global_id, to_global_id
from tests.conftest import GraphQLClient
from tests.factories import make_order, make_payment_method, make_product, make_shop, make_user

# --- shared helpers -------------------------------------------------------------------

ADDRESS: dict[str, Any] = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postalCode": "12345",
    "countryCode": "us",
}

ORDER_SELECTION = """
    id number status version placedAt paymentStatus cancelReason availableActions
    subtotal { amount currencyCode } shippingFee { amount } tax { amount } total { amount }
    items { title quantity unitPrice { amount } total { amount } sourceVideoId product { id } }
    payments { status amount { amount } }
    timeline { kind fromStatus toStatus orderVersion actor note }
    shipment { carrier trackingNumber deliveredAt events { kind } }
    shippingAddress { name line1 countryCode }
"""

ORDER_FIELDS = f"order {{ {ORDER_SELECTION} }} userErrors {{ field code message }}"

ORDER_QUERY = f"query($id: ID!) {{ node(id: $id) {{ ... on Order {{ {ORDER_SELECTION} }} }} }}"

INPUT_TYPES = {
    "placeOrder": "PlaceOrderInput",
    "payOrder": "PayOrderInput",
    "cancelOrder": "CancelOrderInput",
    "confirmReceipt": "ConfirmReceiptInput",
    "shipOrder": "ShipOrderInput",
    "updateOrderStatus": "UpdateOrderStatusInput",
}

DATA_TABLES = (IdempotencyKey, Order, OrderItem, OrderEvent, Payment, Shipment, ShipmentEvent)


def mutation(name: str) -> str:
    return (
        f"mutation($input: {INPUT_TYPES[name]}!) {{ {name}(input: $input) {{ {ORDER_FIELDS} }} }}"
    )


def gid(type_name: str, row: Product | Order | PaymentMethod | User) -> str:
    assert row.id is not None
    return to_global_id(type_name, row.id)


def pk_of(global_id: str) -> int:
    return from_global_id(global_id)[1]


def line(product: Product, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {"productId": gid("Product", product), "quantity": quantity, **extra}


async def run(
    gql: GraphQLClient, name: str, input_: dict[str, Any], *, user: User
) -> dict[str, Any]:
    """The payload of one mutation; fails on any GraphQL error."""
    data = await gql.query(mutation(name), {"input": input_}, user_id=user.id)
    payload: dict[str, Any] = data[name]
    return payload


async def place(
    gql: GraphQLClient,
    user: User,
    items: list[dict[str, Any]],
    *,
    key: str = "key-1",
    address: dict[str, Any] | None = None,
    method: PaymentMethod | None = None,
) -> dict[str, Any]:
    input_: dict[str, Any] = {
        "items": items,
        "shippingAddress": address or ADDRESS,
        "idempotencyKey": key,
    }
    if method is not None:
        input_["paymentMethodId"] = gid("PaymentMethod", method)
    return await run(gql, "placeOrder", input_, user=user)


async def read_order(gql: GraphQLClient, order_id: str, *, user: User) -> dict[str, Any]:
    data = await gql.query(ORDER_QUERY, {"id": order_id}, user_id=user.id)
    order: dict[str, Any] = data["node"]
    return order


async def db_state(sessions: SessionFactory) -> dict[str, Any]:
    """Row counts of everything a mutation writes, and every product's stock."""
    state: dict[str, Any] = {}
    async with sessions() as session:
        for model in DATA_TABLES:
            count = await session.execute(select(func.count()).select_from(model))
            state[str(model.__tablename__)] = count.scalar_one()
        rows = await session.execute(
            select(col(Product.id), col(Product.stock)).order_by(col(Product.id))
        )
        state["stock"] = dict(rows.all())
    return state


async def stock_of(sessions: SessionFactory, product: Product) -> int:
    async with sessions() as session:
        found = await session.execute(
            select(col(Product.stock)).where(col(Product.id) == product.id)
        )
        stock: int = found.scalar_one()
    return stock


async def payment_statuses(sessions: SessionFactory, order_pk: int | None = None) -> list[str]:
    """Statuses of the payments rows (of one order, or all), oldest first."""
    statement = select(col(Payment.status)).order_by(col(Payment.id))
    if order_pk is not None:
        statement = statement.where(col(Payment.order_id) == order_pk)
    async with sessions() as session:
        return list((await session.execute(statement)).scalars().all())


async def event_versions(sessions: SessionFactory, order_pk: int) -> list[int]:
    """The versions the order's status changes made, in event order (the other kinds of
    event leave the version alone)."""
    async with sessions() as session:
        rows = await session.execute(
            select(col(OrderEvent.order_version))
            .where(col(OrderEvent.order_id) == order_pk, col(OrderEvent.kind) == "STATUS_CHANGED")
            .order_by(col(OrderEvent.id))
        )
        return list(rows.scalars().all())


def status_changes(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's timeline without the steps beside the status (scans, payments)."""
    return [e for e in order["timeline"] if e["kind"] == "STATUS_CHANGED"]


async def order_row(sessions: SessionFactory, order_pk: int) -> Order:
    async with sessions() as session:
        order = await session.get(Order, order_pk)
    assert order is not None
    return order


async def set_card(
    sessions: SessionFactory,
    method: PaymentMethod,
    *,
    token: str | None = None,
    exp_month: int | None = None,
    exp_year: int | None = None,
    removed_at: datetime | None = None,
) -> None:
    """Change a saved method in place (its processor token, expiry, removal)."""
    values: dict[str, Any] = {}
    if token is not None:
        values["processor_token"] = token
    if exp_month is not None:
        values["exp_month"] = exp_month
    if exp_year is not None:
        values["exp_year"] = exp_year
    if removed_at is not None:
        values["removed_at"] = removed_at
    async with sessions() as session:
        await session.execute(
            update(PaymentMethod).where(col(PaymentMethod.id) == method.id).values(**values)
        )
        await session.commit()


async def set_product(sessions: SessionFactory, product: Product, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(Product).where(Product.id == product.id).values(**values))  # type: ignore[arg-type]
        await session.commit()


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


# --- success --------------------------------------------------------------------------


async def test_prices_snapshots_stock_and_first_event(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    mug = await make_product(sessions, shop=shop, title="Mug", price_minor=1999, stock=5)
    pen = await make_product(sessions, shop=shop, title="Pen", price_minor=250, stock=4)

    payload = await place(gql, buyer, [line(mug, 2, sourceVideoId="vid_42"), line(pen, 1)])

    assert payload["userErrors"] == []
    order = payload["order"]
    # 2 x 19.99 + 2.50 = 42.48: under 50.00, so 4.99 shipping; 8% tax = 3.3984 -> 3.40.
    assert order["subtotal"] == {"amount": "42.48", "currencyCode": "USD"}
    assert order["shippingFee"]["amount"] == "4.99"
    assert order["tax"]["amount"] == "3.40"
    assert order["total"]["amount"] == "50.87"
    assert order["status"] == "UNPAID"
    assert order["version"] == 1
    assert order["paymentStatus"] == "UNPAID"
    assert order["payments"] == []
    assert order["shippingAddress"]["countryCode"] == "US"
    year = datetime.fromisoformat(order["placedAt"]).year
    assert re.fullmatch(rf"OC-{year}-\d{{6}}", order["number"]), order["number"]
    assert order["items"] == [
        {
            "title": "Mug",
            "quantity": 2,
            "unitPrice": {"amount": "19.99"},
            "total": {"amount": "39.98"},
            "sourceVideoId": "vid_42",
            "product": {"id": gid("Product", mug)},
        },
        {
            "title": "Pen",
            "quantity": 1,
            "unitPrice": {"amount": "2.50"},
            "total": {"amount": "2.50"},
            "sourceVideoId": None,
            "product": {"id": gid("Product", pen)},
        },
    ]
    assert order["timeline"] == [
        {
            "kind": "STATUS_CHANGED",
            "fromStatus": None,
            "toStatus": "UNPAID",
            "orderVersion": 1,
            "actor": "BUYER",
            "note": None,
        }
    ]
    assert await stock_of(sessions, mug) == 3
    assert await stock_of(sessions, pen) == 3

    # The order keeps what the product was when it was bought.
    await set_product(sessions, mug, price_minor=9999, title="Renamed mug")
    again = await read_order(gql, order["id"], user=buyer)
    assert again["items"][0]["title"] == "Mug"
    assert again["items"][0]["unitPrice"]["amount"] == "19.99"
    assert again["total"]["amount"] == "50.87"


async def test_shipping_is_free_from_fifty(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, price_minor=2500, stock=10)
    cheaper = await make_product(sessions, shop=shop, price_minor=4999, stock=10)

    at_fifty = (await place(gql, buyer, [line(product, 2)], key="a"))["order"]
    assert at_fifty["shippingFee"]["amount"] == "0.00"
    assert at_fifty["tax"]["amount"] == "4.00"
    assert at_fifty["total"]["amount"] == "54.00"

    just_under = (await place(gql, buyer, [line(cheaper, 1)], key="b"))["order"]
    assert just_under["shippingFee"]["amount"] == "4.99"
    # 8% of 49.99 = 3.9992 -> 4.00
    assert just_under["total"]["amount"] == "58.98"


async def test_order_numbers_are_distinct(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=10)
    first = (await place(gql, buyer, [line(product)], key="a"))["order"]["number"]
    second = (await place(gql, buyer, [line(product)], key="b"))["order"]["number"]
    assert first != second


async def test_with_a_payment_method_it_is_paid_at_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, price_minor=1000, stock=3)
    method = await make_payment_method(sessions, user=buyer)

    payload = await place(gql, buyer, [line(product)], method=method)

    assert payload["userErrors"] == []
    order = payload["order"]
    assert order["status"] == "AWAITING_SHIPMENT"
    assert order["version"] == 2
    assert order["paymentStatus"] == "PAID"
    assert order["payments"] == [{"status": "CAPTURED", "amount": order["total"]}]
    assert [
        (e["kind"], e["fromStatus"], e["toStatus"], e["orderVersion"], e["actor"])
        for e in order["timeline"]
    ] == [
        ("STATUS_CHANGED", None, "UNPAID", 1, "BUYER"),
        # The charge, recorded before the status change it makes, with the order as it was.
        ("PAYMENT_CAPTURED", "UNPAID", "UNPAID", 1, "BUYER"),
        ("STATUS_CHANGED", "UNPAID", "AWAITING_SHIPMENT", 2, "BUYER"),
    ]
    assert await payment_statuses(sessions) == ["CAPTURED"]
    assert await stock_of(sessions, product) == 2


async def test_a_declined_card_leaves_the_order_placed_and_unpaid(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=3)
    declining = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, declining, token="tok_chargeDeclined")

    payload = await place(gql, buyer, [line(product)], method=declining)

    assert errors_of(payload) == [("PAYMENT_DECLINED", ["input", "paymentMethodId"])]
    order = payload["order"]
    assert order is not None
    assert order["status"] == "UNPAID"
    assert order["version"] == 1
    assert order["paymentStatus"] == "UNPAID"
    assert [p["status"] for p in order["payments"]] == ["FAILED"]
    assert await payment_statuses(sessions) == ["FAILED"]
    assert await stock_of(sessions, product) == 2

    # The buyer can pay it later with another card.
    good = await make_payment_method(sessions, user=buyer, is_default=False)
    paid = await run(
        gql,
        "payOrder",
        {
            "orderId": order["id"],
            "paymentMethodId": gid("PaymentMethod", good),
            "idempotencyKey": "p",
        },
        user=buyer,
    )
    assert paid["userErrors"] == []
    assert paid["order"]["status"] == "AWAITING_SHIPMENT"
    assert await payment_statuses(sessions) == ["FAILED", "CAPTURED"]


async def test_fifty_lines_are_the_most(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop, price_minor=100) for _ in range(51)]
    before = await db_state(sessions)

    refused = await place(gql, buyer, [line(p) for p in products], key="a")
    assert refused["order"] is None
    assert errors_of(refused) == [("INVALID", ["input", "items"])]
    assert await db_state(sessions) == before

    accepted = await place(gql, buyer, [line(p) for p in products[:50]], key="b")
    assert accepted["userErrors"] == []
    assert len(accepted["order"]["items"]) == 50


# --- refusals: each with its code and field, and nothing written ------------------------


async def _refused(
    gql: GraphQLClient,
    sessions: SessionFactory,
    user: User,
    items: list[dict[str, Any]],
    **kwargs: Any,
) -> dict[str, Any]:
    """Place an order that must be refused; asserts that nothing at all was written."""
    before = await db_state(sessions)
    payload = await place(gql, user, items, **kwargs)
    assert payload["order"] is None, payload
    assert payload["userErrors"], payload
    assert await db_state(sessions) == before
    return payload


async def test_quantity_must_be_1_to_99(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=500)
    for quantity in (0, -1, 100):
        payload = await _refused(gql, sessions, buyer, [line(product, quantity)])
        assert errors_of(payload) == [("INVALID", ["input", "items", "0", "quantity"])]
    ok = await place(gql, buyer, [line(product, 99)])
    assert ok["userErrors"] == []
    assert await stock_of(sessions, product) == 401


async def test_no_items(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    payload = await _refused(gql, sessions, buyer, [])
    assert errors_of(payload) == [("INVALID", ["input", "items"])]


async def test_duplicate_product_lines(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    payload = await _refused(gql, sessions, buyer, [line(product), line(product, 2)])
    assert errors_of(payload) == [("INVALID", ["input", "items", "1", "productId"])]


async def test_products_of_two_shops(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    one = await make_product(sessions, shop=await make_shop(sessions))
    other = await make_product(sessions, shop=await make_shop(sessions))
    payload = await _refused(gql, sessions, buyer, [line(one), line(other)])
    assert errors_of(payload) == [("INVALID", ["input", "items"])]


async def test_unknown_product(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    missing = {"productId": to_global_id("Product", 999_999), "quantity": 1}
    payload = await _refused(gql, sessions, buyer, [line(product), missing])
    assert errors_of(payload) == [("NOT_FOUND", ["input", "items", "1", "productId"])]


async def test_malformed_product_ids(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    for bad in ("not-an-id", gid("User", buyer), ""):
        payload = await _refused(
            gql, sessions, buyer, [line(product), {"productId": bad, "quantity": 1}]
        )
        assert errors_of(payload) == [("INVALID", ["input", "items", "1", "productId"])]


async def test_product_not_on_sale(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    await set_product(sessions, product, on_sale=False)
    payload = await _refused(gql, sessions, buyer, [line(product)])
    assert errors_of(payload) == [("INVALID", ["input", "items", "0", "productId"])]


async def test_insufficient_stock(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    plenty = await make_product(sessions, shop=shop, stock=10)
    scarce = await make_product(sessions, shop=shop, stock=2)
    payload = await _refused(gql, sessions, buyer, [line(plenty, 1), line(scarce, 3)])
    assert errors_of(payload) == [("OUT_OF_STOCK", ["input", "items", "1", "quantity"])]
    # Exactly what is left can still be bought.
    ok = await place(gql, buyer, [line(scarce, 2)])
    assert ok["userErrors"] == []
    assert await stock_of(sessions, scarce) == 0


async def test_expired_cards(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    now = datetime.now(UTC)
    expired = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, expired, token="tok_expiredCard", exp_month=1, exp_year=now.year - 1)
    last_month = await make_payment_method(sessions, user=buyer)
    previous = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    await set_card(sessions, last_month, exp_month=previous[1], exp_year=previous[0])
    for method in (expired, last_month):
        payload = await _refused(gql, sessions, buyer, [line(product)], method=method)
        assert errors_of(payload) == [("INVALID", ["input", "paymentMethodId"])]

    # A card is good through the last day of its expiry month.
    this_month = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, this_month, exp_month=now.month, exp_year=now.year)
    ok = await place(gql, buyer, [line(product)], method=this_month)
    assert ok["userErrors"] == []
    assert ok["order"]["paymentStatus"] == "PAID"


async def test_someone_elses_or_a_removed_payment_method(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    theirs = await make_payment_method(sessions, user=other)
    removed = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, removed, removed_at=datetime.now(UTC))
    missing = PaymentMethod(
        id=999_999, user_id=0, brand="", last4="", exp_month=1, exp_year=1, processor_token=""
    )
    for method in (theirs, removed, missing):
        payload = await _refused(gql, sessions, buyer, [line(product)], method=method)
        assert errors_of(payload) == [("NOT_FOUND", ["input", "paymentMethodId"])]
    # The same answer for someone else's and for a missing one.
    assert payload["userErrors"][0]["message"] == "No such payment method."


async def test_malformed_payment_method_id(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    before = await db_state(sessions)
    payload = await run(
        gql,
        "placeOrder",
        {
            "items": [line(product)],
            "shippingAddress": ADDRESS,
            "paymentMethodId": gid("Product", product),
            "idempotencyKey": "k",
        },
        user=buyer,
    )
    assert errors_of(payload) == [("INVALID", ["input", "paymentMethodId"])]
    assert await db_state(sessions) == before


async def test_address_fields_too_long_or_missing(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    cases = [
        ("name", "x" * 129),
        ("line1", "x" * 201),
        ("line2", "x" * 201),
        ("city", "x" * 101),
        ("region", "x" * 101),
        ("postalCode", "1" * 21),
        ("phone", "5" * 33),
        ("name", "   "),
        ("city", ""),
    ]
    for field, value in cases:
        address = {**ADDRESS, field: value}
        payload = await _refused(gql, sessions, buyer, [line(product)], address=address)
        assert errors_of(payload) == [("INVALID", ["input", "shippingAddress", field])], field
    # Exactly at the limit is fine.
    ok = await place(gql, buyer, [line(product)], address={**ADDRESS, "name": "x" * 128})
    assert ok["userErrors"] == []


async def test_a_card_number_in_the_address_is_refused_and_not_echoed(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    card = "4111 1111 1111 1111"
    before = await db_state(sessions)
    body = await gql.raw(
        mutation("placeOrder"),
        {
            "input": {
                "items": [line(product)],
                "shippingAddress": {**ADDRESS, "line1": f"1 Main St {card}"},
                "idempotencyKey": "k",
            }
        },
        user_id=buyer.id,
    )
    payload = body["data"]["placeOrder"]
    assert errors_of(payload) == [("INVALID", ["input", "shippingAddress", "line1"])]
    text = json.dumps(body)
    assert card not in text
    assert card.replace(" ", "") not in text
    assert await db_state(sessions) == before


async def test_bad_country_codes(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    for code in ("USA", "U", "", "1A", "ÜS"):
        payload = await _refused(
            gql, sessions, buyer, [line(product)], address={**ADDRESS, "countryCode": code}
        )
        assert errors_of(payload) == [("INVALID", ["input", "shippingAddress", "countryCode"])]


async def test_idempotency_key_must_be_given(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    for key in ("", "   ", "k" * 129):
        payload = await _refused(gql, sessions, buyer, [line(product)], key=key)
        assert errors_of(payload) == [("INVALID", ["input", "idempotencyKey"])]


async def test_several_refusals_are_reported_together(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    payload = await _refused(
        gql,
        sessions,
        buyer,
        [line(product, 0)],
        address={**ADDRESS, "countryCode": "USA"},
    )
    assert sorted(errors_of(payload)) == [
        ("INVALID", ["input", "items", "0", "quantity"]),
        ("INVALID", ["input", "shippingAddress", "countryCode"]),
    ]


async def test_without_a_token_it_is_unauthenticated(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    before = await db_state(sessions)
    error = await gql.error(
        mutation("placeOrder"),
        {"input": {"items": [line(product)], "shippingAddress": ADDRESS, "idempotencyKey": "k"}},
    )
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["path"] == ["placeOrder"]
    assert await db_state(sessions) == before


async def test_an_order_is_placed_for_the_viewer_only(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    """The order belongs to the token's user; other users cannot read it."""
    buyer = await make_user(sessions)
    stranger = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    await make_order(sessions, buyer=stranger, shop=shop, products=[product])
    order = (await place(gql, buyer, [line(product)]))["order"]
    assert (await order_row(sessions, pk_of(order["id"]))).user_id == buyer.id
    data = await gql.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": order["id"]}, user_id=stranger.id
    )
    assert data["node"] is None

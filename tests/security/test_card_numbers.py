"""No card number is accepted anywhere a user types free text.

Each free-text input of every mutation gets card-number-shaped values (Luhn-valid,
bare, grouped, inside a sentence): the answer is an INVALID user error on that field
whose message does not repeat the number, and afterwards the number is nowhere in the
database and nowhere in the logs (captured at DEBUG, SQL included). The same request
with an ordinary value then succeeds, so the refusal is about the number alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory
from db.models import metadata
from domain.cards import contains_card_number
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import token_for
from tests.factories import make_order, make_product, make_shop, make_user

ORDER_PAYLOAD = "order { id } userErrors { code field message }"
PLACE = f"mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
SHIP = f"mutation($input: ShipOrderInput!) {{ shipOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
UPDATE = (
    "mutation($input: UpdateOrderStatusInput!) "
    f"{{ updateOrderStatus(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
TAG = (
    "mutation($input: TagProductInput!) "
    "{ tagProduct(input: $input) { taggedItem { id } userErrors { code field message } } }"
)
ADD_METHOD = (
    "mutation($input: AddPaymentMethodInput!) { addPaymentMethod(input: $input) "
    "{ paymentMethod { id } userErrors { code field message } } }"
)

# Luhn-valid test numbers of the major brands, in the shapes people type them.
LONG_VALUES = [
    "4242424242424242",
    "5555 5555 5555 4444",
    "Card 3782-822463-10005 exp 12/30",
    "pls charge 4111 1111 1111 1111 thx",
]
SHORT_VALUES = ["4242424242424242", "5555-5555-5555-4444", "3782 822463 10005"]


@dataclass
class World:
    buyer_id: int
    seller_id: int
    product_id: int
    to_ship_id: int  # AWAITING_SHIPMENT: the seller may ship it
    shipped_id: int  # AWAITING_COLLECTION: the seller may mark it IN_TRANSIT


@pytest.fixture
async def world(sessions: SessionFactory) -> World:
    buyer = await make_user(sessions, handle="buyer")
    seller = await make_user(sessions, handle="seller", role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop, stock=50)
    to_ship = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.AWAITING_SHIPMENT
    )
    shipped = await make_order(
        sessions,
        buyer=buyer,
        shop=shop,
        products=[product],
        status=OrderStatus.AWAITING_COLLECTION,
    )
    ids = (buyer.id, seller.id, product.id, to_ship.id, shipped.id)
    assert all(i is not None for i in ids)
    return World(*ids)  # type: ignore[arg-type]


Operation = tuple[str, dict[str, Any], int]  # document, input, as whom


def place_order(world: World, field: str, value: str | None, attempt: str) -> Operation:
    address = {
        "name": "Ada Buyer",
        "line1": "1 Main St",
        "line2": "Apt 4",
        "city": "Springfield",
        "region": "IL",
        "postalCode": "62701",
        "countryCode": "US",
        "phone": "+1 217 555 0100",
    }
    line: dict[str, Any] = {
        "productId": to_global_id("Product", world.product_id),
        "quantity": 1,
        "sourceVideoId": "vid_123",
    }
    if value is not None:
        if field == "sourceVideoId":
            line["sourceVideoId"] = value
        else:
            address[field] = value
    return (
        PLACE,
        {"items": [line], "shippingAddress": address, "idempotencyKey": f"key-{attempt}"},
        world.buyer_id,
    )


def ship_order(world: World, field: str, value: str | None, attempt: str) -> Operation:
    # A 22-digit USPS tracking number is no card: longer runs are not card-shaped.
    values = {"carrier": "USPS", "trackingNumber": "9400111899223197428490"}
    if value is not None:
        values[field] = value
    order = to_global_id("Order", world.to_ship_id)
    return SHIP, {"orderId": order, **values}, world.seller_id


def update_status(world: World, field: str, value: str | None, attempt: str) -> Operation:
    order = to_global_id("Order", world.shipped_id)
    note = "Picked up at dock 4" if value is None else value
    return UPDATE, {"orderId": order, "status": "IN_TRANSIT", "note": note}, world.seller_id


def tag_product(world: World, field: str, value: str | None, attempt: str) -> Operation:
    product = to_global_id("Product", world.product_id)
    video = "vid_12345" if value is None else value
    return TAG, {"productId": product, "sourceVideoId": video}, world.buyer_id


def add_payment_method(world: World, field: str, value: str | None, attempt: str) -> Operation:
    return ADD_METHOD, {"processorToken": value or "tok_visa"}, world.buyer_id


Build = Callable[[World, str, str | None, str], Operation]


@dataclass(frozen=True)
class Case:
    build: Build
    field: tuple[str, ...]  # the user error's path
    values: list[str]


CASES = {
    "placeOrder.name": Case(place_order, ("input", "shippingAddress", "name"), LONG_VALUES),
    "placeOrder.line1": Case(place_order, ("input", "shippingAddress", "line1"), LONG_VALUES),
    "placeOrder.line2": Case(place_order, ("input", "shippingAddress", "line2"), LONG_VALUES),
    "placeOrder.city": Case(place_order, ("input", "shippingAddress", "city"), LONG_VALUES),
    "placeOrder.region": Case(place_order, ("input", "shippingAddress", "region"), LONG_VALUES),
    "placeOrder.postalCode": Case(
        place_order, ("input", "shippingAddress", "postalCode"), SHORT_VALUES
    ),
    "placeOrder.phone": Case(place_order, ("input", "shippingAddress", "phone"), SHORT_VALUES),
    "placeOrder.sourceVideoId": Case(
        place_order, ("input", "items", "0", "sourceVideoId"), LONG_VALUES
    ),
    "shipOrder.carrier": Case(ship_order, ("input", "carrier"), LONG_VALUES),
    "shipOrder.trackingNumber": Case(ship_order, ("input", "trackingNumber"), LONG_VALUES),
    "updateOrderStatus.note": Case(update_status, ("input", "note"), LONG_VALUES),
    "tagProduct.sourceVideoId": Case(tag_product, ("input", "sourceVideoId"), LONG_VALUES),
    "addPaymentMethod.processorToken": Case(
        add_payment_method, ("input", "processorToken"), LONG_VALUES
    ),
}


def test_every_value_here_is_a_card_number() -> None:
    for value in {*LONG_VALUES, *SHORT_VALUES}:
        assert contains_card_number(value), value
    assert not contains_card_number("9400111899223197428490")


def traces(value: str) -> list[str]:
    """What would betray the number: its digits, in any grouping, or the value itself."""
    digits = re.sub(r"\D", "", re.search(r"\d[\d -]{11,}\d", value).group())  # type: ignore[union-attr]
    return [value, digits, digits[-12:]]


def assert_no_trace(text: str, value: str, where: str) -> None:
    flat = re.sub(r"[ -]", "", text)
    for trace in traces(value):
        assert trace not in text, f"{trace!r} found in {where}"
        assert re.sub(r"[ -]", "", trace) not in flat, f"{trace!r} found in {where}"


async def database_dump(engine: AsyncEngine) -> str:
    lines: list[str] = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


async def mutate(client: httpx.AsyncClient, operation: Operation) -> tuple[dict[str, Any], str]:
    document, input_, user_id = operation
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": {"input": input_}},
        headers={"Authorization": f"Bearer {token_for(user_id)}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload, response.text


@pytest.mark.parametrize("name", list(CASES))
async def test_card_numbers_are_refused_and_never_kept(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    world: World,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    case = CASES[name]
    field = case.field[-1]
    # Every SQL statement and its parameters too: the number must never reach the database.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with caplog.at_level(logging.DEBUG):
        for attempt, value in enumerate(case.values):
            payload, text = await mutate(client, case.build(world, field, value, str(attempt)))
            (result,) = [v for k, v in payload.items() if k != "userErrors"]
            assert result is None, payload
            (error,) = payload["userErrors"]
            assert error["code"] == "INVALID"
            assert error["field"] == list(case.field)
            assert "card number" in error["message"].lower()
            assert_no_trace(text, value, "the answer")

        # The same request with an ordinary value goes through.
        payload, _ = await mutate(client, case.build(world, field, None, "ok"))
        assert payload["userErrors"] == [], payload

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    dump = await database_dump(engine)
    assert dump  # the world is there, and now the successful request too
    for value in case.values:
        assert_no_trace(dump, value, "the database")
        assert_no_trace(caplog.text, value, "the logs")

"""No card number is accepted anywhere a client sends text with a mutation.

Every string input of every mutation (the list is checked against the schema) gets
card numbers in the forms a security review found accepted: dots, slashes,
underscores, double spaces, NBSP, zero-width spaces, ' - ' between groups, other
scripts' digits, a "tok_" prefix, inside a sentence. The answer is an INVALID user
error on that field whose message does not repeat the number, and afterwards the
number's digits, in whatever script or grouping, are nowhere in the database (every
column of every table) and nowhere in the logs (captured at DEBUG, SQL and its
parameters included). The same request with an ordinary value then succeeds, so the
refusal is about the number alone. A Hypothesis test then sends generated forms
through every input at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLNamedType,
    build_schema,
    get_named_type,
    is_input_object_type,
)
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory
from db.models import OrderItem, metadata
from domain.cards import contains_card_number
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from schema.definition import schema as live_schema
from tests.card_forms import CardForm, card_forms, digits_of, written_in
from tests.conftest import token_for
from tests.factories import (
    make_order,
    make_payment_method,
    make_product,
    make_recommendation,
    make_return,
    make_review,
    make_shop,
    make_tag,
    make_user,
    set_delivered_at,
)

USER_ERRORS = "userErrors { code field message }"
ORDER_PAYLOAD = f"order {{ id }} {USER_ERRORS}"
PLACE = f"mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
PAY = f"mutation($input: PayOrderInput!) {{ payOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
SHIP = f"mutation($input: ShipOrderInput!) {{ shipOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
UPDATE = (
    "mutation($input: UpdateOrderStatusInput!) "
    f"{{ updateOrderStatus(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
TAG = (
    "mutation($input: TagProductInput!) "
    f"{{ tagProduct(input: $input) {{ taggedItem {{ id }} {USER_ERRORS} }} }}"
)
ADD_METHOD = (
    "mutation($input: AddPaymentMethodInput!) { addPaymentMethod(input: $input) "
    f"{{ paymentMethod {{ id }} {USER_ERRORS} }} }}"
)
CANCEL = (
    f"mutation($input: CancelOrderInput!) {{ cancelOrder(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
CONFIRM = (
    "mutation($input: ConfirmReceiptInput!) "
    f"{{ confirmReceipt(input: $input) {{ {ORDER_PAYLOAD} }} }}"
)
UNTAG = (
    "mutation($input: UntagProductInput!) "
    f"{{ untagProduct(input: $input) {{ taggedItem {{ id }} {USER_ERRORS} }} }}"
)
VIEW = (
    "mutation($input: RecordProductViewInput!) "
    f"{{ recordProductView(input: $input) {{ productView {{ viewedAt }} {USER_ERRORS} }} }}"
)
CLEAR = (
    "mutation($input: ClearRecentlyViewedInput) "
    f"{{ clearRecentlyViewed(input: $input) {{ clearedCount {USER_ERRORS} }} }}"
)
DISMISS = (
    "mutation($input: DismissRecommendationInput!) "
    f"{{ dismissRecommendation(input: $input) {{ recommendation {{ id }} {USER_ERRORS} }} }}"
)
REMOVE_METHOD = (
    "mutation($input: RemovePaymentMethodInput!) { removePaymentMethod(input: $input) "
    f"{{ paymentMethod {{ id }} {USER_ERRORS} }} }}"
)
DEFAULT_METHOD = (
    "mutation($input: SetDefaultPaymentMethodInput!) { setDefaultPaymentMethod(input: $input) "
    f"{{ paymentMethod {{ id }} {USER_ERRORS} }} }}"
)

# The forms the review found stored, and the brands' test numbers as people type them.
REVIEW = (
    "mutation($input: ReviewOrderItemInput!) "
    f"{{ reviewOrderItem(input: $input) {{ review {{ id }} {USER_ERRORS} }} }}"
)
EDIT_REVIEW = (
    "mutation($input: EditReviewInput!) "
    f"{{ editReview(input: $input) {{ review {{ id }} {USER_ERRORS} }} }}"
)

RETURN_PAYLOAD = f"orderReturn {{ id }} {USER_ERRORS}"
REQUEST_RETURN = (
    "mutation($input: RequestReturnInput!) "
    f"{{ requestReturn(input: $input) {{ {RETURN_PAYLOAD} }} }}"
)
APPROVE_RETURN = (
    f"mutation($input: ReturnStepInput!) {{ approveReturn(input: $input) {{ {RETURN_PAYLOAD} }} }}"
)
REJECT_RETURN = (
    f"mutation($input: RejectReturnInput!) {{ rejectReturn(input: $input) {{ {RETURN_PAYLOAD} }} }}"
)
SHIP_RETURN = (
    f"mutation($input: ShipReturnInput!) {{ shipReturn(input: $input) {{ {RETURN_PAYLOAD} }} }}"
)

FORMS = [
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111_1111_1111_1111",
    "4111  1111  1111  1111",
    "4111\u00a01111\u00a01111\u00a01111",
    "4111\u200b1111\u200b1111\u200b1111",
    "4111 - 1111 - 1111 - 1111",
    "tok_4111.1111.1111.1111",
    "4242424242424242",
    "5555 5555 5555 4444",
    "Card 3782-822463-10005 exp 12/30",
    "pls charge 4111 1111 1111 1111 thx",
    written_in("4111 1111 1111 1111", 0xFF10),  # fullwidth
    written_in("4111-1111-1111-1111", 0x0660),  # Arabic-Indic
]


@dataclass
class World:
    buyer_id: int
    seller_id: int
    product_id: int
    method_id: int  # the buyer's saved card
    unpaid_id: int  # UNPAID: the buyer may pay it
    to_ship_id: int  # AWAITING_SHIPMENT: the seller may ship it
    shipped_id: int  # AWAITING_COLLECTION: the seller may mark it IN_TRANSIT
    delivered_id: int  # DELIVERED: the buyer may confirm it
    recommendation_id: int  # the buyer's, which they may dismiss
    item_id: int  # an unreviewed line of a COMPLETED order: the buyer may review it
    review_id: int  # the buyer's review of its other line, posted now: they may edit it
    delivered_item_id: int  # the DELIVERED order's line, delivered now: returnable
    requested_id: int  # a REQUESTED return: the seller may approve or reject it
    approved_id: int  # an APPROVED return: the buyer may ship it back


@pytest.fixture
async def world(sessions: SessionFactory) -> World:
    buyer = await make_user(sessions, handle="buyer")
    seller = await make_user(sessions, handle="seller", role="seller")
    shop = await make_shop(sessions, owner=seller)
    product = await make_product(sessions, shop=shop, stock=500)
    method = await make_payment_method(sessions, user=buyer)
    orders = [
        await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)
        for status in (
            OrderStatus.UNPAID,
            OrderStatus.AWAITING_SHIPMENT,
            OrderStatus.AWAITING_COLLECTION,
            OrderStatus.DELIVERED,
        )
    ]
    await make_tag(sessions, user=buyer, product=product)
    recommendation = await make_recommendation(sessions, user=buyer, product=product, score=1.0)
    completed = await make_order(
        sessions, buyer=buyer, shop=shop, products=[product, product], status=OrderStatus.COMPLETED
    )
    review = await make_review(sessions, order=completed, posted_at=datetime.now(UTC))
    async with sessions() as session:
        items = await session.execute(
            select(OrderItem.id).where(OrderItem.order_id == completed.id).order_by(OrderItem.id)
        )
        unreviewed = items.scalars().all()[1]
    delivered = orders[3]
    assert delivered.id is not None
    await set_delivered_at(sessions, delivered.id, datetime.now(UTC))
    async with sessions() as session:
        items = await session.execute(
            select(OrderItem.id).where(OrderItem.order_id == delivered.id)
        )
        delivered_item = items.scalars().one()
    returns = []
    for status in ("REQUESTED", "APPROVED"):
        returned = await make_order(
            sessions, buyer=buyer, shop=shop, products=[product], status=OrderStatus.DELIVERED
        )
        returns.append(await make_return(sessions, order=returned, status=status))
    ids = (
        buyer.id,
        seller.id,
        product.id,
        method.id,
        *(o.id for o in orders),
        recommendation.id,
        unreviewed,
        review.id,
        delivered_item,
        *(r.id for r in returns),
    )
    assert all(i is not None for i in ids)
    return World(*ids)  # type: ignore[arg-type]


Operation = tuple[str, dict[str, Any], int]  # document, input, as whom
# world, the field to fill (None: all ordinary), its value, a suffix making keys unique
Build = Callable[[World, str | None, str, str], Operation]

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "line2": "Apt 4",
    "city": "Springfield",
    "region": "IL",
    "postalCode": "62701",
    "countryCode": "US",
    "phone": "+1 217 555 0100",
}


def place_order(world: World, field: str | None, value: str, attempt: str) -> Operation:
    address = dict(ADDRESS)
    line: dict[str, Any] = {
        "productId": to_global_id("Product", world.product_id),
        "quantity": 1,
        "sourceVideoId": "vid_123",
    }
    input_ = {
        "items": [line],
        "shippingAddress": address,
        "paymentMethodId": to_global_id("PaymentMethod", world.method_id),
        "idempotencyKey": f"9b2f6c1e-checkout-{attempt}",
    }
    if field == "sourceVideoId":
        line[field] = value
    elif field == "idempotencyKey":
        input_[field] = value
    elif field is not None:
        address[field] = value
    return PLACE, input_, world.buyer_id


def pay_order(world: World, field: str | None, value: str, attempt: str) -> Operation:
    input_ = {
        "orderId": to_global_id("Order", world.unpaid_id),
        "paymentMethodId": to_global_id("PaymentMethod", world.method_id),
        "idempotencyKey": value if field else f"3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b-{attempt}",
    }
    return PAY, input_, world.buyer_id


def ship_order(world: World, field: str | None, value: str, attempt: str) -> Operation:
    # A 22-digit USPS tracking number is no card: longer runs are not card-shaped.
    values = {"carrier": "USPS", "trackingNumber": "9400111899223197428490"}
    if field is not None:
        values[field] = value
    return SHIP, {"orderId": to_global_id("Order", world.to_ship_id), **values}, world.seller_id


def update_status(world: World, field: str | None, value: str, attempt: str) -> Operation:
    order = to_global_id("Order", world.shipped_id)
    note = value if field else "Picked up at dock 4"
    return UPDATE, {"orderId": order, "status": "IN_TRANSIT", "note": note}, world.seller_id


def tag_product(world: World, field: str | None, value: str, attempt: str) -> Operation:
    product = to_global_id("Product", world.product_id)
    video = value if field else "vid_12345"
    return TAG, {"productId": product, "sourceVideoId": video}, world.buyer_id


def add_payment_method(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return ADD_METHOD, {"processorToken": value if field else "tok_visa"}, world.buyer_id


def cancel_order(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return CANCEL, {"orderId": to_global_id("Order", world.unpaid_id)}, world.buyer_id


def confirm_receipt(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return CONFIRM, {"orderId": to_global_id("Order", world.delivered_id)}, world.buyer_id


def untag_product(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return UNTAG, {"productId": to_global_id("Product", world.product_id)}, world.buyer_id


def record_view(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return VIEW, {"productId": to_global_id("Product", world.product_id)}, world.buyer_id


def clear_views(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return CLEAR, {}, world.buyer_id


def dismiss(world: World, field: str | None, value: str, attempt: str) -> Operation:
    recommendation = to_global_id("Recommendation", world.recommendation_id)
    return DISMISS, {"recommendationId": recommendation}, world.buyer_id


def remove_method(world: World, field: str | None, value: str, attempt: str) -> Operation:
    method = to_global_id("PaymentMethod", world.method_id)
    return REMOVE_METHOD, {"paymentMethodId": method}, world.buyer_id


def default_method(world: World, field: str | None, value: str, attempt: str) -> Operation:
    method = to_global_id("PaymentMethod", world.method_id)
    return DEFAULT_METHOD, {"paymentMethodId": method}, world.buyer_id


def review_item(world: World, field: str | None, value: str, attempt: str) -> Operation:
    item = to_global_id("OrderItem", world.item_id)
    text = value if field else "Sturdy; arrived in 2 days."
    return REVIEW, {"orderItemId": item, "rating": 4, "text": text}, world.buyer_id


def edit_review(world: World, field: str | None, value: str, attempt: str) -> Operation:
    review = to_global_id("Review", world.review_id)
    text = value if field else "Still fine after a month."
    return EDIT_REVIEW, {"reviewId": review, "text": text}, world.buyer_id


def request_return(world: World, field: str | None, value: str, attempt: str) -> Operation:
    order = to_global_id("Order", world.delivered_id)
    item = to_global_id("OrderItem", world.delivered_item_id)
    note = value if field == "note" else "The lid arrived cracked."
    lines = [{"orderItemId": item, "quantity": 1}]
    input_ = {"orderId": order, "lines": lines, "reason": "DAMAGED", "note": note}
    return REQUEST_RETURN, input_, world.buyer_id


def approve_return(world: World, field: str | None, value: str, attempt: str) -> Operation:
    return (
        APPROVE_RETURN,
        {"returnId": to_global_id("OrderReturn", world.requested_id)},
        (world.seller_id),
    )


def reject_return(world: World, field: str | None, value: str, attempt: str) -> Operation:
    reason = value if field == "reason" else "Worn after delivery."
    input_ = {"returnId": to_global_id("OrderReturn", world.requested_id), "reason": reason}
    return REJECT_RETURN, input_, world.seller_id


def ship_return(world: World, field: str | None, value: str, attempt: str) -> Operation:
    input_ = {
        "returnId": to_global_id("OrderReturn", world.approved_id),
        "carrier": value if field == "carrier" else "UPS",
        "trackingNumber": value if field == "trackingNumber" else "1Z999AA10123456784",
    }
    return SHIP_RETURN, input_, world.buyer_id


def with_key(build: Build) -> Build:
    """``build``'s ordinary request with an optional idempotencyKey: the tested value
    when the key is the field under test, an ordinary key otherwise."""

    def keyed(world: World, field: str | None, value: str, attempt: str) -> Operation:
        document, input_, user_id = build(world, None, "", attempt)
        key = value if field == "idempotencyKey" else f"7c41e0d2-retry-{attempt}"
        return document, {**input_, "idempotencyKey": key}, user_id

    return keyed


def _key(build: Build) -> Case:
    return Case(with_key(build), ("input", "idempotencyKey"))


@dataclass(frozen=True)
class Case:
    build: Build
    field: tuple[str, ...]  # the user error's path


def _address(name: str) -> Case:
    return Case(place_order, ("input", "shippingAddress", name))


# Keyed by input type and field, as the schema names them.
CASES = {
    "AddressInput.name": _address("name"),
    "AddressInput.line1": _address("line1"),
    "AddressInput.line2": _address("line2"),
    "AddressInput.city": _address("city"),
    "AddressInput.region": _address("region"),
    "AddressInput.postalCode": _address("postalCode"),
    "AddressInput.countryCode": _address("countryCode"),
    "AddressInput.phone": _address("phone"),
    "OrderLineInput.sourceVideoId": Case(place_order, ("input", "items", "0", "sourceVideoId")),
    "PlaceOrderInput.idempotencyKey": Case(place_order, ("input", "idempotencyKey")),
    "PayOrderInput.idempotencyKey": Case(pay_order, ("input", "idempotencyKey")),
    "ShipOrderInput.carrier": Case(ship_order, ("input", "carrier")),
    "ShipOrderInput.trackingNumber": Case(ship_order, ("input", "trackingNumber")),
    "UpdateOrderStatusInput.note": Case(update_status, ("input", "note")),
    "TagProductInput.sourceVideoId": Case(tag_product, ("input", "sourceVideoId")),
    "AddPaymentMethodInput.processorToken": Case(add_payment_method, ("input", "processorToken")),
    "CancelOrderInput.idempotencyKey": _key(cancel_order),
    "ConfirmReceiptInput.idempotencyKey": _key(confirm_receipt),
    "ShipOrderInput.idempotencyKey": _key(ship_order),
    "UpdateOrderStatusInput.idempotencyKey": _key(update_status),
    "TagProductInput.idempotencyKey": _key(tag_product),
    "UntagProductInput.idempotencyKey": _key(untag_product),
    "RecordProductViewInput.idempotencyKey": _key(record_view),
    "ClearRecentlyViewedInput.idempotencyKey": _key(clear_views),
    "DismissRecommendationInput.idempotencyKey": _key(dismiss),
    "AddPaymentMethodInput.idempotencyKey": _key(add_payment_method),
    "RemovePaymentMethodInput.idempotencyKey": _key(remove_method),
    "SetDefaultPaymentMethodInput.idempotencyKey": _key(default_method),
    "ReviewOrderItemInput.text": Case(review_item, ("input", "text")),
    "ReviewOrderItemInput.idempotencyKey": _key(review_item),
    "EditReviewInput.text": Case(edit_review, ("input", "text")),
    "EditReviewInput.idempotencyKey": _key(edit_review),
    "RequestReturnInput.note": Case(request_return, ("input", "note")),
    "RequestReturnInput.idempotencyKey": _key(request_return),
    "ReturnStepInput.idempotencyKey": _key(approve_return),
    "RejectReturnInput.reason": Case(reject_return, ("input", "reason")),
    "RejectReturnInput.idempotencyKey": _key(reject_return),
    "ShipReturnInput.carrier": Case(ship_return, ("input", "carrier")),
    "ShipReturnInput.trackingNumber": Case(ship_return, ("input", "trackingNumber")),
    "ShipReturnInput.idempotencyKey": _key(ship_return),
}


def _string_inputs() -> set[str]:
    """Every String field of every input type a mutation takes, however nested."""
    parsed = build_schema(live_schema.as_str())
    mutation = parsed.mutation_type
    assert mutation is not None
    found: set[str] = set()
    seen: set[str] = set()
    pending: list[GraphQLNamedType] = [
        get_named_type(arg.type)
        for field in mutation.fields.values()
        for arg in field.args.values()
    ]
    while pending:
        named = pending.pop()
        if not is_input_object_type(named) or named.name in seen:
            continue
        assert isinstance(named, GraphQLInputObjectType)
        seen.add(named.name)
        for name, input_field in named.fields.items():
            inner = get_named_type(input_field.type)
            if inner.name == "String":
                found.add(f"{named.name}.{name}")
            pending.append(inner)
    return found


def test_every_string_input_of_every_mutation_is_covered() -> None:
    assert set(CASES) == _string_inputs()


def test_every_form_here_is_a_card_number() -> None:
    for value in FORMS:
        assert contains_card_number(value), value
        assert len(_number_in(value)) >= 13


def _number_in(value: str) -> str:
    """The card's digits in ``value``, ASCII (the longest card-sized digit sequence)."""
    digits = digits_of(value)
    # FORMS with an expiry after the number: the number is the first 15-16 digits.
    return digits[:15] if digits.startswith("3782") else digits[:16]


def assert_no_trace(text: str, value: str, number: str, where: str) -> None:
    """Neither the value nor the number's digits (any script, any grouping) in ``text``."""
    assert value not in text, f"{value!r} found in {where}"
    for line in text.splitlines():
        assert number not in digits_of(line), f"{number} found in {where}: {line!r}"


async def database_dump(engine: AsyncEngine) -> str:
    """Every column of every row of every table, one cell a line."""
    lines: list[str] = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                lines.extend(f"{table.name}: {cell!r}" for cell in row)
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


async def assert_refused(
    client: httpx.AsyncClient, case: Case, world: World, value: str, number: str, attempt: str
) -> None:
    payload, text = await mutate(client, case.build(world, case.field[-1], value, attempt))
    ((name, result),) = [(k, v) for k, v in payload.items() if k != "userErrors"]
    # clearedCount is a non-null Int: a refusal clears nothing.
    assert result == (0 if name == "clearedCount" else None), payload
    (error,) = payload["userErrors"]
    assert error["code"] == "INVALID"
    assert error["field"] == list(case.field)
    assert "card number" in error["message"].lower()
    assert_no_trace(text, value, number, "the answer")


@pytest.mark.parametrize("name", list(CASES))
async def test_card_numbers_are_refused_and_never_kept(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    world: World,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    case = CASES[name]
    # Every SQL statement and its parameters too: the number must never reach the database.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with caplog.at_level(logging.DEBUG):
        for attempt, value in enumerate(FORMS):
            await assert_refused(client, case, world, value, _number_in(value), str(attempt))

        # The same request with an ordinary value goes through.
        payload, _ = await mutate(client, case.build(world, None, "", "ok"))
        assert payload["userErrors"] == [], payload

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    dump = await database_dump(engine)
    assert dump  # the world is there, and now the successful request too
    for value in FORMS:
        assert_no_trace(dump, value, _number_in(value), "the database")
        assert_no_trace(caplog.text, value, _number_in(value), "the logs")


@given(form=card_forms())
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_generated_card_numbers_are_kept_nowhere(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    world: World,
    caplog: pytest.LogCaptureFixture,
    form: CardForm,
) -> None:
    # One world for all examples; each example sends its number through every input.
    assert contains_card_number(form.text)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        for name, case in CASES.items():
            await assert_refused(client, case, world, form.text, form.digits, name)
    dump = await database_dump(engine)
    assert_no_trace(dump, form.text, form.digits, "the database")
    assert_no_trace(caplog.text, form.text, form.digits, "the logs")

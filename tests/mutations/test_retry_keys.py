"""Optional idempotencyKey on every state-changing mutation (issue 15, item 6).

A client whose answer was lost retries with the same key and gets the first answer,
and nothing happens twice; the same key with other input is a CONFLICT; no key keeps
the old behaviour (a retried cancelOrder is INVALID_TRANSITION).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import (
    IdempotencyKey,
    OrderEvent,
    Payment,
    PaymentMethod,
    ProductView,
    Recommendation,
    TaggedItem,
    User,
)
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    make_order,
    make_payment_method,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
    make_view,
)
from tests.mutations.test_place_order import db_state, errors_of, gid, run, stock_of


async def _count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        statement = select(func.count()).select_from(model)
        for clause in where:
            statement = statement.where(clause)
        return int((await session.execute(statement)).scalar_one())


async def _paid_order(
    sessions: SessionFactory, status: OrderStatus = OrderStatus.AWAITING_SHIPMENT
):
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product], status=status)
    return buyer, shop, product, order


# --- order mutations ----------------------------------------------------------------------


async def test_a_retried_cancel_returns_the_first_answer_and_refunds_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _, product, order = await _paid_order(sessions)
    input_ = {"orderId": gid("Order", order), "idempotencyKey": "cancel-1"}

    first = await run(gql, "cancelOrder", input_, user=buyer)
    after_first = await db_state(sessions)
    second = await run(gql, "cancelOrder", input_, user=buyer)

    assert first["userErrors"] == second["userErrors"] == []
    assert second["order"] == first["order"]
    assert second["order"]["status"] == "CANCELLED"
    assert await db_state(sessions) == after_first
    assert await _count(sessions, Payment, col(Payment.status) == "REFUNDED") == 1
    assert await stock_of(sessions, product) == 6
    cancelled = col(OrderEvent.kind) == "STATUS_CHANGED", col(OrderEvent.to_status) == "CANCELLED"
    assert await _count(sessions, OrderEvent, *cancelled) == 1
    assert await _count(sessions, OrderEvent, col(OrderEvent.kind) == "REFUNDED") == 1


async def test_without_a_key_a_retried_cancel_is_still_an_invalid_transition(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _, _, order = await _paid_order(sessions)
    input_ = {"orderId": gid("Order", order)}
    assert (await run(gql, "cancelOrder", input_, user=buyer))["userErrors"] == []
    again = await run(gql, "cancelOrder", input_, user=buyer)
    assert again["order"] is None
    assert errors_of(again) == [("INVALID_TRANSITION", None)]


async def test_the_same_key_with_other_input_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, shop, product, order = await _paid_order(sessions)
    other = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    key = {"idempotencyKey": "k"}
    await run(gql, "cancelOrder", {"orderId": gid("Order", order), **key}, user=buyer)
    before = await db_state(sessions)

    for input_ in (
        {"orderId": gid("Order", order), "reason": "OTHER", **key},
        {"orderId": gid("Order", other), **key},
    ):
        payload = await run(gql, "cancelOrder", input_, user=buyer)
        assert payload["order"] is None
        assert errors_of(payload) == [("CONFLICT", ["input", "idempotencyKey"])]
    assert await db_state(sessions) == before


@pytest.mark.parametrize("key", ["", "   ", "x" * 129])
async def test_a_malformed_key_is_refused_before_anything_changes(
    gql: GraphQLClient, sessions: SessionFactory, key: str
) -> None:
    buyer, _, _, order = await _paid_order(sessions)
    before = await db_state(sessions)
    payload = await run(
        gql, "cancelOrder", {"orderId": gid("Order", order), "idempotencyKey": key}, user=buyer
    )
    assert payload["order"] is None
    assert errors_of(payload) == [("INVALID", ["input", "idempotencyKey"])]
    assert await db_state(sessions) == before


async def test_keys_belong_to_their_user_and_their_mutation(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, shop, product, order = await _paid_order(sessions)
    someone = await make_user(sessions)
    theirs = await make_order(
        sessions, buyer=someone, shop=shop, products=[product], status=OrderStatus.DELIVERED
    )
    mine = await run(
        gql, "cancelOrder", {"orderId": gid("Order", order), "idempotencyKey": "same"}, user=buyer
    )
    # Another buyer's identical key is theirs; another mutation's is its own.
    confirmed = await run(
        gql,
        "confirmReceipt",
        {"orderId": gid("Order", theirs), "idempotencyKey": "same"},
        user=someone,
    )
    assert mine["userErrors"] == confirmed["userErrors"] == []
    assert confirmed["order"]["status"] == "COMPLETED"


async def test_seller_steps_retried_with_keys_happen_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, shop, _, order = await _paid_order(sessions)
    seller = await _owner(sessions, shop.owner_id)
    order_id = gid("Order", order)
    steps: list[tuple[str, dict[str, Any], User, str]] = [
        ("shipOrder", {"carrier": "UPS", "trackingNumber": "1Z9"}, seller, "AWAITING_COLLECTION"),
        ("updateOrderStatus", {"status": "IN_TRANSIT", "note": "Picked up"}, seller, "IN_TRANSIT"),
        ("updateOrderStatus", {"status": "DELIVERED"}, seller, "DELIVERED"),
        ("confirmReceipt", {}, buyer, "COMPLETED"),
    ]
    for index, (name, extra, user, status) in enumerate(steps):
        input_ = {"orderId": order_id, "idempotencyKey": f"step-{index}", **extra}
        first = await run(gql, name, input_, user=user)
        second = await run(gql, name, input_, user=user)
        assert first["userErrors"] == second["userErrors"] == []
        assert first["order"]["status"] == second["order"]["status"] == status
        assert second["order"]["version"] == first["order"]["version"]
    mine = col(OrderEvent.order_id) == order.id
    changes = await _count(sessions, OrderEvent, mine, col(OrderEvent.kind) == "STATUS_CHANGED")
    assert changes == 2 + len(steps)  # placed and paid as made, then one per step
    # A scan each for shipping, transit and delivery, recorded once however retried.
    assert await _count(sessions, OrderEvent, mine, col(OrderEvent.kind) == "CARRIER_SCAN") == 3


async def _owner(sessions: SessionFactory, user_id: int) -> User:
    async with sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_racing_retries_with_one_key_get_one_answer(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer, _, product, order = await _paid_order(sessions)
    input_ = {"orderId": gid("Order", order), "idempotencyKey": "race"}
    answers = await asyncio.gather(*(run(gql, "cancelOrder", input_, user=buyer) for _ in range(4)))
    assert all(a["userErrors"] == [] for a in answers), answers
    assert {a["order"]["status"] for a in answers} == {"CANCELLED"}
    assert await _count(sessions, Payment, col(Payment.status) == "REFUNDED") == 1
    assert await stock_of(sessions, product) == 6
    assert await _count(sessions, IdempotencyKey) == 1


# --- the buyer's own things ---------------------------------------------------------------

TAG = """mutation($input: TagProductInput!) { tagProduct(input: $input) {
  taggedItem { id sourceVideoId product { id } } userErrors { field code } } }"""
UNTAG = """mutation($input: UntagProductInput!) { untagProduct(input: $input) {
  taggedItem { id sourceVideoId product { id } } userErrors { field code } } }"""
VIEW = """mutation($input: RecordProductViewInput!) { recordProductView(input: $input) {
  productView { viewedAt product { id } } userErrors { field code } } }"""
CLEAR = """mutation($input: ClearRecentlyViewedInput) { clearRecentlyViewed(input: $input) {
  clearedCount userErrors { field code } } }"""
DISMISS = """mutation($input: DismissRecommendationInput!) { dismissRecommendation(input: $input) {
  recommendation { id } userErrors { field code } } }"""
ADD_CARD = """mutation($input: AddPaymentMethodInput!) { addPaymentMethod(input: $input) {
  paymentMethod { id isDefault } userErrors { field code } } }"""
REMOVE_CARD = """mutation($input: RemovePaymentMethodInput!) { removePaymentMethod(input: $input) {
  paymentMethod { id isDefault } userErrors { field code } } }"""
DEFAULT_CARD = """mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) {
  paymentMethod { id isDefault } userErrors { field code } } }"""


async def _twice(
    gql: GraphQLClient, document: str, input_: dict[str, Any] | None, user: User
) -> tuple[dict[str, Any], dict[str, Any]]:
    answers = []
    for _ in range(2):
        data = await gql.query(document, {"input": input_}, user_id=user.id)
        answers.append(next(iter(data.values())))
    return answers[0], answers[1]


async def test_a_retried_view_is_not_a_second_view(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    product = await make_product(sessions, shop=await make_shop(sessions))
    input_ = {"productId": gid("Product", product), "idempotencyKey": "view-1"}
    first, second = await _twice(gql, VIEW, input_, buyer)
    assert first == second
    assert await _view_count(sessions) == 1
    # A new key is a new view.
    await gql.query(VIEW, {"input": {**input_, "idempotencyKey": "view-2"}}, user_id=buyer.id)
    assert await _view_count(sessions) == 2


async def _view_count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int((await session.execute(select(col(ProductView.view_count)))).scalar_one())


async def test_a_retried_untag_returns_the_removed_tag_not_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    product = await make_product(sessions, shop=await make_shop(sessions))
    input_ = {"productId": gid("Product", product), "idempotencyKey": "tag-1"}
    tagged, tagged_again = await _twice(gql, TAG, input_, buyer)
    assert tagged == tagged_again
    assert tagged["userErrors"] == []

    untag = {"productId": gid("Product", product), "idempotencyKey": "untag-1"}
    first, second = await _twice(gql, UNTAG, untag, buyer)
    assert first["userErrors"] == second["userErrors"] == []
    assert first["taggedItem"] == second["taggedItem"] == tagged["taggedItem"]
    assert await _count(sessions, TaggedItem) == 0
    # Without a key the second untag has nothing left to remove.
    plain = await gql.query(UNTAG, {"input": {"productId": untag["productId"]}}, user_id=buyer.id)
    assert plain["untagProduct"]["userErrors"] == [
        {"field": ["input", "productId"], "code": "NOT_FOUND"}
    ]


async def test_a_retried_clear_reports_the_first_count(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    for _ in range(3):
        await make_view(sessions, user=buyer, product=await make_product(sessions, shop=shop))
    first, second = await _twice(gql, CLEAR, {"idempotencyKey": "clear"}, buyer)
    assert first == second == {"clearedCount": 3, "userErrors": []}
    assert await _count(sessions, ProductView) == 0
    # The argument stays optional.
    plain = await gql.query("mutation { clearRecentlyViewed { clearedCount } }", user_id=buyer.id)
    assert plain["clearRecentlyViewed"]["clearedCount"] == 0


async def test_a_retried_dismissal_answers_the_same(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    product = await make_product(sessions, shop=await make_shop(sessions))
    rec = await make_recommendation(sessions, user=buyer, product=product, score=1.0)
    assert rec.id is not None
    input_ = {"recommendationId": to_global_id("Recommendation", rec.id), "idempotencyKey": "d"}
    first, second = await _twice(gql, DISMISS, input_, buyer)
    assert first == second
    assert first["userErrors"] == []
    assert await _count(sessions, Recommendation, col(Recommendation.dismissed)) == 1


async def test_a_retried_add_card_saves_one_card(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    input_ = {"processorToken": "tok_visa", "idempotencyKey": "add-card"}
    first, second = await _twice(gql, ADD_CARD, input_, buyer)
    assert first == second
    assert first["userErrors"] == []
    assert await _count(sessions, PaymentMethod) == 1
    # The key table never holds the processor token.
    async with sessions() as session:
        rows = (await session.execute(select(IdempotencyKey))).scalars().all()
    assert rows
    assert all("tok_visa" not in str(row.result) for row in rows)
    conflict = await gql.query(
        ADD_CARD, {"input": {**input_, "processorToken": "tok_mastercard"}}, user_id=buyer.id
    )
    assert conflict["addPaymentMethod"]["userErrors"] == [
        {"field": ["input", "idempotencyKey"], "code": "CONFLICT"}
    ]
    assert await _count(sessions, PaymentMethod) == 1


async def test_retried_wallet_changes_answer_the_same(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    first_card = await make_payment_method(sessions, user=buyer, is_default=True)
    second_card = await make_payment_method(sessions, user=buyer, last4="1111", is_default=False)
    make_default = {"paymentMethodId": gid("PaymentMethod", second_card), "idempotencyKey": "d"}
    a, b = await _twice(gql, DEFAULT_CARD, make_default, buyer)
    assert a == b
    assert a["paymentMethod"]["isDefault"] is True
    remove = {"paymentMethodId": gid("PaymentMethod", first_card), "idempotencyKey": "r"}
    a, b = await _twice(gql, REMOVE_CARD, remove, buyer)
    assert a == b
    assert a["userErrors"] == []
    assert await _count(sessions, PaymentMethod, col(PaymentMethod.removed_at).is_(None)) == 1


async def test_a_tag_replayed_after_an_untag_is_the_tag_as_first_answered(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    product = await make_product(sessions, shop=await make_shop(sessions))
    await make_tag(sessions, user=buyer, product=product)
    untag = {"productId": gid("Product", product), "idempotencyKey": "u"}
    first = await gql.query(UNTAG, {"input": untag}, user_id=buyer.id)
    # Tagged again meanwhile (a new row); the untag's retry still names what it removed.
    await gql.query(TAG, {"input": {"productId": untag["productId"]}}, user_id=buyer.id)
    second = await gql.query(UNTAG, {"input": untag}, user_id=buyer.id)
    assert second == first
    assert await _count(sessions, TaggedItem) == 1


# --- every mutation -----------------------------------------------------------------------

MUTATION_INPUTS = """{ __schema { mutationType { fields { name args { name type { kind name
  ofType { name } } } } } } }"""


async def test_every_mutation_takes_an_idempotency_key(gql: GraphQLClient) -> None:
    data = await gql.query(MUTATION_INPUTS)
    names = {}
    for field in data["__schema"]["mutationType"]["fields"]:
        (arg,) = [a for a in field["args"] if a["name"] == "input"]
        kind = arg["type"]
        names[field["name"]] = kind["name"] or kind["ofType"]["name"]
    for mutation, input_type in names.items():
        found = await gql.query(
            "query($t: String!) { __type(name: $t) { inputFields { name } } }", {"t": input_type}
        )
        fields = {f["name"] for f in found["__type"]["inputFields"]}
        assert "idempotencyKey" in fields, mutation

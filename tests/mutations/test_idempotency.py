"""Idempotency keys of placeOrder and payOrder: a retry gets the first answer, never a
second order or a second charge."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from db.models import IdempotencyKey, Order, User
from resolvers.gateway import ChargeResult, SandboxGateway
from resolvers.mutations import idempotency
from resolvers.mutations.outcome import ErrorCode, Refused
from tests.conftest import TEST_SECRET, GraphQLClient
from tests.factories import make_order, make_payment_method, make_product, make_shop, make_user
from tests.mutations.test_place_order import (
    ADDRESS,
    db_state,
    errors_of,
    gid,
    line,
    mutation,
    payment_statuses,
    pk_of,
    place,
    run,
    set_card,
    stock_of,
)


async def _keys(sessions: SessionFactory, operation: str | None = None) -> list[IdempotencyKey]:
    statement = select(IdempotencyKey).order_by(col(IdempotencyKey.id))
    if operation is not None:
        statement = statement.where(col(IdempotencyKey.operation) == operation)
    async with sessions() as session:
        return list((await session.execute(statement)).scalars().all())


async def _order_ids(sessions: SessionFactory) -> list[int]:
    async with sessions() as session:
        rows = await session.execute(select(col(Order.id)).order_by(col(Order.id)))
        return [pk for pk in rows.scalars().all() if pk is not None]


async def _pay(
    gql: GraphQLClient, user: User, order_id: str, method: Any, key: str
) -> dict[str, Any]:
    return await run(
        gql,
        "payOrder",
        {
            "orderId": order_id,
            "paymentMethodId": gid("PaymentMethod", method),
            "idempotencyKey": key,
        },
        user=user,
    )


# --- placeOrder ---------------------------------------------------------------------------


async def test_a_retry_returns_the_first_order_and_charges_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)

    first = await place(gql, buyer, [line(product, 2)], key="retry-me", method=method)
    second = await place(gql, buyer, [line(product, 2)], key="retry-me", method=method)

    assert first["userErrors"] == second["userErrors"] == []
    assert second["order"]["id"] == first["order"]["id"]
    assert second["order"]["number"] == first["order"]["number"]
    assert second["order"]["status"] == "AWAITING_SHIPMENT"
    assert len(await _order_ids(sessions)) == 1
    assert await payment_statuses(sessions) == ["CAPTURED"]
    assert await stock_of(sessions, product) == 3


async def test_same_key_with_different_input_is_a_conflict(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    first = await place(gql, buyer, [line(product, 1)], key="k")
    assert first["userErrors"] == []
    before = await db_state(sessions)

    method = await make_payment_method(sessions, user=buyer)
    changes: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
        ([line(product, 2)], {}),
        ([line(product, 1)], {"address": {**ADDRESS, "city": "Shelbyville"}}),
        ([line(product, 1, sourceVideoId="vid_9")], {}),
        ([line(product, 1)], {"method": method}),
    ]
    for items, changed in changes:
        payload = await place(gql, buyer, items, key="k", **changed)
        assert payload["order"] is None
        assert errors_of(payload) == [("CONFLICT", ["input", "idempotencyKey"])]
        assert await db_state(sessions) == before


async def test_the_country_code_is_compared_case_insensitively(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    """The order stores 'US' for 'us', so a retry spelling it 'US' is the same request."""
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    first = await place(
        gql, buyer, [line(product)], key="k", address={**ADDRESS, "countryCode": "us"}
    )
    second = await place(
        gql, buyer, [line(product)], key="k", address={**ADDRESS, "countryCode": "US"}
    )
    assert second["userErrors"] == []
    assert second["order"]["id"] == first["order"]["id"]


async def test_keys_belong_to_one_user(gql: GraphQLClient, sessions: SessionFactory) -> None:
    ann = await make_user(sessions)
    bob = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)

    for_ann = await place(gql, ann, [line(product)], key="shared")
    for_bob = await place(gql, bob, [line(product)], key="shared")

    assert for_ann["userErrors"] == for_bob["userErrors"] == []
    assert for_ann["order"]["id"] != for_bob["order"]["id"]
    assert len(await _order_ids(sessions)) == 2
    assert await stock_of(sessions, product) == 3
    # A different input under Bob's use of the key does not clash with Ann's.
    again = await place(gql, ann, [line(product)], key="shared")
    assert again["order"]["id"] == for_ann["order"]["id"]


async def test_a_refused_attempt_does_not_use_up_its_key(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=1)

    refused = await place(gql, buyer, [line(product, 2)], key="k")
    assert errors_of(refused) == [("OUT_OF_STOCK", ["input", "items", "0", "quantity"])]
    assert await _keys(sessions) == []

    corrected = await place(gql, buyer, [line(product, 1)], key="k")
    assert corrected["userErrors"] == []
    assert corrected["order"] is not None


async def test_a_declined_placement_is_replayed_without_a_second_attempt(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, method, token="tok_chargeDeclined")

    first = await place(gql, buyer, [line(product)], key="k", method=method)
    second = await place(gql, buyer, [line(product)], key="k", method=method)

    assert errors_of(first) == [("PAYMENT_DECLINED", ["input", "paymentMethodId"])]
    assert second["userErrors"] == first["userErrors"]
    assert second["order"]["id"] == first["order"]["id"]
    assert await payment_statuses(sessions) == ["FAILED"]
    assert await stock_of(sessions, product) == 4


async def test_racing_requests_with_one_key_make_one_order(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)

    results = await asyncio.gather(
        *(place(gql, buyer, [line(product)], key="race", method=method) for _ in range(2))
    )

    assert [r["userErrors"] for r in results] == [[], []]
    ids = {r["order"]["id"] for r in results}
    assert len(ids) == 1
    assert await _order_ids(sessions) == [pk_of(ids.pop())]
    assert await payment_statuses(sessions) == ["CAPTURED"]
    assert await stock_of(sessions, product) == 4
    assert len(await _keys(sessions)) == 1


# --- payOrder -------------------------------------------------------------------------------


async def test_paying_twice_with_one_key_charges_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    order_id = gid("Order", order)

    first = await _pay(gql, buyer, order_id, method, "pay-1")
    second = await _pay(gql, buyer, order_id, method, "pay-1")

    assert first["userErrors"] == second["userErrors"] == []
    assert first["order"]["status"] == second["order"]["status"] == "AWAITING_SHIPMENT"
    assert second["order"]["version"] == 2
    assert await payment_statuses(sessions) == ["CAPTURED"]


async def test_pay_key_reused_for_another_order_is_a_conflict(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    one = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    two = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    assert (await _pay(gql, buyer, gid("Order", one), method, "k"))["userErrors"] == []
    before = await db_state(sessions)

    payload = await _pay(gql, buyer, gid("Order", two), method, "k")

    assert payload["order"] is None
    assert errors_of(payload) == [("CONFLICT", ["input", "idempotencyKey"])]
    assert await db_state(sessions) == before


async def test_a_processing_error_can_be_retried_with_the_same_key(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, method, token="tok_processingError")
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    order_id = gid("Order", order)

    failed = await _pay(gql, buyer, order_id, method, "pay-1")

    assert errors_of(failed) == [("PAYMENT_DECLINED", ["input", "paymentMethodId"])]
    assert "same idempotencyKey" in failed["userErrors"][0]["message"]
    assert failed["order"]["status"] == "UNPAID"
    assert failed["order"]["version"] == 1
    assert await payment_statuses(sessions) == ["FAILED"]
    assert await _keys(sessions, "payOrder") == []

    # The processor recovers (modelled by an approving token on the same method).
    await set_card(sessions, method, token="tok_visa")
    retried = await _pay(gql, buyer, order_id, method, "pay-1")

    assert retried["userErrors"] == []
    assert retried["order"]["status"] == "AWAITING_SHIPMENT"
    assert retried["order"]["paymentStatus"] == "PAID"
    assert await payment_statuses(sessions) == ["FAILED", "CAPTURED"]


async def test_a_declined_payment_is_replayed_not_retried(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    await set_card(sessions, method, token="tok_chargeDeclined")
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    order_id = gid("Order", order)

    first = await _pay(gql, buyer, order_id, method, "pay-1")
    second = await _pay(gql, buyer, order_id, method, "pay-1")

    assert errors_of(first) == [("PAYMENT_DECLINED", ["input", "paymentMethodId"])]
    assert second["userErrors"] == first["userErrors"]
    assert second["order"]["id"] == order_id
    assert second["order"]["status"] == "UNPAID"
    assert await payment_statuses(sessions) == ["FAILED"]

    # A new attempt (a new key) with a working card goes through.
    good = await make_payment_method(sessions, user=buyer, is_default=False)
    paid = await _pay(gql, buyer, order_id, good, "pay-2")
    assert paid["userErrors"] == []
    assert await payment_statuses(sessions) == ["FAILED", "CAPTURED"]


async def test_racing_payments_with_one_key_charge_once(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    method = await make_payment_method(sessions, user=buyer)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    order_id = gid("Order", order)

    results = await asyncio.gather(*(_pay(gql, buyer, order_id, method, "k") for _ in range(2)))

    assert [r["userErrors"] for r in results] == [[], []]
    assert [r["order"]["status"] for r in results] == ["AWAITING_SHIPMENT"] * 2
    assert await payment_statuses(sessions) == ["CAPTURED"]


# --- expiry ---------------------------------------------------------------------------------


@pytest.fixture
async def short_ttl_gql(engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """An app that remembers idempotency keys for one minute."""
    settings = Settings(
        env="test",
        jwt_secret=TEST_SECRET,
        database_url="sqlite:///unused.db",
        idempotency_ttl_seconds=60,
    )
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQLClient(http)


async def _age_keys(sessions: SessionFactory, age: timedelta) -> None:
    async with sessions() as session:
        await session.execute(update(IdempotencyKey).values(created_at=datetime.now(UTC) - age))
        await session.commit()


async def test_keys_expire_after_the_configured_ttl(
    short_ttl_gql: GraphQLClient, sessions: SessionFactory
) -> None:
    gql = short_ttl_gql
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    first = await place(gql, buyer, [line(product)], key="k")

    # Within the ttl: the key still stands.
    await _age_keys(sessions, timedelta(seconds=30))
    replay = await place(gql, buyer, [line(product)], key="k")
    assert replay["order"]["id"] == first["order"]["id"]
    conflict = await place(gql, buyer, [line(product, 2)], key="k")
    assert errors_of(conflict) == [("CONFLICT", ["input", "idempotencyKey"])]

    # Past it: the key is free again, for the same or a different input.
    await _age_keys(sessions, timedelta(seconds=90))
    fresh = await place(gql, buyer, [line(product, 2)], key="k")
    assert fresh["userErrors"] == []
    assert fresh["order"]["id"] != first["order"]["id"]
    assert len(await _order_ids(sessions)) == 2
    assert await stock_of(sessions, product) == 2
    assert len(await _keys(sessions)) == 1


async def test_claim_replays_within_the_ttl_and_forgets_after(sessions: SessionFactory) -> None:
    user = await make_user(sessions)
    assert user.id is not None
    ttl = timedelta(minutes=10)
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    async def claim(now: datetime, fingerprint: str = "a" * 64) -> Any:
        async with sessions() as session:
            result = await idempotency.claim(
                session,
                user_id=user.id,  # type: ignore[arg-type]
                operation="placeOrder",
                key_hash=idempotency.key_digest("k"),
                fingerprint=fingerprint,
                now=now,
                ttl=ttl,
            )
            await session.commit()
            return result

    first = await claim(t0)
    assert isinstance(first, IdempotencyKey)
    replay = await claim(t0 + ttl - timedelta(seconds=1))
    assert replay == idempotency.Replay(order_id=None, error=None)
    with pytest.raises(Refused) as refused:
        await claim(t0 + ttl - timedelta(seconds=1), fingerprint="b" * 64)
    assert refused.value.errors[0].code is ErrorCode.CONFLICT

    renewed = await claim(t0 + ttl, fingerprint="b" * 64)
    assert isinstance(renewed, IdempotencyKey)
    assert renewed.created_at == t0 + ttl
    keys = await _keys(sessions)
    assert [(k.request_hash, k.created_at) for k in keys] == [("b" * 64, t0 + ttl)]


async def test_an_unauthenticated_retry_changes_nothing(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    await place(gql, buyer, [line(product)], key="k")
    before = await db_state(sessions)
    error = await gql.error(
        mutation("placeOrder"),
        {"input": {"items": [line(product)], "shippingAddress": ADDRESS, "idempotencyKey": "k"}},
    )
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert await db_state(sessions) == before


# --- what is kept of a key ------------------------------------------------------------------


class RecordingGateway(SandboxGateway):
    """The sandbox, noting every idempotency key it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    async def charge(
        self, token: str, *, amount_minor: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        self.keys.append(idempotency_key)
        return await super().charge(
            token, amount_minor=amount_minor, currency=currency, idempotency_key=idempotency_key
        )


async def test_keys_are_kept_and_forwarded_only_as_their_sha256(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    settings = Settings(env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db")
    app = create_app(settings, engine=engine)
    gateway = app.state.gateway = RecordingGateway()
    transport = httpx.ASGITransport(app=app)
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop, stock=5)
    method = await make_payment_method(sessions, user=buyer)
    unpaid = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    place_key, pay_key = "client-chosen PLACE key", "client-chosen PAY key"
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        gql = GraphQLClient(http)
        placed = await place(gql, buyer, [line(product)], key=place_key, method=method)
        paid = await _pay(gql, buyer, gid("Order", unpaid), method, pay_key)
        # A retry still finds its first answer through the hash.
        again = await _pay(gql, buyer, gid("Order", unpaid), method, pay_key)
    assert placed["userErrors"] == paid["userErrors"] == again["userErrors"] == []
    assert again["order"]["id"] == paid["order"]["id"]

    digests = {hashlib.sha256(k.encode()).hexdigest() for k in (place_key, pay_key)}
    assert {k.key for k in await _keys(sessions)} == digests
    # The processor gets each charge's key by its digest, and nothing of the key itself
    # (no fragment of it that a lowercase hex digest could hold by chance).
    assert len(gateway.keys) == 2
    assert {d for d in digests for k in gateway.keys if d in k} == digests
    for forwarded in gateway.keys:
        assert "client-chosen" not in forwarded
        assert " key " not in forwarded

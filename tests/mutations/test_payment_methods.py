"""addPaymentMethod, removePaymentMethod, setDefaultPaymentMethod and the default invariant."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from db.engine import SessionFactory
from db.models import PaymentMethod, User, metadata
from resolvers.ids import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import make_payment_method, make_user

METHOD = "paymentMethod { id brand last4 expMonth expYear isDefault }"
ERRORS = "userErrors { field code message }"
ADD = f"""
mutation($input: AddPaymentMethodInput!) {{
  addPaymentMethod(input: $input) {{ {METHOD} {ERRORS} }}
}}
"""
REMOVE = f"""
mutation($input: RemovePaymentMethodInput!) {{
  removePaymentMethod(input: $input) {{ {METHOD} {ERRORS} }}
}}
"""
SET_DEFAULT = f"""
mutation($input: SetDefaultPaymentMethodInput!) {{
  setDefaultPaymentMethod(input: $input) {{ {METHOD} {ERRORS} }}
}}
"""
WALLET = "{ viewer { paymentMethods { id last4 isDefault } } }"
CARD_NUMBERS = [
    "4242424242424242",
    "4242 4242 4242 4242",
    "5555-5555-5555-4444",
    "tok_4242424242424242",
]


def mid(method: PaymentMethod) -> str:
    assert method.id is not None
    return to_global_id("PaymentMethod", method.id)


async def add(
    gql: GraphQLClient, user: User, token: str, make_default: bool | None = None
) -> dict[str, Any]:
    data = await gql.query(
        ADD, {"input": {"processorToken": token, "makeDefault": make_default}}, user_id=user.id
    )
    payload: dict[str, Any] = data["addPaymentMethod"]
    return payload


async def added(
    gql: GraphQLClient, user: User, token: str, make_default: bool | None = None
) -> dict[str, Any]:
    payload = await add(gql, user, token, make_default)
    assert payload["userErrors"] == [], payload
    method: dict[str, Any] = payload["paymentMethod"]
    return method


async def wallet(gql: GraphQLClient, user: User) -> list[dict[str, Any]]:
    data = await gql.query(WALLET, user_id=user.id)
    methods: list[dict[str, Any]] = data["viewer"]["paymentMethods"]
    return methods


async def default_of(gql: GraphQLClient, user: User) -> str:
    """The id of the single default method; fails unless there is exactly one."""
    defaults = [m["id"] for m in await wallet(gql, user) if m["isDefault"]]
    assert len(defaults) == 1, defaults
    return defaults[0]


def only_error(payload: dict[str, Any], code: str, field: list[str]) -> dict[str, Any]:
    assert payload["paymentMethod"] is None
    assert len(payload["userErrors"]) == 1, payload
    error: dict[str, Any] = payload["userErrors"][0]
    assert (error["code"], error["field"]) == (code, field)
    return error


# addPaymentMethod


async def test_add_describes_the_card_and_the_first_becomes_default(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    method = await added(gql, buyer, "tok_mastercard", make_default=False)
    assert method["brand"] == "mastercard"
    assert method["last4"] == "4444"
    assert method["expMonth"] == 12
    assert method["expYear"] > datetime.now(UTC).year
    # The first method is the default even when asked otherwise: one default, always.
    assert method["isDefault"] is True
    assert await wallet(gql, buyer) == [{"id": method["id"], "last4": "4444", "isDefault": True}]
    async with sessions() as session:
        [row] = (await session.execute(select(PaymentMethod))).scalars().all()
    assert row.processor_token == "tok_mastercard"


async def test_make_default_moves_the_default(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    first = await added(gql, buyer, "tok_visa")
    second = await added(gql, buyer, "tok_mastercard")
    assert second["isDefault"] is False
    assert await default_of(gql, buyer) == first["id"]
    third = await added(gql, buyer, "tok_amex", make_default=True)
    assert third["isDefault"] is True
    assert await default_of(gql, buyer) == third["id"]
    assert len(await wallet(gql, buyer)) == 3


async def test_another_users_default_is_untouched(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    theirs = await make_payment_method(sessions, user=other)
    await added(gql, buyer, "tok_visa")
    await added(gql, buyer, "tok_amex", make_default=True)
    assert await default_of(gql, other) == mid(theirs)


async def test_concurrent_first_adds_make_exactly_one_default(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    results = await asyncio.gather(*(added(gql, buyer, "tok_visa") for _ in range(4)))
    assert sum(m["isDefault"] for m in results) == 1
    assert len(await wallet(gql, buyer)) == 4
    await default_of(gql, buyer)


@pytest.mark.parametrize("number", CARD_NUMBERS)
async def test_a_card_number_is_refused_and_never_stored_or_logged(
    gql: GraphQLClient,
    sessions: SessionFactory,
    caplog: pytest.LogCaptureFixture,
    number: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    buyer = await make_user(sessions)
    payload = await add(gql, buyer, number, make_default=True)
    error = only_error(payload, "INVALID", ["input", "processorToken"])
    digits = number.removeprefix("tok_")
    assert digits not in error["message"]
    assert digits.replace(" ", "").replace("-", "") not in error["message"]
    # Nothing anywhere in the database holds it, and no log line does.
    async with sessions() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert not any(digits in str(value) for value in row), table.name
        assert (await session.execute(select(PaymentMethod))).first() is None
    assert digits not in caplog.text
    assert all(digits not in str(record.args) for record in caplog.records)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("pm_1234", "does not know"),
        ("", "characters"),
        ("tok_" + "x" * 200, "characters"),
        ("tok_expiredCard", "expired"),
    ],
)
async def test_unusable_tokens_are_invalid(
    gql: GraphQLClient, sessions: SessionFactory, token: str, message: str
) -> None:
    buyer = await make_user(sessions)
    payload = await add(gql, buyer, token)
    error = only_error(payload, "INVALID", ["input", "processorToken"])
    assert message in error["message"]
    assert await wallet(gql, buyer) == []


# removePaymentMethod


async def test_removing_the_default_promotes_the_newest_remaining(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    oldest = await added(gql, buyer, "tok_visa")
    newer = await added(gql, buyer, "tok_mastercard")
    default = await added(gql, buyer, "tok_amex", make_default=True)
    data = await gql.query(REMOVE, {"input": {"paymentMethodId": default["id"]}}, user_id=buyer.id)
    payload = data["removePaymentMethod"]
    assert payload["userErrors"] == []
    assert payload["paymentMethod"]["id"] == default["id"]
    assert payload["paymentMethod"]["last4"] == "8431"
    assert payload["paymentMethod"]["isDefault"] is False
    assert [m["id"] for m in await wallet(gql, buyer)] == [newer["id"], oldest["id"]]
    assert await default_of(gql, buyer) == newer["id"]


async def test_removing_another_method_keeps_the_default(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    default = await added(gql, buyer, "tok_visa")
    spare = await added(gql, buyer, "tok_mastercard")
    data = await gql.query(REMOVE, {"input": {"paymentMethodId": spare["id"]}}, user_id=buyer.id)
    assert data["removePaymentMethod"]["userErrors"] == []
    assert await default_of(gql, buyer) == default["id"]
    last = await gql.query(REMOVE, {"input": {"paymentMethodId": default["id"]}}, user_id=buyer.id)
    assert last["removePaymentMethod"]["paymentMethod"]["id"] == default["id"]
    assert await wallet(gql, buyer) == []
    # The rows stay for the payments that point at them, no longer default.
    async with sessions() as session:
        rows = (await session.execute(select(PaymentMethod))).scalars().all()
    assert [(r.removed_at is not None, r.is_default) for r in rows] == [(True, False)] * 2


async def test_removing_twice_unknown_or_foreign_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    theirs = await make_payment_method(sessions, user=other)
    mine = await added(gql, buyer, "tok_visa")
    await gql.query(REMOVE, {"input": {"paymentMethodId": mine["id"]}}, user_id=buyer.id)
    answers = []
    for target in (mine["id"], mid(theirs), to_global_id("PaymentMethod", 999_999)):
        data = await gql.query(REMOVE, {"input": {"paymentMethodId": target}}, user_id=buyer.id)
        only_error(data["removePaymentMethod"], "NOT_FOUND", ["input", "paymentMethodId"])
        answers.append(data)
    # Someone else's method is indistinguishable from a missing one.
    assert answers[1] == answers[2]
    assert await default_of(gql, other) == mid(theirs)
    bad = await gql.query(REMOVE, {"input": {"paymentMethodId": "zzz"}}, user_id=buyer.id)
    only_error(bad["removePaymentMethod"], "INVALID", ["input", "paymentMethodId"])


# setDefaultPaymentMethod


async def test_set_default_moves_the_default(gql: GraphQLClient, sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    first = await added(gql, buyer, "tok_visa")
    second = await added(gql, buyer, "tok_mastercard")
    data = await gql.query(
        SET_DEFAULT, {"input": {"paymentMethodId": second["id"]}}, user_id=buyer.id
    )
    assert data["setDefaultPaymentMethod"]["userErrors"] == []
    assert data["setDefaultPaymentMethod"]["paymentMethod"]["isDefault"] is True
    assert await default_of(gql, buyer) == second["id"]
    again = await gql.query(
        SET_DEFAULT, {"input": {"paymentMethodId": second["id"]}}, user_id=buyer.id
    )
    assert again == data
    back = await gql.query(
        SET_DEFAULT, {"input": {"paymentMethodId": first["id"]}}, user_id=buyer.id
    )
    assert back["setDefaultPaymentMethod"]["paymentMethod"]["id"] == first["id"]
    assert await default_of(gql, buyer) == first["id"]


async def test_set_default_of_removed_unknown_or_foreign_is_not_found(
    gql: GraphQLClient, sessions: SessionFactory
) -> None:
    buyer = await make_user(sessions)
    other = await make_user(sessions)
    theirs = await make_payment_method(sessions, user=other)
    kept = await added(gql, buyer, "tok_visa")
    gone = await added(gql, buyer, "tok_amex")
    await gql.query(REMOVE, {"input": {"paymentMethodId": gone["id"]}}, user_id=buyer.id)
    for target in (gone["id"], mid(theirs), to_global_id("PaymentMethod", 999_999)):
        data = await gql.query(
            SET_DEFAULT, {"input": {"paymentMethodId": target}}, user_id=buyer.id
        )
        only_error(data["setDefaultPaymentMethod"], "NOT_FOUND", ["input", "paymentMethodId"])
    assert await default_of(gql, buyer) == kept["id"]
    assert await default_of(gql, other) == mid(theirs)


# Authentication

ANONYMOUS_CALLS = {
    "addPaymentMethod": (ADD, {"input": {"processorToken": "tok_visa"}}),
    "removePaymentMethod": (REMOVE, {"input": {"paymentMethodId": "x"}}),
    "setDefaultPaymentMethod": (SET_DEFAULT, {"input": {"paymentMethodId": "x"}}),
}


@pytest.mark.parametrize("name", sorted(ANONYMOUS_CALLS))
async def test_signed_out_callers_are_unauthenticated(
    gql: GraphQLClient, sessions: SessionFactory, name: str
) -> None:
    query, variables = ANONYMOUS_CALLS[name]
    error = await gql.error(query, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["path"] == [name]
    async with sessions() as session:
        assert (await session.execute(select(PaymentMethod))).first() is None

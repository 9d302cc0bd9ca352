"""Property-based fuzzing of /graphql through the real ASGI app, signed in as a buyer.

Generated operations (hypothesis-graphql, from the live schema) and malformed requests
go to a small seeded database holding two buyers. Every answer must be well formed:
a JSON body with ``data`` and/or ``errors`` (or one of the spec's 4xx refusals), no
traceback, every error with a message, no INTERNAL_SERVER_ERROR, and nothing of the
other buyer's (handle, order numbers, tracking numbers, private ids).

Example counts: 60 per test by default (CI). A longer run by hand:

    ORDERCENTER_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest -q tests/security/test_fuzzing.py

With ``CI=true`` the examples are derandomized (the same every run) and no example
database is kept; otherwise every run draws new ones. Like every database test here,
each test runs on SQLite, and on PostgreSQL too when ORDERCENTER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import string
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema, is_input_object_type
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.main import create_app
from app.settings import Settings
from db.engine import SessionFactory
from db.models import (
    Order,
    OrderEvent,
    OrderItem,
    OrderReturn,
    Payment,
    PaymentMethod,
    ProductView,
    Recommendation,
    ReturnLine,
    Review,
    Shipment,
    TaggedItem,
    User,
)
from domain.order_status import OrderStatus
from resolvers.ids import NODE_TYPES, from_global_id, to_global_id
from resolvers.pagination import encode_cursor
from schema.definition import schema as live_schema
from schema.limits import Limits
from tests.conftest import token_for
from tests.factories import (
    BASE_TIME,
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
from tests.stragglers import stragglers_finish

# --- Hypothesis settings -------------------------------------------------------------------

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
FUZZ_EXAMPLES = int(os.environ.get("ORDERCENTER_FUZZ_EXAMPLES", "60"))

_profile: dict[str, Any] = {
    "max_examples": FUZZ_EXAMPLES,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": IN_CI,
    "print_blob": True,
}
if IN_CI:
    _profile["database"] = None
settings.register_profile("ordercenter-fuzz", **_profile)
# Applied per test rather than loaded, so other tests' Hypothesis settings are untouched.
FUZZ = settings(settings.get_profile("ordercenter-fuzz"))

# --- The schema and the HTTP surface -------------------------------------------------------

SDL = live_schema.as_str()
PARSED: GraphQLSchema = build_schema(SDL)
INPUT_FIELD_NAMES = sorted(
    {
        name
        for type_ in PARSED.type_map.values()
        if is_input_object_type(type_)
        for name in type_.fields  # type: ignore[attr-defined]
    }
    | {"input", "id", "ids", "first", "after", "last", "before", "filter", "number"}
)

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
MAX_BODY_BYTES = 1_048_576
DOCUMENT_BYTES = Limits().max_document_bytes
INTERNAL = "INTERNAL_SERVER_ERROR"
TRACE_MARKERS = ("Traceback", 'File "')
TOKEN = re.compile(r"[A-Za-z0-9_-]+")
LIST_NAMES = (
    "orders",
    "payments",
    "taggedItems",
    "recentlyViewed",
    "recommendations",
    "buyAgain",
)
PROCESSOR_TOKENS = (
    "tok_visa",
    "tok_mastercard",
    "tok_amex",
    "tok_chargeDeclined",
    "tok_processingError",
    "tok_expiredCard",
)

OTHER_HANDLE = "zq-other-buyer-private"
OTHER_NUMBER = "OCX-PRIVATE-{:04d}"
OTHER_TRACKING = "1ZPRIVATE{:06d}"

# --- The seeded world ----------------------------------------------------------------------


@dataclass
class World:
    """Two buyers' Order Centers; the client is signed in as ``viewer``."""

    client: httpx.AsyncClient
    sessions: SessionFactory
    viewer_id: int
    other_id: int
    own_ids: list[str]  # the viewer's objects
    public_ids: list[str]  # shops, products, sellers
    other_ids: frozenset[str]  # the other buyer's objects: never to be shown
    own_strings: list[str]  # the viewer's order numbers, tracking numbers
    other_strings: frozenset[str]  # the other buyer's handle, numbers, tracking numbers
    other_state: Any = None
    caplog: pytest.LogCaptureFixture | None = None
    strategies: dict[str, Any] = field(default_factory=dict)

    @property
    def secrets(self) -> frozenset[str]:
        return self.other_strings | self.other_ids


def global_ids(type_name: str, pks: Any) -> list[str]:
    return [to_global_id(type_name, pk) for pk in pks]


async def _pks(sessions: SessionFactory, statement: Any) -> list[int]:
    async with sessions() as session:
        return [int(pk) for pk in (await session.execute(statement)).scalars()]


async def _owned_ids(sessions: SessionFactory, user_id: int) -> list[str]:
    """Global ids of everything that belongs to one buyer."""
    orders = await _pks(sessions, select(Order.id).where(Order.user_id == user_id))
    of_orders = col(OrderItem.order_id).in_(orders)
    return [
        to_global_id("User", user_id),
        *global_ids("Order", orders),
        *global_ids("OrderItem", await _pks(sessions, select(OrderItem.id).where(of_orders))),
        *global_ids(
            "OrderEvent",
            await _pks(sessions, select(OrderEvent.id).where(col(OrderEvent.order_id).in_(orders))),
        ),
        *global_ids(
            "Payment", await _pks(sessions, select(Payment.id).where(Payment.user_id == user_id))
        ),
        *global_ids(
            "PaymentMethod",
            await _pks(sessions, select(PaymentMethod.id).where(PaymentMethod.user_id == user_id)),
        ),
        *global_ids(
            "TaggedItem",
            await _pks(sessions, select(TaggedItem.id).where(TaggedItem.user_id == user_id)),
        ),
        *global_ids(
            "Recommendation",
            await _pks(
                sessions, select(Recommendation.id).where(Recommendation.user_id == user_id)
            ),
        ),
        *global_ids(
            "OrderReturn",
            await _pks(sessions, select(OrderReturn.id).where(OrderReturn.user_id == user_id)),
        ),
    ]


async def _strings_of(sessions: SessionFactory, user_id: int) -> list[str]:
    async with sessions() as session:
        numbers = await session.execute(select(Order.number).where(Order.user_id == user_id))
        tracking = await session.execute(
            select(Shipment.tracking_number)
            .join(Order, col(Order.id) == col(Shipment.order_id))
            .where(Order.user_id == user_id)
        )
        tokens = await session.execute(
            select(PaymentMethod.processor_token).where(PaymentMethod.user_id == user_id)
        )
        return [*numbers.scalars(), *tracking.scalars(), *tokens.scalars()]


async def other_state(sessions: SessionFactory, user_id: int) -> dict[str, Any]:
    """Everything of the other buyer's that a mutation could change."""
    async with sessions() as session:

        async def rows(statement: Any) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in (await session.execute(statement)).all()]

        return {
            "user": await rows(select(User.handle, User.display_name).where(User.id == user_id)),
            "orders": await rows(
                select(Order.id, Order.number, Order.status, Order.version, Order.updated_at)
                .where(Order.user_id == user_id)
                .order_by(Order.id)
            ),
            "shipments": await rows(
                select(Shipment.id, Shipment.tracking_number, Shipment.carrier)
                .join(Order, col(Order.id) == col(Shipment.order_id))
                .where(Order.user_id == user_id)
                .order_by(Shipment.id)
            ),
            "payments": await rows(
                select(Payment.id, Payment.status, Payment.amount_minor)
                .where(Payment.user_id == user_id)
                .order_by(Payment.id)
            ),
            "methods": await rows(
                select(PaymentMethod.id, PaymentMethod.is_default)
                .where(PaymentMethod.user_id == user_id)
                .order_by(PaymentMethod.id)
            ),
            "tags": await rows(
                select(TaggedItem.id, TaggedItem.product_id, TaggedItem.source_video_id)
                .where(TaggedItem.user_id == user_id)
                .order_by(TaggedItem.id)
            ),
            "views": await rows(
                select(ProductView.product_id, ProductView.viewed_at)
                .where(ProductView.user_id == user_id)
                .order_by(ProductView.product_id)
            ),
            "recommendations": await rows(
                select(Recommendation.id, Recommendation.dismissed)
                .where(Recommendation.user_id == user_id)
                .order_by(Recommendation.id)
            ),
            "reviews": await rows(
                select(Review.id, Review.order_item_id, Review.rating, Review.text)
                .where(Review.user_id == user_id)
                .order_by(Review.id)
            ),
            "returns": await rows(
                select(OrderReturn.id, OrderReturn.status, OrderReturn.refund_payment_id)
                .where(OrderReturn.user_id == user_id)
                .order_by(OrderReturn.id)
            ),
            "return_lines": await rows(
                select(ReturnLine.id, ReturnLine.quantity)
                .join(OrderReturn, col(OrderReturn.id) == col(ReturnLine.return_id))
                .where(OrderReturn.user_id == user_id)
                .order_by(ReturnLine.id)
            ),
        }


async def seed(sessions: SessionFactory) -> tuple[int, int, list[str]]:
    """Two sellers with a shop each, and two buyers with orders in every status."""
    seller_one = await make_user(sessions, handle="fuzz-seller-one", role="seller")
    seller_two = await make_user(sessions, handle="fuzz-seller-two", role="seller")
    shop_one = await make_shop(sessions, owner=seller_one, name="Fuzz Kitchen")
    shop_two = await make_shop(sessions, owner=seller_two, name="Fuzz Garden")
    mug = await make_product(sessions, shop=shop_one, title="Mug", stock=100_000)
    pan = await make_product(sessions, shop=shop_one, title="Pan", price_minor=4500, stock=100_000)
    rake = await make_product(sessions, shop=shop_two, title="Rake", stock=100_000)
    sold_out = await make_product(sessions, shop=shop_two, title="Hose", stock=0)
    products = [mug, pan, rake, sold_out]
    reviews: list[int | None] = []

    viewer = await make_user(sessions, handle="fuzz-viewer")
    other = await make_user(sessions, handle=OTHER_HANDLE)
    assert viewer.id is not None
    assert other.id is not None

    for buyer, private in ((viewer, False), (other, True)):
        card = await make_payment_method(sessions, user=buyer, last4="4242")
        await make_payment_method(sessions, user=buyer, last4="1881", is_default=False)
        for i, status in enumerate(OrderStatus):
            shop, items = (shop_one, [mug, pan]) if i % 2 == 0 else (shop_two, [rake])
            order = await make_order(
                sessions,
                buyer=buyer,
                shop=shop,
                products=items,
                status=status,
                payment_method=card,
                number=OTHER_NUMBER.format(i) if private else None,
                tracking_number=OTHER_TRACKING.format(i) if private else None,
            )
            if status is OrderStatus.CANCELLED:
                await make_payment(sessions, order=order, status="REFUNDED")
            if status is OrderStatus.COMPLETED:
                # Public, by display name; editable (posted now); its other line not yet.
                review = await make_review(
                    sessions, order=order, rating=4, text="fuzz", posted_at=datetime.now(UTC)
                )
                reviews.append(review.id)
            if status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED):
                # A return to step through, and units left to ask for.
                await make_return(sessions, order=order)
                assert order.id is not None
                await set_delivered_at(sessions, order.id, datetime.now(UTC))
        for j, product in enumerate(products):
            if j % 2 == 0:
                await make_tag(sessions, user=buyer, product=product)
            await make_view(sessions, user=buyer, product=product)
            await make_recommendation(
                sessions, user=buyer, product=product, score=0.9 - j / 10, based_on=mug
            )

    # Payment and scan events on the timelines, each naming its row.
    await record_steps(sessions)
    public = [
        *global_ids("User", [seller_one.id, seller_two.id]),
        *global_ids("Shop", [shop_one.id, shop_two.id]),
        *global_ids("Product", [p.id for p in products]),
        *global_ids("Review", reviews),
    ]
    return viewer.id, other.id, public


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    # A budget no fuzz run exhausts: a rate-limited answer would stop the exploration.
    return settings.model_copy(update={"cost_budget_per_minute": 1_000_000_000})


@pytest.fixture
async def world(
    engine: AsyncEngine,
    sessions: SessionFactory,
    fuzz_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[World]:
    viewer_id, other_id, public = await seed(sessions)
    app = create_app(fuzz_settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token_for(viewer_id)}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        caplog.set_level(logging.WARNING)
        found = World(
            client=client,
            sessions=sessions,
            viewer_id=viewer_id,
            other_id=other_id,
            own_ids=await _owned_ids(sessions, viewer_id),
            public_ids=public,
            other_ids=frozenset(await _owned_ids(sessions, other_id)),
            own_strings=await _strings_of(sessions, viewer_id),
            other_strings=frozenset([OTHER_HANDLE, *await _strings_of(sessions, other_id)]),
            caplog=caplog,
        )
        found.other_state = await other_state(sessions, other_id)
        try:
            yield found
        finally:
            await stragglers_finish()
    # Whatever the fuzzer did as the viewer, nothing of the other buyer's changed.
    assert await other_state(sessions, other_id) == found.other_state


# --- Checking answers ----------------------------------------------------------------------


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def check_answer(
    world: World,
    response: httpx.Response,
    sent: str,
    *,
    allowed: frozenset[int] = frozenset({200}),
) -> dict[str, Any] | None:
    """Assert the answer is well formed and private; its JSON body, if it has one.

    ``sent`` is everything the request carried, as text: what the client sent may be
    echoed back (in an error message, a tag's video id), so a marker or a secret
    counts only when the request did not contain it.
    """
    text = response.text
    status = response.status_code
    where = f"{status} {text[:2000]!r}\nfor {sent[:2000]!r}"
    log_errors = [
        f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}"
        for r in (world.caplog.records if world.caplog else [])
        if r.levelno >= logging.ERROR
    ]
    if world.caplog:
        world.caplog.clear()
    assert not log_errors, "\n".join(log_errors) + "\n" + where
    assert status < 500, where
    for marker in TRACE_MARKERS:
        assert marker not in text or marker in sent, where

    # The body's limit, or the document's (smaller): then the request held more than a
    # document's worth of bytes.
    too_large = len(sent.encode()) > MAX_BODY_BYTES or (
        "DOCUMENT_TOO_LARGE" in text and len(sent.encode()) > DOCUMENT_BYTES
    )
    if status == 413:
        assert too_large, where
    ctype = media_type(response)
    if ctype not in (JSON, GRAPHQL_RESPONSE):
        # Only GraphiQL's page and the plain refusals (405, 406) are not JSON.
        assert status in allowed, where
        assert ctype in ("text/plain", "text/html"), where
        _event(f"status {status} {ctype}")
        _assert_no_secrets(world, text, sent, where)
        return None

    body = response.json()
    assert isinstance(body, dict), where
    assert set(body) <= {"data", "errors", "extensions"}, where
    assert "data" in body or "errors" in body, where
    errors = body.get("errors")
    if errors is not None:
        assert isinstance(errors, list), where
        assert errors, where
        for error in errors:
            assert isinstance(error, dict), where
            assert isinstance(error.get("message"), str), where
            assert error["message"], where
            extensions = error.get("extensions") or {}
            assert isinstance(extensions, dict), where
            assert extensions.get("code") != INTERNAL, where
    if "data" in body:
        assert body["data"] is None or isinstance(body["data"], dict), where
    if status == 400:
        # A request error, or (application/graphql-response+json) one that never ran.
        assert "data" not in body, where
        assert errors, where
    elif status == 429:
        codes = {(e.get("extensions") or {}).get("code") for e in errors or []}
        assert "RATE_LIMITED" in codes, where
        assert response.headers.get("retry-after"), where
    elif status != 200:
        assert errors, where
    assert status in allowed or (status == 413 and too_large), where

    _assert_no_secrets(world, text, sent, where)
    for value in _walk(body.get("data")):
        if isinstance(value, dict):
            assert value.get("id") not in world.other_ids, f"other buyer's object: {where}"
    codes = sorted({str((e.get("extensions") or {}).get("code")) for e in errors or []})
    _event(f"status {status}, data: {'data' in body}, codes: {','.join(codes) or '-'}")
    return body


def _event(text: str) -> None:
    """Tally outcomes for ``--hypothesis-show-statistics``."""
    if currently_in_test_context():
        event(text)


def _assert_no_secrets(world: World, text: str, sent: str, where: str) -> None:
    leaked = (world.secrets & set(TOKEN.findall(text))) - set(TOKEN.findall(sent))
    assert not leaked, f"the other buyer's {sorted(leaked)} in {where}"


async def post_json(
    world: World,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    allowed: frozenset[int] = frozenset({200}),
) -> dict[str, Any] | None:
    content = json.dumps(body, ensure_ascii=False).encode()
    all_headers = {"Content-Type": JSON, **(headers or {})}
    response = await world.client.post("/graphql", content=content, headers=all_headers)
    return check_answer(world, response, content.decode(), allowed=allowed)


# --- Strategies ----------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def repeated(unit: st.SearchStrategy[str], max_chars: int) -> st.SearchStrategy[str]:
    """Long strings, cheaply: a short unit repeated up to ``max_chars`` characters."""
    return st.builds(
        lambda u, n: (u * (n // len(u) + 1))[:n], unit, st.integers(1, max_chars)
    ).filter(bool)


def junk_text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=max_size),
        st.text(alphabet=string.printable, max_size=max_size),
        st.sampled_from(["", " ", "\x00", "null", "'; DROP TABLE orders; --", "%", "_", "\\"]),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        junk_text(20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(st.sampled_from(INPUT_FIELD_NAMES), st.text(max_size=8)),
                inner,
                max_size=4,
            ),
        ),
        max_leaves=max_leaves,
    )


def junk_ids(max_digits: int = 100_000) -> st.SearchStrategy[str]:
    types = st.sampled_from([*sorted(NODE_TYPES), "", "Nope", "order", "Order "])
    numbers = st.one_of(
        st.integers(-(2**64), 2**64).map(str),
        st.sampled_from(["0", "01", "+1", "1.0", "1e3", "\u0661", " 1", "0x1", "2147483648"]),
        st.text(max_size=8),
    )
    return st.one_of(
        junk_text(),
        st.binary(max_size=48).map(b64),
        st.builds(lambda t, n: b64(f"{t}:{n}".encode()), types, numbers),
        st.builds(lambda t, n: b64(f"{t}:{'9' * n}".encode()), types, st.integers(1, max_digits)),
        st.builds(lambda t, n: f"{t}:{n}", types, numbers),
        # The right id, spelled another way: padding, standard alphabet, whitespace.
        st.builds(
            lambda t, n, s: base64.b64encode(f"{t}:{n}".encode()).decode() + s,
            types,
            st.integers(1, 40),
            st.sampled_from(["", "=", "==", " ", "\n", "%3D"]),
        ),
    )


def cursor_payloads() -> st.SearchStrategy[Any]:
    keys = st.one_of(
        st.sampled_from(
            [
                BASE_TIME.isoformat(),
                "2026-01-01T12:00:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "not a date",
            ]
        ),
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        st.floats(),
        st.integers(-(2**80), 2**80),
        json_values(4),
    )
    pks = st.one_of(st.integers(-(2**70), 2**70), st.booleans(), st.floats(), junk_text(6))
    names = st.one_of(st.sampled_from(LIST_NAMES), junk_text(10))
    return st.one_of(
        st.tuples(names, keys, pks).map(list),
        json_values(8),
    )


def junk_cursors(max_nesting: int = 200_000) -> st.SearchStrategy[str]:
    return st.one_of(
        junk_text(),
        st.binary(max_size=64).map(b64),
        cursor_payloads().map(lambda p: b64(json.dumps(p, allow_nan=True).encode())),
        st.builds(
            lambda opener, n: b64((opener * n).encode()),
            st.sampled_from(["[", '{"a":', '["orders",']),
            st.integers(1, max_nesting),
        ),
    )


def valid_cursors() -> st.SearchStrategy[str]:
    at = st.integers(-5, 500).map(lambda m: BASE_TIME + timedelta(minutes=m))
    return st.one_of(
        st.builds(
            encode_cursor,
            st.sampled_from([n for n in LIST_NAMES if n != "recommendations"]),
            at,
            st.integers(1, 60),
        ),
        st.builds(
            encode_cursor,
            st.just("recommendations"),
            st.floats(0, 1),
            st.integers(1, 60),
        ),
    )


def world_strategies(world: World) -> dict[str, Any]:
    """Scalar strategies for hypothesis-graphql: mostly real values, some junk."""
    if world.strategies:
        return world.strategies
    ids = st.one_of(
        st.sampled_from(world.own_ids + world.public_ids),
        st.sampled_from(sorted(world.other_ids)),
        junk_ids(max_digits=5000),
    )
    texts = st.one_of(
        junk_text(),
        st.sampled_from(
            [
                *world.own_strings,
                *sorted(world.other_strings),
                *PROCESSOR_TOKENS,
                "UPS",
                "US",
                "Mug",
                "vid1",
            ]
        ),
        valid_cursors(),
        junk_cursors(max_nesting=5000),
        repeated(st.text(min_size=1, max_size=4), 20_000),
    )
    ints = st.one_of(st.integers(0, 3), st.integers(0, 120), st.integers(-(2**31), 2**31 - 1))
    instants = st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        st.datetimes().map(datetime.isoformat),
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]),
        junk_text(30),
    )
    custom = {
        "ID": ids.map(nodes.String),
        "String": texts.map(nodes.String),
        "Int": ints.map(nodes.Int),
        "DateTime": instants.map(nodes.String),
        "Decimal": st.decimals(allow_nan=False, allow_infinity=False).map(nodes.String),
    }
    world.strategies = {
        "custom": custom,
        "ids": ids,
        "texts": texts,
        "queries": queries(SDL, custom_scalars=custom),
        "mutations": mutations(SDL, custom_scalars=custom),
        "bad_queries": queries(SDL, custom_scalars=custom, mode=Mode.NEGATIVE),
        "bad_mutations": mutations(SDL, custom_scalars=custom, mode=Mode.NEGATIVE),
    }
    return world.strategies


ACCEPTS = st.sampled_from(
    [None, JSON, GRAPHQL_RESPONSE, "*/*", f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", "application/*"]
)


def accept_headers(accept: str | None) -> tuple[dict[str, str], frozenset[int]]:
    """The Accept header, and the statuses a GraphQL-level answer may have under it."""
    if accept is None:
        return {}, frozenset({200, 429})
    # application/graphql-response+json: 400 for requests that never ran.
    preferred = accept.startswith(GRAPHQL_RESPONSE)
    return {"Accept": accept}, frozenset({200, 400, 429} if preferred else {200, 429})


# --- Generated operations ------------------------------------------------------------------


@FUZZ
@given(data=st.data(), accept=ACCEPTS)
async def test_generated_queries_are_answered_safely(
    world: World, data: st.DataObject, accept: str | None
) -> None:
    query = data.draw(world_strategies(world)["queries"], label="query")
    headers, allowed = accept_headers(accept)
    await post_json(world, {"query": query}, headers=headers, allowed=allowed)


@FUZZ
@given(data=st.data(), accept=ACCEPTS)
async def test_generated_mutations_are_answered_safely(
    world: World, data: st.DataObject, accept: str | None
) -> None:
    mutation = data.draw(world_strategies(world)["mutations"], label="mutation")
    headers, allowed = accept_headers(accept)
    await post_json(world, {"query": mutation}, headers=headers, allowed=allowed)
    # The fixture checks the other buyer's data at the end; this finds the example.
    assert await other_state(world.sessions, world.other_id) == world.other_state


@FUZZ
@given(data=st.data(), accept=ACCEPTS, mutation=st.booleans())
async def test_invalid_generated_operations_are_refused_cleanly(
    world: World, data: st.DataObject, accept: str | None, mutation: bool
) -> None:
    """One schema violation each (wrong argument type, missing argument, unknown enum)."""
    name = "bad_mutations" if mutation else "bad_queries"
    document = data.draw(world_strategies(world)[name], label="document")
    headers, allowed = accept_headers(accept)
    body = await post_json(world, {"query": document}, headers=headers, allowed=allowed)
    assert body is not None
    assert body.get("errors"), body


# --- Variables of the wrong types ----------------------------------------------------------

CONNECTION = "totalCount pageInfo { hasNextPage startCursor endCursor } edges { cursor }"
OPERATIONS: dict[str, str] = {
    "node": "query N($id: ID!) { node(id: $id) { __typename id ... on Order { number } } }",
    "nodes": "query Ns($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
    "product": "query P($id: ID!) { product(id: $id) { id title shop { id } } }",
    "orders": (
        "query O($first: Int, $after: String, $last: Int, $before: String,"
        " $filter: OrderFilter) { viewer { orders(first: $first, after: $after, last: $last,"
        f" before: $before, filter: $filter) {{ {CONNECTION} edges {{ node {{ number tab"
        " shipment { trackingNumber } } } } } }"
    ),
    "lists": (
        "query L($first: Int, $after: String) { viewer {"
        f" payments(first: $first, after: $after) {{ {CONNECTION} }}"
        f" taggedItems(first: $first, after: $after) {{ {CONNECTION} }}"
        f" recentlyViewed(first: $first, after: $after) {{ {CONNECTION} }}"
        f" recommendations(first: $first, after: $after) {{ {CONNECTION} }}"
        f" buyAgain(first: $first, after: $after) {{ {CONNECTION} }} }} }}"
    ),
    "order": "query One($number: String!) { viewer { order(number: $number) { number } } }",
    "productReviews": (
        "query R($id: ID!, $first: Int, $after: String) { product(id: $id) {"
        " rating { average count } reviews(first: $first, after: $after) {"
        f" {CONNECTION} edges {{ node {{ id rating text reviewerName }} }} }} }} }}"
    ),
}
PAYLOAD = "userErrors { field message code }"
for _name, _input, _result in [
    ("placeOrder", "PlaceOrderInput", "order { number status }"),
    ("payOrder", "PayOrderInput", "order { number paymentStatus }"),
    ("cancelOrder", "CancelOrderInput", "order { number status }"),
    ("confirmReceipt", "ConfirmReceiptInput", "order { number }"),
    ("shipOrder", "ShipOrderInput", "order { number shipment { trackingNumber } }"),
    ("updateOrderStatus", "UpdateOrderStatusInput", "order { number status }"),
    ("tagProduct", "TagProductInput", "taggedItem { id sourceVideoId }"),
    ("untagProduct", "UntagProductInput", "taggedItem { id }"),
    ("recordProductView", "RecordProductViewInput", "productView { viewedAt }"),
    ("clearRecentlyViewed", "ClearRecentlyViewedInput", "clearedCount"),
    ("dismissRecommendation", "DismissRecommendationInput", "recommendation { id }"),
    ("addPaymentMethod", "AddPaymentMethodInput", "paymentMethod { id last4 isDefault }"),
    ("removePaymentMethod", "RemovePaymentMethodInput", "paymentMethod { id }"),
    ("setDefaultPaymentMethod", "SetDefaultPaymentMethodInput", "paymentMethod { id }"),
    ("reviewOrderItem", "ReviewOrderItemInput", "review { id rating text reviewerName }"),
    ("editReview", "EditReviewInput", "review { id rating text editedAt }"),
    ("requestReturn", "RequestReturnInput", "orderReturn { id status lines { quantity } }"),
    ("approveReturn", "ReturnStepInput", "orderReturn { id status }"),
    ("rejectReturn", "RejectReturnInput", "orderReturn { id rejectReason }"),
    ("cancelReturn", "ReturnStepInput", "orderReturn { id status }"),
    ("shipReturn", "ShipReturnInput", "orderReturn { id trackingNumber }"),
    ("receiveReturn", "ReturnStepInput", "orderReturn { id refundTotal { amount } }"),
    ("refundReturn", "ReturnStepInput", "order { number paymentStatus }"),
]:
    OPERATIONS[_name] = (
        f"mutation M($input: {_input}!) {{ {_name}(input: $input) {{ {_result} {PAYLOAD} }} }}"
    )
VARIABLES = {
    name: re.findall(r"\$(\w+):", document.split(")", 1)[0])
    for name, document in OPERATIONS.items()
}


def near_inputs(world: World) -> st.SearchStrategy[Any]:
    """Input objects close to valid ones: right field names, values of any type."""
    values = st.one_of(
        world_strategies(world)["ids"],
        world_strategies(world)["texts"],
        json_values(6),
        st.integers(-(2**40), 2**40),
    )
    # An order's line names its product, a return's its order line.
    line = st.sampled_from(["productId", "orderItemId"]).flatmap(
        lambda key: st.fixed_dictionaries(
            {key: values, "quantity": st.one_of(st.integers(-2, 120), values)}
        )
    )
    address = st.dictionaries(
        st.sampled_from(["name", "line1", "line2", "city", "region", "postalCode", "countryCode"]),
        values,
    )
    return st.dictionaries(
        st.sampled_from(INPUT_FIELD_NAMES),
        st.one_of(values, st.lists(line, max_size=3), address),
        max_size=6,
    )


@FUZZ
@given(data=st.data(), operation=st.sampled_from(sorted(OPERATIONS)), accept=ACCEPTS)
async def test_variables_of_any_type_are_refused_cleanly(
    world: World, data: st.DataObject, operation: str, accept: str | None
) -> None:
    value = st.one_of(
        json_values(),
        world_strategies(world)["ids"],
        world_strategies(world)["texts"],
        st.lists(world_strategies(world)["ids"], max_size=120),
        near_inputs(world),
    )
    variables = data.draw(
        st.one_of(
            st.fixed_dictionaries(dict.fromkeys(VARIABLES[operation], value)),
            st.dictionaries(st.sampled_from([*VARIABLES[operation], "x"]), value),
        ),
        label="variables",
    )
    headers, allowed = accept_headers(accept)
    await post_json(
        world,
        {"query": OPERATIONS[operation], "variables": variables},
        headers=headers,
        allowed=allowed,
    )


# --- Ids, cursors and strings: invalid and huge --------------------------------------------

SLOTS: list[tuple[str, str, Any]] = [
    # (operation, variable, how the value goes in)
    ("node", "id", None),
    ("nodes", "ids", "list"),
    ("product", "id", None),
    ("orders", "after", None),
    ("orders", "before", None),
    ("orders", "filter", "search"),
    ("lists", "after", None),
    ("order", "number", None),
    ("cancelOrder", "input", "orderId"),
    ("payOrder", "input", "orderId"),
    ("confirmReceipt", "input", "orderId"),
    ("tagProduct", "input", "productId"),
    ("tagProduct", "input", "sourceVideoId"),
    ("recordProductView", "input", "productId"),
    ("dismissRecommendation", "input", "recommendationId"),
    ("addPaymentMethod", "input", "processorToken"),
    ("removePaymentMethod", "input", "paymentMethodId"),
    ("placeOrder", "input", "idempotencyKey"),
    ("placeOrder", "input", "productId"),
    ("productReviews", "after", None),
    ("reviewOrderItem", "input", "orderItemId"),
    ("reviewOrderItem", "input", "text"),
    ("editReview", "input", "reviewId"),
    ("editReview", "input", "text"),
]


def _fill(operation: str, variable: str, how: Any, value: str, world: World) -> dict[str, Any]:
    if operation == "productReviews":
        return {"id": _first_of("Product", world.public_ids), variable: value}
    if how is None:
        return {variable: value}
    if how == "list":
        return {variable: [value, *world.own_ids[:2]]}
    if how == "search":
        return {variable: {"search": value}}
    if operation == "placeOrder":
        line = {"productId": world.public_ids[-4], "quantity": 1}
        order = {
            "items": [line],
            "shippingAddress": {
                "name": "Ada",
                "line1": "1 Main St",
                "city": "Springfield",
                "postalCode": "12345",
                "countryCode": "US",
            },
            "idempotencyKey": "fuzz-key",
        }
        if how == "productId":
            order["items"] = [{**line, "productId": value}]
        else:
            order[how] = value
        return {variable: order}
    extra: dict[str, Any] = {}
    if operation == "payOrder":
        extra = {"paymentMethodId": value, "idempotencyKey": value}
    if operation == "reviewOrderItem":
        # An unreviewed line of the viewer's (or the other buyer's) completed order.
        extra = {"orderItemId": _first_of("OrderItem", world.own_ids), "rating": 5}
    if operation == "editReview":
        extra = {"reviewId": _first_of("Review", world.public_ids), "rating": 3}
    return {variable: {**extra, how: value}}


def _first_of(type_name: str, ids: list[str]) -> str:
    return next(i for i in ids if from_global_id(i)[0] == type_name)


def nasty_values() -> st.SearchStrategy[str]:
    return st.one_of(
        junk_ids(),
        junk_cursors(),
        repeated(st.text(min_size=1, max_size=8), MAX_BODY_BYTES),
        repeated(st.sampled_from(["\x00", "é", "\U0001f600", "\\", '"', "'"]), 100_000),
    )


@FUZZ
@given(slot=st.sampled_from(SLOTS), value=nasty_values(), accept=ACCEPTS)
@example(slot=("orders", "after", None), value=b64(b"[" * 100_000), accept=None)
@example(slot=("lists", "after", None), value=b64(b'{"a":' * 5000), accept=None)
@example(slot=("node", "id", None), value=b64(b"Order:" + b"9" * 100_000), accept=None)
@example(slot=("nodes", "ids", "list"), value="x" * (MAX_BODY_BYTES - 400), accept=None)
@example(slot=("tagProduct", "input", "sourceVideoId"), value="\x00" * 1000, accept=None)
async def test_invalid_and_huge_ids_cursors_and_strings(
    world: World, slot: tuple[str, str, Any], value: str, accept: str | None
) -> None:
    operation, variable, how = slot
    headers, allowed = accept_headers(accept)
    await post_json(
        world,
        {
            "query": OPERATIONS[operation],
            "variables": _fill(operation, variable, how, value, world),
        },
        headers=headers,
        allowed=allowed,
    )


# --- Malformed HTTP requests ---------------------------------------------------------------

VIEWER_QUERY = "{ viewer { handle orders(first: 2) { edges { node { number } } } } }"
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            JSON,
            f"{JSON}; charset=utf-8",
            "APPLICATION/JSON",
            "application/json;charset=latin-1",
            "application/graphql",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            ";",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "/;=+-. *", max_size=40),
)
RANDOM_ACCEPTS = st.one_of(
    ACCEPTS,
    ACCEPTS,
    st.sampled_from(
        [
            "text/html",
            "application/xml",
            "application/*;q=0",
            "*/*;q=0",
            f"{JSON};q=abc",
            f"{JSON};q=-1",
            f"{JSON};q=nan",
            f"{GRAPHQL_RESPONSE};q=0.5, {JSON};q=0.9",
            ",,,",
            ";;q=1",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "/;=+-.,* ", max_size=60),
)
AUTHORIZATIONS = st.one_of(
    st.none(),  # the client's own, valid token
    st.sampled_from(
        ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z", "Bearer a.b", "Bearer ..."]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "._- ", max_size=80).map(
        "Bearer {}".format
    ),
)


def wrong_shapes() -> st.SearchStrategy[Any]:
    params = st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(json_values(4), st.just(VIEWER_QUERY), junk_text()),
            "variables": json_values(6),
            "operationName": st.one_of(json_values(3), junk_text()),
            "extensions": json_values(6),
            "id": json_values(2),
        },
    )
    return st.one_of(json_values(), params, st.lists(params, max_size=3))


def bodies() -> st.SearchStrategy[bytes]:
    valid = json.dumps({"query": VIEWER_QUERY}).encode()
    nested = st.builds(
        lambda opener, n: (opener * n).encode(),
        st.sampled_from(["[", '{"a":', '{"query":"{ viewer { handle } }","variables":{"a":']),
        st.integers(1, 100_000),
    )
    big_variable = st.builds(
        lambda n: json.dumps({"query": VIEWER_QUERY, "variables": {"x": "a" * n}}).encode(),
        st.integers(MAX_BODY_BYTES - 200, MAX_BODY_BYTES + 200),
    )
    operation_names = st.builds(
        lambda names, pick: json.dumps(
            {
                "query": " ".join(f"query {n} {{ viewer {{ handle }} }}" for n in names),
                "operationName": pick,
            }
        ).encode(),
        st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), max_size=3),
        st.one_of(st.none(), junk_text(20), st.sampled_from(["Q", "A", ""])),
    )
    return st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        wrong_shapes().map(lambda v: json.dumps(v).encode()),
        nested,
        big_variable,
        operation_names,
        st.sampled_from(
            [
                b"\xef\xbb\xbf" + valid,  # BOM
                valid.replace(b"viewer", b"vi\xffewer"),
                b'{"query": "{ viewer { handle } }", "query": 1}',
                b'{"query": "{ viewer { handle } }", "variables": NaN}',
                b'{"query": "\\ud800"}',
                b'{"query": "\\u0000"}',
                b"null",
                b"",
            ]
        ),
    )


@FUZZ
@given(
    body=bodies(),
    content_type=st.one_of(st.just(JSON), st.none(), CONTENT_TYPES),
    accept=RANDOM_ACCEPTS,
    authorization=AUTHORIZATIONS,
)
async def test_malformed_posts_get_well_formed_answers(
    world: World,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    authorization: str | None,
) -> None:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await world.client.post("/graphql", content=body, headers=headers)
    sent = body.decode("utf-8", "replace") + repr(headers)
    check_answer(world, response, sent, allowed=frozenset({200, 400, 406, 413, 415, 429}))


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
        st.one_of(
            junk_text(60),
            st.sampled_from(
                [
                    VIEWER_QUERY,
                    "mutation { clearRecentlyViewed { clearedCount } }",
                    "subscription { orderStatusChanged { id } }",
                    "{",
                    "[]",
                    "{}",
                    '{"id": "x"}',
                ]
            ),
            json_values(4).map(json.dumps),
        ),
    ),
    accept=RANDOM_ACCEPTS,
    method=st.sampled_from(["GET"] * 7 + ["PUT", "DELETE", "PATCH"]),
)
async def test_malformed_gets_and_other_methods_get_well_formed_answers(
    world: World, params: dict[str, str], accept: str | None, method: str
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = await world.client.request(method, "/graphql", params=params, headers=headers)
    check_answer(
        world,
        response,
        repr(params) + repr(headers),
        allowed=frozenset({200, 400, 405, 406, 429}),
    )


# --- Deep nesting and heavy documents ------------------------------------------------------


def _fragment_bomb(levels: int) -> str:
    """Each fragment spreads the previous one twice: 2**levels selections, expanded."""
    fragments = ["fragment F0 on Order { number shop { id } }"]
    fragments += [
        f"fragment F{i} on Order {{ ...F{i - 1} ... on Order {{ ...F{i - 1} }} }}"
        for i in range(1, levels + 1)
    ]
    operation = (
        f"query Bomb {{ viewer {{ orders(first: 1) {{ edges {{ node {{ ...F{levels} }} }} }} }} }}"
    )
    return " ".join([operation, *fragments])


def _timeline_chain(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"timeline {{ order {{ {inner} }} }}"
    return f"{{ viewer {{ orders(first: 1) {{ edges {{ node {{ {inner} }} }} }} }} }}"


HEAVY_DOCUMENTS: dict[str, str] = {
    "deep selection": _timeline_chain(40),
    "deep braces": "{" * 5000 + "}" * 5000,
    "deep list literal": "{ nodes(ids: " + "[" * 3000 + "]" * 3000 + ") { id } }",
    "deep object literal": (
        '{ viewer { orders(filter: {search: "x"' + ", tab: TO_PAY" * 200 + "}) { totalCount } } }"
    ),
    "fragment cycle": (
        "query { viewer { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    ),
    # 2**20 selections: without the shape check, ~30 s per request (a failure, not a hang).
    "fragment bomb": _fragment_bomb(20),
    "fragment bomb, small": _fragment_bomb(12),
    "fragment chain": " ".join(
        ["query Bomb { ...F300 }", "fragment F0 on Query { __typename }"]
        + [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, 301)]
    ),
    "deep inline fragments": "{ " + "... on Query { " * 190 + "__typename" + " }" * 190 + " }",
    "many aliases": "{ " + " ".join(f"a{i}: viewer {{ handle }}" for i in range(2000)) + " }",
    "many tokens": "{ viewer { " + "handle " * 50_000 + "} }",
    "many directives": "{ viewer { handle" + " @include(if: true)" * 3000 + " } }",
    "empty selection set": "{}",
    "empty inner selection set": "{ viewer { handle orders {} } }",
    "unknown directive": "{ viewer { handle @nope(x: 1) } }",
    "many operations": " ".join(f"query Q{i} {{ viewer {{ handle }} }}" for i in range(2000)),
    "huge nodes list": "{ nodes(ids: [" + ", ".join(['"T3JkZXI6MQ"'] * 20_000) + "]) { id } }",
    "introspection chain": "{ __schema { types { "
    + "fields { type { " * 30
    + "name"
    + " } }" * 30
    + " } } }",
    "long name": "{ " + "x" * 500_000 + " }",
    "huge int": "{ viewer { orders(first: " + "9" * 100_000 + ") { totalCount } } }",
    "huge float": "{ viewer { orders(first: 1e99999) { totalCount } } }",
    "nul bytes": '{ viewer { order(number: "\x00\x00") { number } } }',
    "bad escape": '{ viewer { order(number: "\\ud800\\uZZZZ") { number } } }',
    "block string": '{ viewer { order(number: """' + '\\"""' * 10_000 + '""") { number } } }',
    "variables deep": "query V($f: OrderFilter) { viewer { orders(filter: $f) { totalCount } } }",
}
HEAVY_VARIABLES: dict[str, dict[str, Any]] = {
    "variables deep": {"f": {"status": [[[[["UNPAID"]]]]], "search": {"a": {"b": {"c": []}}}}},
}
# A document the server may refuse or answer, but must never spend long on.
HEAVY_SECONDS = 10.0


@pytest.mark.parametrize("name", sorted(HEAVY_DOCUMENTS))
async def test_deep_and_heavy_documents_are_answered_quickly(world: World, name: str) -> None:
    for operation_name in (None, "Bomb"):
        body: dict[str, Any] = {"query": HEAVY_DOCUMENTS[name]}
        if name in HEAVY_VARIABLES:
            body["variables"] = HEAVY_VARIABLES[name]
        if operation_name is not None:
            body["operationName"] = operation_name
        started = time.perf_counter()
        for accept in (JSON, GRAPHQL_RESPONSE):
            await post_json(
                world, body, headers={"Accept": accept}, allowed=frozenset({200, 400, 413, 429})
            )
        elapsed = time.perf_counter() - started
        assert elapsed < HEAVY_SECONDS, f"{name}: {elapsed:.1f} s"

"""The seeded world the differential tests read, and the three apps that answer them.

The data is made for the rules' edges, as tests/queries/test_sql_plans.py's is: orders in
every status in two shops, instants with and without microseconds, currencies with 0 and
3 decimals, scores whose JSON differs between languages, text with quotes, backslashes and
emoji, a payment made with somebody else's card, dismissed recommendations, and people
in every role: a buyer, the seller of the buyer's shop, an operator and a stranger who is
not signed in.

The three apps share one database and differ only in the execution path they may take:
``generic`` (graphql-core alone), ``compiled`` (compiled plans in Python) and ``sql``
(compiled plans answered by the database where schema/sql_plans.py has rules; on SQLite
this is the Python plan again). Each records, through the tracing seam every operation
already passes (app/tracing.py), the execution path that answered.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from starlette.applications import Starlette

from app.main import create_app
from app.tracing import EXECUTION_PATH, Tracing
from app.vocabulary import GENERIC, REFUSED, SQL_PLAN
from db.engine import SessionFactory, create_session_factory
from db.models import (
    Order,
    OrderEvent,
    OrderItem,
    Payment,
    PaymentMethod,
    Product,
    Recommendation,
    Shipment,
    Shop,
    TaggedItem,
    User,
)
from domain.order_status import OrderStatus
from resolvers.ids import to_global_id
from schema.definition import schema as live_schema
from schema.limits import Limits
from schema.plans import NotCompilable, Plan, compile_plan
from tests.conftest import token_for
from tests.factories import (
    BASE_TIME,
    make_order,
    make_payment,
    make_payment_method,
    make_product,
    make_recommendation,
    make_shop,
    make_tag,
    make_user,
    make_view,
)
from tests.security.conftest import make_settings

PLANS_LOGGER = "ordercenter.plans"
VIEWERS = ("buyer", "seller", "operator", "stranger")
# Every response carries the request id only inside masked errors; the same id on every
# path's request keeps those comparable byte for byte.
REQUEST_ID = "differential-test"
NODE_MODELS: dict[str, Any] = {
    "User": User,
    "Shop": Shop,
    "Product": Product,
    "Order": Order,
    "OrderItem": OrderItem,
    "OrderEvent": OrderEvent,
    "Payment": Payment,
    "PaymentMethod": PaymentMethod,
    "TaggedItem": TaggedItem,
    "Recommendation": Recommendation,
}
LISTS = ("orders", "payments", "taggedItems", "recentlyViewed", "recommendations")
HARVEST = (
    "{ viewer { "
    + " ".join(f"{name}(first: 100) {{ edges {{ cursor }} }}" for name in LISTS)
    + " } }"
)


class _PathSpan(NonRecordingSpan):
    """A span that keeps the one attribute these tests read: the execution path."""

    def __init__(self) -> None:
        super().__init__(INVALID_SPAN_CONTEXT)
        self.path = REFUSED

    def set_attribute(self, key: str, value: Any) -> None:
        if key == EXECUTION_PATH:
            self.path = str(value)


class PathRecorder(Tracing):
    """Tracing that exports nothing and remembers the path of the last operation."""

    def __init__(self) -> None:
        super().__init__()
        self.last = REFUSED

    @contextmanager
    def operation(self, name: str | None, *, transport: str, request_id: str) -> Iterator[Any]:
        span = _PathSpan()
        self.last = REFUSED
        try:
            yield span
        finally:
            self.last = span.path


@dataclass
class Answer:
    status: int
    body: bytes
    path: str


@dataclass
class Tally:
    """How many answers each path gave, per database: coverage made visible."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    declined: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def count(self, database: str, app: str, path: str) -> None:
        self.counts[(database, app, path)] += 1

    def lines(self) -> list[str]:
        out = []
        for database in sorted({d for d, _, _ in self.counts}):
            parts = []
            for app in ("generic", "compiled", "sql"):
                paths = {p: n for (d, a, p), n in self.counts.items() if d == database and a == app}
                shown = ", ".join(f"{p} {n}" for p, n in sorted(paths.items()))
                parts.append(f"{app} app: {shown}")
            out.append(f"{database}: " + "; ".join(parts))
            reasons = {r: n for (d, _, r), n in self.declined.items() if d == database}
            if reasons:
                top = sorted(reasons.items(), key=lambda item: -item[1])[:8]
                out.append(
                    f"{database} declined (why, documents): "
                    + "; ".join(f"{r} {n}" for r, n in top)
                )
        return out


TALLY = Tally()


@dataclass
class Differing:
    """What a discrepancy report says: enough to reproduce it by hand."""

    database: str
    viewer: str
    app: str
    path: str
    document: str
    variables: dict[str, Any]
    expected: Answer
    got: Answer

    def __str__(self) -> str:
        a, b = self.expected.body, self.got.body
        at = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        return (
            f"the {self.app} app ({self.path}) differs from graphql-core on {self.database} "
            f"for the {self.viewer}\n"
            f"document: {self.document}\nvariables: {self.variables}\n"
            f"status {self.expected.status} vs {self.got.status}\n"
            f"generic: {a[max(0, at - 150) : at + 100]!r}\n"
            f"{self.path}: {b[max(0, at - 150) : at + 100]!r}"
        )


@dataclass
class Trouble:
    """Something a path did wrong on the way to an answer, whatever the answer."""

    what: str

    def __str__(self) -> str:
        return self.what


class Complaints(logging.Handler):
    """Warnings of the plans' logger: a plan that could not be compiled or whose statement
    failed is a defect even when the Python plan then answers correctly."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class World:
    engine: AsyncEngine
    database: str
    people: dict[str, int | None]
    apps: dict[str, Starlette]
    recorders: dict[str, PathRecorder]
    clients: dict[str, httpx.AsyncClient]
    ids: list[str] = field(default_factory=list)  # every row's global id
    numbers: list[str] = field(default_factory=list)  # every order number
    texts: list[str] = field(default_factory=list)  # search terms that match something
    cursors: dict[str, list[str]] = field(default_factory=dict)  # by list, all viewers'
    complaints: Complaints = field(default_factory=Complaints)

    def headers(self, viewer: str) -> dict[str, str]:
        user_id = self.people[viewer]
        headers = {"X-Request-ID": REQUEST_ID}
        if user_id is not None:
            headers["Authorization"] = f"Bearer {token_for(user_id)}"
        return headers

    async def ask(self, app: str, document: str, variables: dict[str, Any], viewer: str) -> Answer:
        response = await self.clients[app].post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers=self.headers(viewer),
        )
        return Answer(response.status_code, response.content, self.recorders[app].last)

    def compile(self, document: str) -> None:
        """Compile the document on both plan apps, as the server would after one error-free
        answer; here before any, so that answers with errors meet the plans too."""
        plans = self.apps["sql"].state.plans
        if plans.knows(document, None):
            return
        plans.learn(document, None)
        self.apps["compiled"].state.plans.learn(document, None)
        plan = plans.get(document, None)
        if plan is None:
            TALLY.declined[(self.database, "compiled", f"not compiled: {_why(document)}")] += 1
        elif plan.sql_plan(self.database) is None:
            TALLY.declined[(self.database, "sql", "not expressible in SQL")] += 1

    def plan_of(self, app: str, document: str) -> Plan | None:
        plan: Plan | None = self.apps[app].state.plans.get(document, None)
        return plan

    async def differences(
        self, document: str, variables: dict[str, Any], viewer: str
    ) -> list[Differing | Trouble]:
        """Every path's answer against graphql-core's; the discrepancies, and any trouble a
        path had on the way (a plan that failed, a connection not given back)."""
        self.complaints.records.clear()
        found: list[Differing | Trouble] = await self._differences(document, variables, viewer)
        pool: Any = self.engine.sync_engine.pool
        where = f"on {self.database} for the {viewer}\ndocument: {document}\n{variables}"
        if pool.checkedout():
            found.append(Trouble(f"{pool.checkedout()} connections not given back {where}"))
        for record in self.complaints.records:
            found.append(Trouble(f"{record.name}: {record.getMessage()} {where}"))
        return found

    async def _differences(
        self, document: str, variables: dict[str, Any], viewer: str
    ) -> list[Differing | Trouble]:
        self.compile(document)
        expected = await self.ask("generic", document, variables, viewer)
        assert expected.path in (GENERIC, REFUSED), expected.path
        TALLY.count(self.database, "generic", expected.path)
        found: list[Differing | Trouble] = []
        for app in ("compiled", "sql"):
            got = await self.ask(app, document, variables, viewer)
            TALLY.count(self.database, app, got.path)
            if got.path == GENERIC and self.plan_of(app, document) is not None:
                TALLY.declined[(self.database, app, "handed back at run")] += 1
            if app == "compiled":
                assert got.path != SQL_PLAN, "the compiled app answered in SQL"
            if (got.status, got.body) != (expected.status, expected.body):
                found.append(
                    Differing(
                        self.database, viewer, app, got.path, document, variables, expected, got
                    )
                )
        return found


def _why(document: str) -> str:
    """What the compiler says it does not do."""
    try:
        compile_plan(live_schema, document, None, Limits())
    except NotCompilable as refusal:
        return str(refusal)
    return "?"


async def seed(sessions: SessionFactory) -> dict[str, int | None]:
    """The people and their data; the ids of the four viewers (the stranger has none)."""
    buyer = await make_user(sessions, handle='ada "the buyer"')
    seller = await make_user(sessions, handle="sam-the-seller", role="seller")
    operator = await make_user(sessions, handle="olga-operator", role="operator")
    other = await make_user(sessions, handle="otto-other-buyer")
    other_seller = await make_user(sessions, role="seller")
    own_shop = await make_shop(sessions, owner=seller, name='Sam\'s "Own" Shop \\ 🛍')
    other_shop = await make_shop(sessions, owner=other_seller, name="Garden")
    tea = await make_product(sessions, shop=own_shop, title='Tea "Matcha" — 抹茶 \\ 🍵')
    yen = await make_product(sessions, shop=other_shop, price_minor=500, currency="JPY")
    dinar = await make_product(sessions, shop=other_shop, price_minor=12345, currency="KWD")
    cheap = await make_product(sessions, shop=own_shop, price_minor=5, category="kitchen")
    spare = await make_product(sessions, shop=other_shop, price_minor=0, stock=0)
    card = await make_payment_method(sessions, user=buyer)
    await make_payment_method(sessions, user=buyer, last4="1881", is_default=False)
    foreign_card = await make_payment_method(sessions, user=other, last4="0005")
    base = datetime(2026, 10, 3, 9, 30, 15, 123400, tzinfo=UTC)
    orders: list[Order] = []
    statuses = list(OrderStatus)
    for i, status in enumerate(statuses + statuses[:3]):
        shop, products = [(own_shop, [tea, cheap]), (other_shop, [yen]), (other_shop, [dinar])][
            i % 3
        ]
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
                quantity=1 + i % 2,
            )
        )
    await make_payment(sessions, order=orders[0], status="FAILED", payment_method=foreign_card)
    for order in orders:
        if order.status == OrderStatus.CANCELLED:
            await make_payment(sessions, order=order, status="REFUNDED", payment_method=card)
    # The seller (also from their own shop: buyer and seller of one order), the operator
    # and the other buyer buy too: their own Order Centers.
    for someone, shop, status in (
        (seller, other_shop, OrderStatus.IN_TRANSIT),
        (seller, own_shop, OrderStatus.AWAITING_SHIPMENT),  # the same instant: a tie
        (operator, own_shop, OrderStatus.IN_TRANSIT),
        (other, own_shop, OrderStatus.UNPAID),
    ):
        await make_order(
            sessions,
            buyer=someone,
            shop=shop,
            products=[tea] if shop is own_shop else [yen],
            status=status,
            placed_at=base + timedelta(hours=5),
        )
    for j, product in enumerate([tea, yen, dinar, cheap]):
        if j % 2 == 0:
            await make_tag(sessions, user=buyer, product=product)
        await make_view(sessions, user=buyer, product=product, viewed_at=base + timedelta(hours=j))
    await make_tag(sessions, user=seller, product=yen)
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
    await make_recommendation(sessions, user=other, product=tea, score=0.7)
    return {"buyer": buyer.id, "seller": seller.id, "operator": operator.id, "stranger": None}


async def _global_ids(sessions: SessionFactory) -> list[str]:
    found = []
    async with sessions() as session:
        for type_name, model in NODE_MODELS.items():
            pks = (await session.execute(select(model.id).order_by(model.id))).scalars()
            found += [to_global_id(type_name, int(pk)) for pk in pks]
    return found


async def _texts(sessions: SessionFactory) -> tuple[list[str], list[str]]:
    async with sessions() as session:
        numbers = list((await session.execute(select(Order.number))).scalars())
        tracking = list((await session.execute(select(Shipment.tracking_number))).scalars())
    return sorted(numbers), [*numbers[:2], *tracking[:2], "Tea", "抹茶", "garden", '"', "%", "_"]


async def open_world(engine: AsyncEngine, database: str, clients: Any) -> World:
    """Seed the database, build the three apps and a client of each (``clients``: an
    AsyncExitStack that closes them)."""
    sessions = create_session_factory(engine)
    people = await seed(sessions)
    # A budget no run exhausts: a rate-limited answer would end the comparison.
    common = {"cost_budget_per_minute": 1_000_000_000}
    settings = {
        "generic": make_settings(compiled_plans=False, **common),
        "compiled": make_settings(compiled_plans=True, sql_plans=False, **common),
        "sql": make_settings(compiled_plans=True, sql_plans=True, **common),
    }
    recorders = {name: PathRecorder() for name in settings}
    apps = {
        name: create_app(value, engine=engine, tracing=recorders[name])
        for name, value in settings.items()
    }
    http = {
        name: await clients.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
                base_url="http://test",
            )
        )
        for name, app in apps.items()
    }
    numbers, texts = await _texts(sessions)
    world = World(
        engine=engine,
        database=database,
        people=people,
        apps=apps,
        recorders=recorders,
        clients=http,
        ids=await _global_ids(sessions),
        numbers=numbers,
        texts=texts,
    )
    # Real cursors of every list, from every signed-in viewer's own answers.
    for viewer in ("buyer", "seller", "operator"):
        answer = await world.ask("generic", HARVEST, {}, viewer)
        data = httpx.Response(200, content=answer.body).json()["data"]["viewer"]
        for name in LISTS:
            world.cursors.setdefault(name, []).extend(
                edge["cursor"] for edge in data[name]["edges"]
            )
    assert all(world.cursors[name] for name in LISTS), world.cursors
    return world


def timestamps() -> list[str]:
    """Instants around the seeded ones, for placedAfter / placedBefore."""
    at = datetime(2026, 10, 5, tzinfo=UTC)
    return [at.isoformat(), BASE_TIME.isoformat(), (at + timedelta(days=30)).isoformat()]

"""The seeded world the differential tests read, and the three apps that answer them.

The three apps share one database (tests/differential/seed.py's) and differ only in the
execution path they may take: ``generic`` (graphql-core alone), ``compiled`` (compiled
plans in Python) and ``sql`` (compiled plans answered by the database in one statement,
PostgreSQL's or SQLite's, where schema/sql_plans.py derives every field). The world also
holds the values arguments are drawn from: every row's global id, every order number,
search terms and every viewer's real cursors of every list.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from starlette.applications import Starlette

from app.main import create_app
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
from resolvers.ids import to_global_id
from schema.definition import schema as live_schema
from schema.limits import Limits
from schema.plans import NotCompilable, Plan, compile_plan
from tests.conftest import token_for
from tests.differential.paths import (
    TALLY,
    Answer,
    Complaints,
    Differing,
    PathRecorder,
    Trouble,
)
from tests.differential.seed import seed
from tests.factories import BASE_TIME
from tests.security.conftest import make_settings

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


@dataclass(repr=False)  # Hypothesis prints the arguments of a failing example
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

    def __repr__(self) -> str:
        return f"World({self.database})"

    def headers(self, viewer: str) -> dict[str, str]:
        user_id = self.people[viewer]
        headers = {"X-Request-ID": REQUEST_ID}
        if user_id is not None:
            headers["Authorization"] = f"Bearer {token_for(user_id)}"
        return headers

    async def ask(self, app: str, document: str, variables: dict[str, Any], viewer: str) -> Answer:
        self.complaints.records.clear()
        response = await self.clients[app].post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers=self.headers(viewer),
        )
        troubles = [f"{r.name}: {r.getMessage()}" for r in self.complaints.records]
        # Every connection an operation took is back soon after its answer is out. Not at
        # once: after a field error graphql-core answers while siblings may still read,
        # now and then (``out_at_answer``; seen on both databases, not reproducibly).
        pool: Any = self.engine.sync_engine.pool
        out_at_answer = pool.checkedout()
        for _ in range(100):
            if not pool.checkedout():
                break
            await asyncio.sleep(0.01)
        else:
            troubles.append(f"{pool.checkedout()} connections not given back")
        path = self.recorders[app].last
        return Answer(response.status_code, response.content, path, troubles, out_at_answer)

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
        self.compile(document)
        expected = await self.ask("generic", document, variables, viewer)
        assert expected.path in (GENERIC, REFUSED), expected.path
        TALLY.count(self.database, "generic", expected.path)
        where = f"on {self.database} for the {viewer}\ndocument: {document}\n{variables}"
        found: list[Differing | Trouble] = [
            Trouble(f"graphql-core: {t} {where}") for t in expected.troubles
        ]
        for app in ("compiled", "sql"):
            got = await self.ask(app, document, variables, viewer)
            found += [Trouble(f"the {app} app ({got.path}): {t} {where}") for t in got.troubles]
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

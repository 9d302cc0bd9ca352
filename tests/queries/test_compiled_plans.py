"""Compiled plans answer exactly what graphql-core answers, or hand the request back.

Every operation below runs twice for each of several viewers of seeded data: on an app
with plans off (graphql-core alone), and on one with plans on, asked twice so that the
second answer comes from the compiled plan. The JSON must be the same, byte for byte.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import parse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.graphiql import DEFAULT_QUERY
from bench.queries import ORDER_CENTER_PAGE, ORDER_DETAIL
from db.engine import create_session_factory
from db.models import Order, Product, Review
from db.seed import SeedSize, seed_database
from resolvers.ids import to_global_id
from schema.cost import CostModel, operation_cost
from schema.definition import schema
from schema.limits import Limits
from schema.plans import NotCompilable, OneOf, Plans, Selection, compile_plan
from tests.conftest import StatementCounter, token_for
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

SIZE = SeedSize(users=8, orders_per_user=9, shops=3, products_per_shop=12)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> list[str]:
    """The README's example queries (its mutations change data: not compiled anyway)."""
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if b.lstrip().startswith("query")]


SHAPES = """
fragment Line on OrderItem { title quantity unitPrice { amount } }
fragment Card on Order {
  number
  items { ...Line product { ... on Product { id title } } }
  ... on Order { status }
}
query Shapes($n: Int!, $after: String, $search: String) {
  me: viewer {
    __typename
    id
    recent: orders(first: $n, after: $after) {
      edges { cursor node { ...Card __typename shipment { __typename carrier } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    older: orders(last: 2) { edges { node { number placedAt } } }
    found: orders(first: 3, filter: { search: $search }) { totalCount }
    toShip: orders(first: 3, filter: { tab: TO_SHIP, status: [AWAITING_SHIPMENT, IN_TRANSIT] }) {
      totalCount edges { node { number tab } }
    }
    missing: order(number: "NO-SUCH-ORDER") { id }
    paymentMethods { id brand last4 expMonth expYear isDefault }
    payments(first: 5) { edges { node { id status amount { amount currencyCode } } } }
    taggedItems(first: 5) { totalCount edges { node { id product { title } } } }
    recentlyViewed(first: 5) { edges { node { viewedAt product { id title } } } }
    recommendations(first: 3) { edges { cursor node { id score reason } } }
  }
}
"""

OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "page": (ORDER_CENTER_PAGE, {"first": 20}),
    "graphiql-default": (DEFAULT_QUERY, {}),
    "shapes": (SHAPES, {"n": 4, "search": "a"}),
    **{f"readme-{i}": (q, {}) for i, q in enumerate(readme_queries())},
}


class Pair:
    """The same database behind an app with plans and one without."""

    def __init__(self, apps: Apps, *, sql_plans: bool = True) -> None:
        self.apps = apps
        self.plain_app = apps.app(make_settings(compiled_plans=False))
        self.planned_app = apps.app(make_settings(compiled_plans=True, sql_plans=sql_plans))

    @property
    def plans(self) -> Plans:
        plans: Plans = self.planned_app.state.plans
        return plans

    async def post(
        self, app: Starlette, query: str, variables: dict[str, Any], user_id: int | None
    ) -> httpx.Response:
        client = await self.apps.client(app)
        headers = {} if user_id is None else {"Authorization": f"Bearer {token_for(user_id)}"}
        return await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def both(
        self, query: str, variables: dict[str, Any], user_id: int | None
    ) -> tuple[bytes, bytes]:
        """The generic answer, and the plan's answer (the second on the planned app)."""
        generic = await self.post(self.plain_app, query, variables, user_id)
        await self.post(self.planned_app, query, variables, user_id)
        planned = await self.post(self.planned_app, query, variables, user_id)
        assert generic.status_code == planned.status_code
        return generic.content, planned.content


@pytest.fixture
async def seeded(engine: AsyncEngine) -> list[int]:
    await seed_database(engine, size=SIZE, rng_seed=7, now=NOW)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        buyers = (await session.execute(select(Order.user_id).distinct())).scalars().all()
    return sorted(buyers)[:5]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_a_plan_answers_exactly_what_graphql_core_answers(
    apps: Apps, seeded: list[int], name: str
) -> None:
    query, variables = OPERATIONS[name]
    pair = Pair(apps)
    for user_id in seeded:
        generic, planned = await pair.both(query, variables, user_id)
        assert b'"errors"' not in generic, generic[:500]
        assert planned == generic
    # Every request but the first came from the plan; none was handed back.
    assert (pair.plans.answered, pair.plans.declined) == (2 * len(seeded) - 1, 0)


async def test_order_detail_by_number_from_a_plan(apps: Apps, engine: AsyncEngine) -> None:
    await seed_database(engine, size=SIZE, rng_seed=7, now=NOW)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        orders = (await session.execute(select(Order).order_by(Order.id).limit(6))).scalars()
        wanted = [(o.user_id, o.number) for o in orders]
    pair = Pair(apps)
    for user_id, number in wanted:
        generic, planned = await pair.both(ORDER_DETAIL, {"number": number}, user_id)
        assert b'"errors"' not in generic
        assert b'"order":null' not in generic  # the order is there, and the plan shows it
        assert planned == generic
    assert pair.plans.answered == 2 * len(wanted) - 1


PRODUCT_REVIEWS = """
query Reviews($id: ID!, $after: String) {
  product(id: $id) { title rating { average count }
    reviews(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id rating text postedAt editedAt reviewerName } } } }
}
"""
TO_REVIEW = """
query ToReview { viewer { orderTabs { tab count }
  orders(first: 5, filter: { tab: TO_REVIEW }) { totalCount edges { node { number tab
    items { title review { rating text reviewerName } product { rating { average count } } }
  } } } } }
"""


@pytest.mark.parametrize("sql_plans", [False, True], ids=["python-plan", "sql-plan"])
async def test_reviews_from_a_plan(
    apps: Apps, engine: AsyncEngine, seeded: list[int], sql_plans: bool
) -> None:
    sessions = create_session_factory(engine)
    async with sessions() as session:
        counted = select(Review.product_id).group_by(Review.product_id).order_by(Review.product_id)
        products = list((await session.execute(counted.limit(4))).scalars())
    assert products
    pair = Pair(apps, sql_plans=sql_plans)
    for product_id in products:
        variables: dict[str, Any] = {"id": to_global_id("Product", product_id), "after": None}
        for user_id in (None, seeded[0]):  # public: anonymous callers too
            generic, planned = await pair.both(PRODUCT_REVIEWS, variables, user_id)
            assert b'"errors"' not in generic, generic[:300]
            assert b'"reviewerName":"' in generic
            assert planned == generic
        end = orjson.loads(generic)["data"]["product"]["reviews"]["pageInfo"]["endCursor"]
        generic, planned = await pair.both(PRODUCT_REVIEWS, {**variables, "after": end}, None)
        assert planned == generic
    for user_id in seeded:
        generic, planned = await pair.both(TO_REVIEW, {}, user_id)
        assert b'"errors"' not in generic
        assert planned == generic
    assert pair.plans.declined == 0


@pytest.mark.parametrize(
    ("query", "variables", "user_id"),
    [
        # No viewer: the resolver raises UNAUTHENTICATED.
        ("query V { viewer { handle } }", {}, None),
        # A page size over the limit: BAD_USER_INPUT from the resolver.
        ("query P($n: Int) { viewer { orders(first: $n) { totalCount } } }", {"n": 5000}, 1),
        # A cursor of another list.
        (
            'query C { viewer { orders(first: 1, after: "bm90LWEtY3Vyc29y") { totalCount } } }',
            {},
            1,
        ),
        # Variables that do not coerce.
        ("query P($n: Int) { viewer { orders(first: $n) { totalCount } } }", {"n": "x"}, 1),
    ],
)
async def test_off_the_happy_path_the_generic_executor_answers(
    apps: Apps, seeded: list[int], query: str, variables: dict[str, Any], user_id: int | None
) -> None:
    pair = Pair(apps)
    # The plan exists: the same document answered cleanly once before.
    good = {"n": 1} if "$n" in query else {}
    await pair.post(pair.planned_app, query, good, seeded[0])
    if "after:" not in query:
        assert pair.plans.get(query, None) is not None
    generic = await pair.post(pair.plain_app, query, variables, user_id)
    planned = await pair.post(pair.planned_app, query, variables, user_id)
    assert b'"errors"' in generic.content
    assert (planned.status_code, planned.content) == (generic.status_code, generic.content)


async def test_a_declined_request_spends_the_budget_once(apps: Apps, seeded: list[int]) -> None:
    query = "query P($after: String) { viewer { orders(first: 2, after: $after) { totalCount } } }"
    app = apps.app(make_settings())
    spent: list[int] = []
    budget = app.state.budget

    class Counting:
        async def spend(self, key: str, cost: int) -> Any:
            spent.append(cost)
            return await budget.spend(key, cost)

    app.state.budget = Counting()
    client = await apps.client(app)
    headers = {"Authorization": f"Bearer {token_for(seeded[0])}"}

    async def post(after: str | None) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"after": after}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    await post(None)  # graphql-core answers, and the plan is compiled
    await post(None)  # the plan answers
    assert (app.state.plans.answered, len(spent)) == (1, 2)
    # The plan spends, then its resolver refuses the cursor: graphql-core answers the
    # error without spending again.
    body = await post("bm90LWEtY3Vyc29y")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert app.state.plans.declined == 1
    assert len(spent) == 3


async def test_a_plan_runs_the_same_statements_as_graphql_core(
    apps: Apps, seeded: list[int], count_statements: StatementCounter
) -> None:
    # Plans made in Python; on PostgreSQL, tests/queries/test_sql_plans.py covers the
    # plans the database answers in one statement.
    pair = Pair(apps, sql_plans=False)
    for first in (1, 5, 9):
        variables = {"first": first}
        count_statements.reset()
        await pair.post(pair.plain_app, ORDER_CENTER_PAGE, variables, seeded[0])
        generic = sorted(count_statements.statements)
        await pair.post(pair.planned_app, ORDER_CENTER_PAGE, variables, seeded[0])
        count_statements.reset()
        await pair.post(pair.planned_app, ORDER_CENTER_PAGE, variables, seeded[0])
        assert sorted(count_statements.statements) == generic
        # 15, and two for returns: availableActions reads the delivered orders' returns
        # and, when there are some, their lines (REQUEST_RETURN counts units left).
        assert len(generic) <= 17
    assert pair.plans.answered == 5


def _compile(query: str) -> None:
    compile_plan(schema, query, None, Limits())


@pytest.mark.parametrize(
    "query",
    [
        "query { viewer { handle @include(if: true) } }",
        "query { __schema { queryType { name } } }",
        "mutation { clearRecentlyViewed { cleared } }",
    ],
)
def test_what_plans_do_not_do_is_left_to_graphql_core(query: str) -> None:
    with pytest.raises(NotCompilable):
        _compile(query)


def test_an_interface_is_completed_with_each_types_own_selection() -> None:
    plan = compile_plan(
        schema,
        'query { node(id: "x") { __typename ... on Order { number } ...F } '
        "viewer { ... on User { handle } ...F } } "
        "fragment F on Node { id ... on Product { title } }",
        None,
        Limits(),
    )
    node, viewer = plan.root.steps
    assert isinstance(node.completion, OneOf)
    by_name = node.completion.by_name
    assert "Order" in by_name
    assert "OrderItem" not in by_name  # a type with a global id that is not a Node
    assert by_name["Order"].keys == ("__typename", "number", "id")
    assert by_name["Product"].keys == ("__typename", "id", "title")
    assert by_name["User"].keys == ("__typename", "id")
    # A fragment on the interface applies to the concrete type; one on another type not.
    assert isinstance(viewer.completion, Selection)
    assert viewer.completion.keys == ("handle", "id")


async def test_a_document_is_compiled_once_and_the_cache_is_bounded(apps: Apps) -> None:
    plans = Plans(schema, Limits(), max_plans=2)
    queries = [f"query Q{i} {{ viewer {{ handle }} }}" for i in range(3)]
    for query in queries:
        assert plans.learn(query, None) is not None
    assert len(plans) == 2
    assert not plans.knows(queries[0], None)
    assert plans.get(queries[2], None) is not None
    introspection = "query { __schema { queryType { name } } }"
    assert plans.learn(introspection, None) is None
    assert plans.knows(introspection, None)


async def test_plans_off_means_graphql_core_only(apps: Apps, seeded: list[int]) -> None:
    app = apps.app(make_settings(compiled_plans=False))
    assert app.state.plans is None
    pair = Pair(apps)
    product_query = "query P($id: ID!) { product(id: $id) { title } }"
    sessions = create_session_factory(apps.engine)
    async with sessions() as session:
        product_id = (await session.execute(select(Product.id).limit(1))).scalar_one()
    variables = {"id": to_global_id("Product", product_id)}
    generic, planned = await pair.both(product_query, variables, seeded[0])
    assert planned == generic
    assert pair.plans.answered == 1


def test_costs_are_remembered_by_the_variables_that_size_the_operation() -> None:
    query = (
        "query P($n: Int, $s: String) { viewer { orders(first: $n, filter: {search: $s}) "
        "{ totalCount edges { node { items { title } } } } } }"
    )
    plan = compile_plan(schema, query, None, Limits())
    assert plan.sizing == {"n"}
    for n, text in [(5, "shoe"), (5, "hat"), (7, "hat"), (None, "x" * 10_000)]:
        variables = {"n": n, "s": text}
        expected = operation_cost(schema._schema, parse(query), None, variables, CostModel())
        assert plan.cost(variables) == expected
    # One entry per page size, not per search text.
    assert len(plan.costs) == 3
    for n in range(100):
        plan.cost({"n": n})
    assert len(plan.costs) == 64

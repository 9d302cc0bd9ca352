"""A product that sold out or went off sale after the list was computed is not shown.

Checked on every path that answers ``viewer.recommendations``: graphql-core's generic
executor, the compiled plan answering in Python, and (on PostgreSQL) the SQL plan that
the database answers in one statement. All three must agree, byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from db.engine import SessionFactory, create_session_factory
from db.models import Product, User
from tests.conftest import token_for
from tests.factories import make_product, make_recommendation, make_shop, make_user
from tests.security.conftest import Apps, make_settings
from tests.security.conftest import apps as apps  # the fixture

QUERY = """
query Picks($n: Int) {
  viewer {
    recommendations(first: $n) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id score reason product { id title } } }
    }
  }
}
"""


async def _world(engine: AsyncEngine) -> tuple[SessionFactory, User, dict[str, Product]]:
    sessions = create_session_factory(engine)
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = {
        name: await make_product(sessions, shop=shop, title=name)
        for name in ("kept", "sold out", "off sale", "also kept")
    }
    for score, name in enumerate(products, start=1):
        await make_recommendation(sessions, user=buyer, product=products[name], score=score / 10)
    return sessions, buyer, products


async def _set(sessions: SessionFactory, product: Product, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(Product).where(col(Product.id) == product.id).values(**values))
        await session.commit()


async def _answers(apps: Apps, user: User, n: int) -> list[bytes]:
    """The same query through each path this database has."""
    assert user.id is not None
    headers = {"Authorization": f"Bearer {token_for(user.id)}"}
    body = {"query": QUERY, "variables": {"n": n}}
    paths = [
        make_settings(compiled_plans=False),  # graphql-core
        make_settings(compiled_plans=True, sql_plans=False),  # compiled plan, in Python
    ]
    if apps.engine.dialect.name == "postgresql":
        paths.append(make_settings(compiled_plans=True, sql_plans=True))  # one SQL statement
    answers = []
    for settings in paths:
        app = apps.app(settings)
        client = await apps.client(app)
        await client.post("/graphql", json=body, headers=headers)  # compiles a plan
        answer = await client.post("/graphql", json=body, headers=headers)
        assert b'"errors"' not in answer.content, answer.content[:400]
        answers.append(answer.content)
    if apps.engine.dialect.name == "postgresql":
        sql_app = apps.built[-1]
        assert sql_app.state.plans.answered >= 1
    return answers


def _titles(answer: bytes) -> list[str]:
    edges = orjson.loads(answer)["data"]["viewer"]["recommendations"]["edges"]
    return [edge["node"]["product"]["title"] for edge in edges]


@pytest.mark.parametrize("n", [1, 2, 10])
async def test_sold_out_and_off_sale_products_vanish_at_read_on_every_path(
    apps: Apps, engine: AsyncEngine, n: int
) -> None:
    sessions, buyer, products = await _world(engine)
    before = await _answers(apps, buyer, n)
    assert len(set(before)) == 1
    assert _titles(before[0]) == ["also kept", "off sale", "sold out", "kept"][:n]

    # After the list was computed: one sells out, one is taken off sale.
    await _set(sessions, products["sold out"], stock=0)
    await _set(sessions, products["off sale"], on_sale=False)
    after = await _answers(apps, buyer, n)
    assert len(set(after)) == 1, after
    assert _titles(after[0]) == ["also kept", "kept"][:n]
    connection = orjson.loads(after[0])["data"]["viewer"]["recommendations"]
    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is (n < 2)

    # Back in stock and on sale: shown again, without a recompute.
    await _set(sessions, products["sold out"], stock=3)
    await _set(sessions, products["off sale"], on_sale=True)
    again = await _answers(apps, buyer, n)
    assert again == before

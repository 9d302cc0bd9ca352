"""A loader's statement text does not depend on how many keys it is asked for, on PostgreSQL.

asyncpg prepares every text it has not seen on a connection; with a placeholder per
key, each batch size was a text (and a prepare) of its own. PostgreSQL binds the keys
as one array; SQLite, which has no arrays, keeps a placeholder per key.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory
from resolvers.context import Context
from tests.conftest import GraphQLClient, StatementCounter
from tests.factories import make_order, make_product, make_shop, make_tag, make_user
from tests.queries.test_order_center_page import PAGE_QUERY, _seed_orders

SIZES = (1, 2, 3, 7)


def texts_per_size(engine: AsyncEngine) -> int:
    """How many statement texts the sizes should take on this database."""
    return 1 if engine.dialect.name == "postgresql" else len(SIZES)


async def test_by_id_and_by_parent_loaders_keep_one_text_and_find_the_right_rows(
    engine: AsyncEngine, sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(max(SIZES))]
    orders = [
        await make_order(sessions, buyer=buyer, shop=shop, products=products[: i + 1])
        for i in range(max(SIZES))
    ]
    product_ids = [p.id for p in products]
    order_ids = [o.id for o in orders]
    missing = 10_000_000
    by_id: list[str] = []
    by_parent: list[str] = []
    for size in SIZES:
        loaders = Context.for_request(viewer_id=None, sessions=sessions).loaders
        wanted = [*product_ids[:size][::-1], missing]
        count_statements.reset()
        rows = await loaders.product_by_id.load_many(wanted)
        by_id.extend(count_statements.statements)
        assert [row.id if row else None for row in rows] == [*wanted[:-1], None]

        count_statements.reset()
        items = await loaders.items_by_order_id.load_many(order_ids[:size])
        by_parent.extend(count_statements.statements)
        # Order i has the first i + 1 products, one line each, in id order.
        assert [[i.product_id for i in lines] for lines in items] == [
            product_ids[: i + 1] for i in range(size)
        ]
    assert len(by_id) == len(by_parent) == len(SIZES)
    assert len(set(by_id)) == texts_per_size(engine), by_id
    assert len(set(by_parent)) == texts_per_size(engine), by_parent


async def test_the_viewer_tag_loader_keeps_one_text(
    engine: AsyncEngine, sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    viewer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(max(SIZES))]
    for product in products[::2]:
        await make_tag(sessions, user=viewer, product=product)
    ids = [p.id for p in products]
    texts: list[str] = []
    for size in SIZES:
        loaders = Context.for_request(viewer_id=viewer.id, sessions=sessions).loaders
        count_statements.reset()
        tagged = await loaders.viewer_tagged_product.load_many(ids[:size])
        texts.extend(count_statements.statements)
        assert tagged == [i % 2 == 0 for i in range(size)]
    assert len(set(texts)) == texts_per_size(engine), texts


async def test_the_page_query_runs_the_same_texts_whatever_the_number_of_orders(
    engine: AsyncEngine,
    gql: GraphQLClient,
    sessions: SessionFactory,
    count_statements: StatementCounter,
) -> None:
    user_id = await _seed_orders(sessions, 20)
    # Answered once, the document has its compiled plan (on PostgreSQL: one statement,
    # the page size one of its parameters).
    await gql.query(PAGE_QUERY, {"first": 2}, user_id=user_id)
    texts: dict[int, list[str]] = {}
    for shown in (1, 5, 20):
        count_statements.reset()
        data = await gql.query(PAGE_QUERY, {"first": shown}, user_id=user_id)
        assert len(data["viewer"]["orders"]["edges"]) == shown
        texts[shown] = sorted(count_statements.statements)
    assert len(texts[1]) == len(texts[5]) == len(texts[20])
    if engine.dialect.name == "postgresql":
        # Every statement is prepared once per connection, not once per page size.
        assert texts[1] == texts[5] == texts[20]


async def test_loaded_rows_answer_by_column_name_and_position(sessions: SessionFactory) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    product = await make_product(sessions, shop=shop)
    order = await make_order(sessions, buyer=buyer, shop=shop, products=[product])
    context = Context.for_request(viewer_id=buyer.id, sessions=sessions)
    [row] = await context.loaders.order_by_id.load_many([order.id])
    # Named tuples (not SQLAlchemy rows): the model's names, in the table's column order.
    assert isinstance(row, tuple)
    assert (row.id, row.user_id, row.shop_id, row.number) == (
        order.id,
        buyer.id,
        shop.id,
        order.number,
    )
    assert row[0] == row.id
    items = await context.loaders.items_by_order_id.load(order.id)
    assert [(i.product_id, i.order_id) for i in items] == [(product.id, order.id)]
    await context.loaders.scheduler.aclose()


async def test_rows_a_parent_loader_fetched_answer_by_id_lookups_without_a_query(
    sessions: SessionFactory, count_statements: StatementCounter
) -> None:
    buyer = await make_user(sessions)
    shop = await make_shop(sessions)
    products = [await make_product(sessions, shop=shop) for _ in range(2)]
    order = await make_order(sessions, buyer=buyer, shop=shop, products=products)
    loaders = Context.for_request(viewer_id=buyer.id, sessions=sessions).loaders
    items = await loaders.items_by_order_id.load(order.id)
    count_statements.reset()
    found = await loaders.order_item_by_id.load_many([i.id for i in items])
    assert found == items
    assert count_statements.count == 0
    # What the request forgets (after changing it) is read again.
    loaders.order_item_by_id.clear(items[0].id)
    again = await loaders.order_item_by_id.load(items[0].id)
    assert again == items[0]
    assert count_statements.count == 1
    await loaders.scheduler.aclose()

"""The engine learns only from the tables the API writes; the seed's hidden intent is
out of its reach.

The seed knows why every order was placed (``IntentLog``: followed creators, video
journeys, consumables); none of it is stored. Here the engine's reads are recorded,
and a copy of only the API's tables gives the very same lists.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Recommendation, metadata
from db.seed import IntentLog, SeedSize, seed_database
from resolvers.recommendations.batch import recompute_everyone
from resolvers.recommendations.data import load_everything
from resolvers.recommendations.engine import build_model, recommend

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SIZE = SeedSize(users=40, orders_per_user=15)
# What buyers' actions and the catalog write through the API (and nothing else).
API_TABLES = {
    "users", "shops", "products", "orders", "order_items", "tagged_items", "product_views"
}  # fmt: skip
# Dismissals live in the list itself; the engine reads them only to exclude.
API_TABLES_AND_THE_LIST = API_TABLES | {"recommendations"}
ENGINE_MODULES = ("engine", "data", "refresher", "batch", "store", "config", "requests")


async def _lists(sessions: SessionFactory) -> dict[int, list[tuple[int, str]]]:
    products, behaviour, users = await load_everything(sessions)
    model = build_model(products, behaviour, NOW.timestamp())
    return {
        user: [(p.product_id, p.reason.value) for p in recommend(model, own, NOW.timestamp())]
        for user, own in behaviour.by_user(users)
    }


async def test_the_engine_reads_only_the_api_tables(
    engine: AsyncEngine, sessions: SessionFactory
) -> None:
    log = IntentLog()
    await seed_database(engine, size=SIZE, now=NOW, intent_log=log)
    assert log.orders  # the hidden intent exists, in memory only
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await recompute_everyone(sessions, now=NOW)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    read = {
        table
        for statement in statements
        if statement.lstrip().upper().startswith("SELECT")
        for table in re.findall(r"\b(?:FROM|JOIN)\s+\"?(\w+)", statement, flags=re.IGNORECASE)
    }
    assert read, statements
    assert read <= API_TABLES_AND_THE_LIST, read - API_TABLES_AND_THE_LIST


async def test_a_copy_of_the_api_tables_alone_gives_the_same_lists(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    await seed_database(engine, size=SIZE, now=NOW, intent_log=IntentLog())
    copy = create_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        async with copy.begin() as conn:
            await conn.run_sync(metadata.create_all)
        for table in metadata.sorted_tables:
            if table.name not in API_TABLES:
                continue
            async with engine.connect() as source:
                rows = [dict(r._mapping) for r in await source.execute(select(table))]
            if rows:
                async with copy.begin() as conn:
                    await conn.execute(insert(table), rows)
        # The seed's placeholder lists hold dismissals, which only exclude: without them
        # on both sides, nothing but the API's tables is left to learn from.
        async with engine.begin() as conn:
            await conn.execute(delete(Recommendation))
        original = await _lists(sessions)
        assert original
        assert await _lists(create_session_factory(copy)) == original
    finally:
        await copy.dispose()


def test_no_engine_module_imports_the_seed() -> None:
    package = Path(__file__).parents[2] / "resolvers" / "recommendations"
    for name in ENGINE_MODULES:
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert not any(m.startswith("db.seed") for m in imported), (name, imported)

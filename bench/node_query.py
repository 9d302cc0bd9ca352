"""In-process cost of ``node``/``nodes`` requests: statements and time, per execution path.

Seeds a database (SQLite always; PostgreSQL when ORDERCENTER_BENCH_DATABASE_URL or
ORDERCENTER_TEST_DATABASE_URL is set) and asks, as a buyer (of the first order), for
objects of every Node type by global id (theirs, somebody else's: null, and public
ones): ``node(id)`` one at a time, and ``nodes(ids)`` 20 at a time. Each request runs
through graphql-core (the generic executor), the compiled plan in Python and the compiled
plan answered by the database in one statement (schema/sql_nodes.py), in interleaved
rounds so that the machine's noise falls on all three alike. Prints statements per
request (mean over every id asked), each path's total time and its ratio to the Python
plan's.

    .venv/bin/python -m bench.node_query
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import event, select

from bench.databases import configured_postgres, throwaway_postgres, throwaway_sqlite
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade
from db.models import Order
from db.seed import SeedSize, seed_database
from resolvers.context import Context
from resolvers.ids import to_global_id
from resolvers.loaders import relation_of
from resolvers.policy import NODE_SIGHTS
from schema.definition import schema
from schema.limits import Limits
from schema.plans import compile_plan

REQUESTS = 200  # per path and document
ROUNDS = 10
SIZE = SeedSize(users=20, orders_per_user=20)

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on User { handle displayName }
    ... on Order { number status paymentStatus availableActions total { amount currencyCode }
                   items { title quantity product { id title } } }
    ... on OrderEvent { toStatus occurredAt }
    ... on Shop { name }
    ... on Product { title price { amount currencyCode } viewerHasTagged }
    ... on Payment { paid: status amount { amount currencyCode } }
    ... on PaymentMethod { brand last4 }
    ... on Recommendation { score reason product { title } }
  }
}
"""
NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Order { number status total { amount currencyCode } }
    ... on Product { title price { amount currencyCode } }
    ... on Payment { paid: status }
    ... on Recommendation { score }
  }
}
"""
PATHS = ("generic", "python plan", "sql plan")


async def _ids(sessions: Any, buyer: int) -> list[str]:
    """Ids of every type: the buyer's rows first, then other people's, interleaved."""
    found: list[str] = []
    async with sessions() as session:
        for type_name, sight in NODE_SIGHTS.items():
            relation = relation_of(sight.loader)
            assert relation is not None
            model: Any = relation.model
            pks = (await session.execute(select(model.id).order_by(model.id).limit(6))).scalars()
            found += [to_global_id(type_name, int(pk)) for pk in pks]
    found.append(to_global_id("User", buyer))
    return found


async def _paths(
    document: str,
    variable_sets: list[dict[str, Any]],
    buyer: int,
    sessions: Any,
    dialect: str,
    statements: list[str],
) -> dict[str, tuple[float, float]]:
    """Each path's most statements per request and its total time for REQUESTS."""
    plan = compile_plan(schema, document, None, Limits())

    async def ask(path: str, variables: dict[str, Any]) -> Any:
        context = Context.for_request(viewer_id=buyer, sessions=sessions)
        if path == "generic":
            result = await schema.execute(
                document, variable_values=variables, context_value=context
            )
            if result.errors:
                raise SystemExit(f"failed: {result.errors}")
            return result.data
        answer, _ = await plan.run(context, variables, sql=dialect if path == "sql plan" else None)
        if answer is None or getattr(answer, "in_sql", False) != (path == "sql plan"):
            raise SystemExit(f"the {path} did not answer")
        return answer.data

    per_request: dict[str, list[int]] = {p: [] for p in PATHS}
    took = dict.fromkeys(PATHS, 0.0)
    for variables in variable_sets:  # warm-up, and the statements of each path
        answers = []
        for path in PATHS:
            statements.clear()
            answers.append(await ask(path, variables))
            per_request[path].append(len(statements))
        if len({repr(a) for a in answers[:2]}) != 1:
            raise SystemExit("the python plan answered otherwise than graphql-core")
    for round_number in range(ROUNDS):
        for path in PATHS if round_number % 2 == 0 else tuple(reversed(PATHS)):
            started = time.perf_counter()
            for at in range(REQUESTS // ROUNDS):
                await ask(path, variable_sets[(round_number * 20 + at) % len(variable_sets)])
            took[path] += time.perf_counter() - started
    return {p: (sum(per_request[p]) / len(variable_sets), took[p]) for p in PATHS}


async def measure(url: str, dialect: str) -> dict[str, dict[str, tuple[float, float]]]:
    engine = create_engine(url)
    await seed_database(engine, size=SIZE, rng_seed=7)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        first_order = select(Order.user_id).order_by(Order.id).limit(1)
        buyer = (await session.execute(first_order)).scalar_one()
    ids = await _ids(sessions, buyer)
    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):
            statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    requests = {
        "node": (NODE, [{"id": i} for i in ids]),
        "nodes (20 ids)": (NODES, [{"ids": (ids * 2)[at : at + 20]} for at in range(len(ids))]),
    }
    results = {
        name: await _paths(document, variable_sets, buyer, sessions, dialect, statements)
        for name, (document, variable_sets) in requests.items()
    }
    await engine.dispose()
    return results


async def main() -> None:
    found: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    async with throwaway_sqlite() as url:
        await asyncio.to_thread(upgrade, url)
        found["SQLite"] = await measure(url, "sqlite")
    pg_url = configured_postgres()
    if pg_url:
        async with throwaway_postgres(pg_url) as url:
            await asyncio.to_thread(upgrade, url)
            found["PostgreSQL"] = await measure(url, "postgresql")
    print(f"node/nodes by global id, in-process, {REQUESTS} requests per path, {ROUNDS} rounds")
    print(
        f"{'database':<11} {'request':<15} {'path':<12} {'stmts/req':>10} {'total s':>8} "
        f"{'vs python plan':>14}"
    )
    for database, by_request in found.items():
        for request, by_path in by_request.items():
            python_time = by_path["python plan"][1]
            for path, (most, seconds) in by_path.items():
                ratio = seconds / python_time
                print(
                    f"{database:<11} {request:<15} {path:<12} {most:>10.2f} {seconds:>8.2f} "
                    f"{ratio:>14.2f}"
                )
    if not pg_url:
        print("(PostgreSQL skipped: set ORDERCENTER_BENCH_DATABASE_URL to include it)")


if __name__ == "__main__":
    asyncio.run(main())

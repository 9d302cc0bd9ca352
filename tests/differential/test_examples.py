"""The operations a real Order Center app sends get byte-identical answers on every path.

Every read operation in ``examples/*.graphql`` (picked up by glob: a new file is covered
with no change here), the benchmark documents (bench/queries.py) and the README's queries
run for a buyer, a seller, an operator and a stranger, on SQLite and PostgreSQL, through
graphql-core, the compiled plan and the SQL plan. Their variables come from the seeded
world: every tab, page sizes in and out of range, real cursors of every list (so also a
cursor of the wrong list), forwards and backwards paging, searches, real ids of orders
of each viewer and of somebody else, ids of the wrong type and junk.

``ORDERCENTER_EXAMPLES_DIR`` points the glob elsewhere (another checkout's examples).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputType,
    GraphQLNonNull,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
    type_from_ast,
)

from app.vocabulary import COMPILED_PLAN, GENERIC, SQL_PLAN
from bench.queries import ORDER_CENTER_PAGE, ORDER_DETAIL
from resolvers.ids import from_global_id, to_global_id
from tests.differential.variables import PARSED
from tests.differential.world import VIEWERS, World

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(os.environ.get("ORDERCENTER_EXAMPLES_DIR") or ROOT / "examples")
MAX_VARIABLE_SETS = 40


def _is_read(text: str) -> bool:
    operations = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(o.operation is OperationType.QUERY for o in operations)


def _readme_queries() -> dict[str, str]:
    blocks = re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return {f"README-{i}": b for i, b in enumerate(blocks) if _is_read(b)}


def documents() -> dict[str, str]:
    found = {
        f"examples/{path.name}": path.read_text() for path in sorted(EXAMPLES.glob("*.graphql"))
    }
    found = {name: text for name, text in found.items() if _is_read(text)}
    return {
        **found,
        "bench-ORDER_CENTER_PAGE": ORDER_CENTER_PAGE,
        "bench-ORDER_DETAIL": ORDER_DETAIL,
        **_readme_queries(),
    }


# Documents the generated test found a path wrong on, kept as fixed regressions.
FOUND = {
    # The SQL plan's tab counts without `count`: a row per order, and PostgreSQL refused
    # the statement ("more than one row returned by a subquery").
    "found-tabs-without-count": "{ viewer { orderTabs { tab } } }",
}
DOCUMENTS = {**documents(), **FOUND}


def _ids_of(world: World, type_name: str) -> list[str]:
    return [i for i in world.ids if from_global_id(i)[0] == type_name]


def _candidates(world: World, name: str, input_type: GraphQLInputType) -> list[Any]:
    """Values worth trying for one variable, the most ordinary first."""
    required = isinstance(input_type, GraphQLNonNull)
    named = get_named_type(input_type)
    optional: list[Any] = [] if required else [None]
    lowered = name.lower()
    if isinstance(named, GraphQLEnumType):
        return [*optional, *named.values]
    if named.name == "ID":
        orders = _ids_of(world, "Order")
        picked = [*orders[:3], orders[-1], orders[-3]]
        return [*picked, _ids_of(world, "Product")[0], "x", *optional]
    if named.name == "Int":
        return [*optional, 3, 1, 0, 100, 101, -1]
    if named.name == "Boolean":
        return [*optional, True, False]
    if named.name == "String":
        if lowered in ("after", "before"):
            firsts = [found[min(1, len(found) - 1)] for found in world.cursors.values()]
            return [*optional, *firsts, "not a cursor"]
        if "search" in lowered:
            return [*optional, "Tea", world.numbers[0], "%", ""]
        return [*world.numbers[:3], "X" * 65, *optional]
    return optional or [None]


def variable_sets(world: World, text: str) -> list[dict[str, Any]]:
    """The ordinary set, each variable through its candidates, and paging both ways."""
    operation = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
    options: dict[str, list[Any]] = {}
    for definition in operation.variable_definitions or ():
        input_type: Any = type_from_ast(PARSED, definition.type)
        options[definition.variable.name.value] = _candidates(
            world, definition.variable.name.value, input_type
        )
    base = {name: values[0] for name, values in options.items()}
    sets = [base]
    for name, values in options.items():
        sets += [{**base, name: value} for value in values[1:]]
    orders = world.cursors["orders"]
    for size, cursor in itertools.product(("first", "last"), orders[1:3]):
        key = "after" if size == "first" else "before"
        if size in options and key in options:
            sets.append({**base, size: 2, key: cursor})
    unique = []
    for found in sets:
        cleaned = {k: v for k, v in found.items() if v is not None}
        if cleaned not in unique:
            unique.append(cleaned)
    return unique[:MAX_VARIABLE_SETS]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
async def test_every_path_answers_the_apps_operations_as_graphql_core(
    world: World, name: str
) -> None:
    text = DOCUMENTS[name]
    found = []
    for variables in variable_sets(world, text):
        for viewer in VIEWERS:
            found += await world.differences(text, variables, viewer)
    assert not found, f"{len(found)} differences; the first ones:\n\n" + "\n\n".join(
        str(f) for f in found[:3]
    )


def test_the_examples_are_picked_up() -> None:
    on_disk = sorted(EXAMPLES.glob("*.graphql"))
    for path in on_disk:
        text = path.read_text()
        assert (f"examples/{path.name}" in DOCUMENTS) == _is_read(text), path
    assert "bench-ORDER_CENTER_PAGE" in DOCUMENTS
    assert any(name.startswith("README-") for name in DOCUMENTS)


NODE_BY_ID = """
query NodeById($id: ID!) {
  node(id: $id) {
    __typename ... on Node { id }
    ... on User { handle displayName }
    ... on Order { number status availableActions paymentStatus total { amount currencyCode }
                   shop { name } items { title product { id viewerHasTagged } } }
    ... on OrderEvent { cursor toStatus actor order { number } }
    ... on Shop { handle name }
    ... on Product { title price { amount currencyCode } viewerHasTagged }
    ... on Payment { paid: status amount { amount } method { last4 } order { id } }
    ... on PaymentMethod { brand last4 isDefault }
    ...R
  }
}
fragment R on Recommendation { score reason product { title } basedOn { id } }
"""
NODES_BY_ID = """
query NodesById($ids: [ID!]!) {
  nodes(ids: $ids) { __typename ... on Order { id number } ... on Node { id } ...R }
  again: nodes(ids: $ids) { ... on Product { title } }
}
fragment R on Recommendation { score reason product { title } basedOn { id } }
"""


def _id_sample(world: World) -> list[str]:
    """The first two and the last id of every type that has global ids, and junk."""
    by_type: dict[str, list[str]] = {}
    for found in world.ids:
        by_type.setdefault(from_global_id(found)[0], []).append(found)
    picked = [i for ids in by_type.values() for i in {*ids[:2], ids[-1]}]
    return [*sorted(picked), "x", to_global_id("Order", 999_999)]


async def test_every_path_answers_node_and_nodes_of_every_type(world: World) -> None:
    """Objects of every Node type (and of the two types with ids that are not Nodes), for
    every viewer: visible ones, somebody else's (null) and junk (errors)."""
    sample = _id_sample(world)
    sets: list[tuple[str, dict[str, Any]]] = [(NODE_BY_ID, {"id": i}) for i in sample]
    valid = sample[:-2]
    sets += [(NODES_BY_ID, {"ids": ids}) for ids in (valid, sample[::-1], [sample[-1]], [])]
    found = []
    for text, variables in sets:
        for viewer in VIEWERS:
            found += await world.differences(text, variables, viewer)
    assert not found, f"{len(found)} differences; the first ones:\n\n" + "\n\n".join(
        str(f) for f in found[:3]
    )
    # The database answered them: every viewer's nodes, in one statement.
    for viewer in VIEWERS:
        answer = await world.ask("sql", NODES_BY_ID, {"ids": valid}, viewer)
        assert answer.path == SQL_PLAN, (viewer, answer.body[:300])


async def test_each_path_is_reached(world: World) -> None:
    """The comparisons above mean something only if the plans really answer: the page is
    the compiled plan's in Python, and the database's in SQL (PostgreSQL and SQLite)."""
    variables = {"first": 20}
    await world.differences(ORDER_CENTER_PAGE, variables, "buyer")
    compiled = await world.ask("compiled", ORDER_CENTER_PAGE, variables, "buyer")
    in_sql = await world.ask("sql", ORDER_CENTER_PAGE, variables, "buyer")
    generic = await world.ask("generic", ORDER_CENTER_PAGE, variables, "buyer")
    assert b'"errors"' not in generic.body, generic.body[:300]
    assert b'"number":"OC-' in generic.body
    assert (generic.path, compiled.path) == (GENERIC, COMPILED_PLAN)
    assert in_sql.path == SQL_PLAN

"""Generated read documents get byte-identical answers from every execution path.

hypothesis-graphql draws valid query documents from the live schema (bounded in depth and
size) whose arguments are the seeded world's own values (real global ids of every type,
order numbers, cursors, search terms, page sizes in and out of range) and some invalid
ones; then the arguments that page a connection get, mostly, a real cursor of that very
list and a size in range, and ``order(number:)`` a real number (tests/differential/
variables.py), so that most documents are answered rather than refused; some arguments
then travel as variables. Each document goes, for a buyer, a seller, an operator and a
stranger (not signed in), to graphql-core, to the compiled plan and to the SQL plan; the
whole HTTP answer (status and body: data, errors and extensions) must be the same bytes.
A path that declines (a document it cannot compile, a request it hands back) is counted,
and the run prints how many answers each path gave, so coverage is visible.

Examples: 60 per test (per database; each runs all four viewers) by default. Deeper:

    ORDERCENTER_DIFFERENTIAL_EXAMPLES=1000 .venv/bin/python -m pytest -q tests/differential

With ``CI=true`` the examples are derandomized (the same every run) and no example
database is kept.
"""

from __future__ import annotations

import os
from typing import Any

from graphql import DocumentNode, SelectionSetNode, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from resolvers.ids import to_global_id
from schema.definition import schema as live_schema
from tests.differential.variables import hoisted, retargeted
from tests.differential.world import VIEWERS, World, timestamps

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
EXAMPLES = int(os.environ.get("ORDERCENTER_DIFFERENTIAL_EXAMPLES", "60"))
SDL = live_schema.as_str()
MAX_DEPTH = 7
MAX_FIELDS = 120

_profile: dict[str, Any] = {
    "max_examples": EXAMPLES,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": IN_CI,
    "print_blob": True,
}
if IN_CI:
    _profile["database"] = None
settings.register_profile("ordercenter-differential", **_profile)
DIFFERENTIAL = settings(settings.get_profile("ordercenter-differential"))

JUNK_IDS = [
    "",
    "x",
    to_global_id("Order", 999_999),
    to_global_id("Product", 0),
    "T3JkZXI6MQ==",  # Order:1, padded: not our spelling
    "Order:1",
]
JUNK_TEXTS = ["", "WyJvcmRlcnMiLDEsMl0", "not a cursor", "\\", "x" * 100]
PAGE_SIZES = [0, 1, 2, 3, 5, 20, 100, 101, -1]


def _shape(selection_set: SelectionSetNode | None, depth: int = 1) -> tuple[int, int]:
    """(depth, number of selections) of a selection set."""
    if selection_set is None:
        return 0, 0
    deepest, count = depth, 0
    for selection in selection_set.selections:
        count += 1
        inner = getattr(selection, "selection_set", None)
        d, c = _shape(inner, depth + 1)
        deepest, count = max(deepest, d), count + c
    return deepest, count


def _bounded(document: DocumentNode) -> bool:
    depth, count = _shape(document.definitions[0].selection_set)  # type: ignore[attr-defined]
    return depth <= MAX_DEPTH and count <= MAX_FIELDS


def documents(world: World) -> st.SearchStrategy[DocumentNode]:
    """Query documents over the world's values, bounded; half of them under ``viewer``
    alone, half from any root field (node, nodes, product and viewer)."""
    cursors = sorted({c for found in world.cursors.values() for c in found})
    custom = {
        "ID": st.one_of(st.sampled_from(world.ids), st.sampled_from(JUNK_IDS)).map(nodes.String),
        "String": st.one_of(
            st.sampled_from(world.numbers),
            st.sampled_from(cursors),
            st.sampled_from(world.texts),
            st.sampled_from(JUNK_TEXTS),
        ).map(nodes.String),
        "Int": st.sampled_from(PAGE_SIZES).map(nodes.Int),
        "DateTime": st.sampled_from([*timestamps(), "not an instant"]).map(nodes.String),
        "Decimal": st.sampled_from(["0", "1.50", "x"]).map(nodes.String),
    }
    identity: Any = lambda document: document  # noqa: E731 - hypothesis-graphql's print_ast
    under_viewer = queries(SDL, fields=["viewer"], custom_scalars=custom, print_ast=identity)
    anywhere = queries(SDL, custom_scalars=custom, print_ast=identity)
    return st.one_of(under_viewer, anywhere).filter(_bounded)


@DIFFERENTIAL
@given(data=st.data())
async def test_every_path_answers_generated_documents_as_graphql_core(
    world: World, data: st.DataObject
) -> None:
    generated = data.draw(documents(world), label="document")
    document = data.draw(retargeted(generated, world.cursors, world.numbers), label="retargeted")
    # Some arguments travel as variables: plans read those another way.
    text, variables = data.draw(hoisted(document), label="as sent")
    found = []
    for viewer in VIEWERS:
        found += await world.differences(text, variables, viewer)
    assert not found, "\n\n".join(str(f) for f in found)


def test_documents_are_bounded_by_depth_and_selections() -> None:
    document = parse(
        "{ viewer { handle orders { edges { node { number } } } } node(id: 1) { id } }"
    )
    assert _shape(document.definitions[0].selection_set) == (5, 8)  # type: ignore[attr-defined]
    assert _bounded(document)
    deep = (
        "{ viewer { " + "orders { edges { node { items { product { shop { id } } } } } } }" + " }"
    )
    assert not _bounded(parse(deep))

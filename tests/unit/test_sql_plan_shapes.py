"""An SQL plan's statement is written per combination of the optional parameters a
request sends (schema.sql_plans.SqlPlan.statement_for): kept, and bounded in number."""

from __future__ import annotations

from schema.definition import schema
from schema.limits import Limits
from schema.plans import compile_plan
from schema.sql_plans import MAX_SHAPES, SqlPlan

ORDERS = """
query Orders($first: Int, $after: String, $filter: OrderFilter) {
  viewer { orders(first: $first, after: $after, filter: $filter) {
    totalCount edges { node { number } } } }
}
"""


def _plan() -> SqlPlan:
    plan = compile_plan(schema, ORDERS, None, Limits()).sql_plan("postgresql")
    assert plan is not None
    return plan


def test_null_tests_are_written_as_the_constants_the_values_make_them() -> None:
    plan = _plan()
    assert len(plan.tested) >= 5  # statuses, dates, search, listing tab, cursor
    nothing = dict.fromkeys(plan.parameters)
    folded = plan.statement_for(nothing)
    assert " IS NULL" not in folded.text
    assert "(true OR " in folded.text
    one_term = {**nothing, plan.tested[0]: "a value"}
    other = plan.statement_for(one_term)
    assert other is not folded
    assert "(false OR " in other.text
    assert " IS NULL" not in other.text
    # The same combination again: the statement already written.
    assert plan.statement_for(dict(nothing)) is folded
    assert plan.statement_for({**one_term, plan.tested[0]: "another"}) is other


def test_the_page_direction_is_written_as_a_constant() -> None:
    plan = _plan()
    assert len(plan.switches) == 1  # first/after or last/before
    (direction,) = plan.switches
    forwards = plan.statement_for({**dict.fromkeys(plan.parameters), direction: True})
    backwards = plan.statement_for({**dict.fromkeys(plan.parameters), direction: False})
    for statement in (forwards, backwards):
        assert f":{direction} " not in statement.text
        assert "AS boolean)" not in statement.text
    assert "WHERE true AND" in forwards.text
    assert "WHERE NOT true AND" in forwards.text  # the other way, left out by the planner
    assert "WHERE false AND" in backwards.text
    # Not a boolean (the resolvers would refuse it first): left a parameter.
    unknown = plan.statement_for({**dict.fromkeys(plan.parameters), direction: None})
    assert f"CAST(:{direction} AS boolean)" in unknown.text


def test_past_the_bound_the_statement_with_its_tests_answers() -> None:
    plan = _plan()
    combinations = [
        {name: (None if (n >> i) & 1 else "x") for i, name in enumerate(plan.tested)}
        for n in range(MAX_SHAPES + 3)
    ]
    written = [plan.statement_for({**dict.fromkeys(plan.parameters), **c}) for c in combinations]
    assert len(plan.shapes) == MAX_SHAPES
    assert all(statement is not plan.statement for statement in written[:MAX_SHAPES])
    assert all(statement is plan.statement for statement in written[MAX_SHAPES:])


def test_sqlite_statements_are_left_as_written() -> None:
    plan = compile_plan(schema, ORDERS, None, Limits()).sql_plan("sqlite")
    assert plan is not None
    assert plan.tested == ()
    assert plan.statement_for(dict.fromkeys(plan.parameters)) is plan.statement

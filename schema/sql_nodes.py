"""``node(id)`` and ``nodes(ids)`` in an SQL plan: objects of any Node type, in one statement.

The type of each object is in its global id, so the request's parameters say it before
the statement runs: the statement has a branch per Node type (a ``CASE`` on the decoded
type), and only the branch of the type asked for reads anything. Each branch is that
type's selection over its row (the same rules as everywhere in schema.sql_plans), where
the row is the viewer's to see by the type's ``policy.NODE_SIGHTS`` declaration, the one
``resolvers.nodes.load_node`` decides with. A type with a global id that is not a Node in
the API (OrderItem, TaggedItem) answers null, as ``Query.node`` does.

A malformed id, or too many of them, is refused by the resolvers' own checks
(``from_global_id``, ``resolvers.nodes.decode_ids``) while binding: the Python plan then
answers, and graphql-core with it (the same errors).
"""

# ruff: noqa: S608
# Made of schema.sql_plans' templates, table and column names from the models and the
# policy's declarations; the ids are bound parameters.

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from graphql.execution.values import get_argument_values

from db.models import Order
from resolvers.ids import from_global_id
from resolvers.loaders import relation_of
from resolvers.nodes import decode_ids
from resolvers.policy import NODE_SIGHTS, Sight
from schema.plans import ListOf, OneOf
from schema.sql_plans import (
    Json,
    NotExpressible,
    Row,
    _literal,
    _table,
    json_array_agg,
    nested,
    once_per_request,
    order_seller,
    sqlite,
    typed,
)

if TYPE_CHECKING:
    from graphql.execution.values import VariableValues

    from resolvers.context import Context
    from schema.plans import FieldStep
    from schema.sql_plans import _Compiler


def visible(c: _Compiler, sight: Sight, row: str) -> str:
    """policy.may_see_node of the row under alias ``row``, as an SQL condition."""
    if sight.who == "anyone":
        return "1 = 1"
    if sight.who == "self":
        return f"{row}.id = {c.viewer}"  # policy.is_self
    if sight.who == "owner":
        conditions = [f"{row}.user_id = {c.viewer}"]  # policy.owns
        for column, value in sight.shown:  # policy.shown
            conditions.append(
                f"{row}.{column} IS {'NULL' if value is None else str(value).upper()}"
            )
        return " AND ".join(conditions)
    # policy.may_see_order of the order the row names: its buyer or its seller.
    order = c.alias()
    return (
        f"EXISTS (SELECT 1 FROM {_table(Order)} {order} "
        f"WHERE {order}.id = {row}.{sight.order_column} "
        f"AND ({order}.user_id = {c.viewer} OR {order_seller(c, order)}))"
    )


def _one_of(step: FieldStep) -> OneOf:
    """The interface ``node`` returns, or each item of ``nodes``."""
    found = step.completion.item if isinstance(step.completion, ListOf) else step.completion
    if isinstance(found, OneOf):
        return found
    raise NotExpressible(f"Query.{step.key} is not an interface")


def node_sql(c: _Compiler, step: FieldStep, type_sql: str, pk_sql: str) -> Json:
    """The JSON of the object ``(type_sql, pk_sql)`` name, as ``step`` selects it; NULL
    when there is none the viewer may see."""
    whens = []
    for type_name, selection in _one_of(step).by_name.items():
        sight = NODE_SIGHTS[type_name]
        relation = relation_of(sight.loader)
        if relation is None:  # pragma: no cover - every *_by_id loader has one
            raise LookupError(sight.loader)
        alias = c.alias()
        inner = c.build(selection, c.fields(selection, Row(alias)))
        found = (
            f"(SELECT {inner} FROM {_table(relation.model)} {alias} "
            f"WHERE {alias}.id = {pk_sql} AND {visible(c, sight, alias)})"
        )
        whens.append(f"WHEN {_literal(type_name)} THEN {nested(found)}")
    return Json(f"(CASE {type_sql} {' '.join(whens)} END)")


def _node(c: _Compiler, step: FieldStep) -> Json:
    @once_per_request
    def decoded(context: Context, variables: VariableValues) -> tuple[str, int]:
        given = get_argument_values(step.definition, step.nodes[0], variables)["id"]
        return from_global_id(given)

    type_name = c.parameter(lambda context, variables: decoded(context, variables)[0])
    pk = c.parameter(lambda context, variables: decoded(context, variables)[1])
    return node_sql(c, step, typed(type_name, "text"), typed(pk, "bigint"))


def _nodes(c: _Compiler, step: FieldStep) -> Json:
    @once_per_request
    def decoded(context: Context, variables: VariableValues) -> list[tuple[str, int]]:
        given = get_argument_values(step.definition, step.nodes[0], variables)["ids"]
        return decode_ids(given)

    types = c.parameter(lambda context, variables: [t for t, _ in decoded(context, variables)])
    pks = c.parameter(lambda context, variables: [pk for _, pk in decoded(context, variables)])
    each = c.alias()
    item = node_sql(c, step, f"{each}.type", f"{each}.pk")
    order = f"{each}.ord"
    if sqlite():
        # The lists come as JSON arrays (SQLite has no arrays), in their order.
        t, p = c.alias(), c.alias()
        rows = (
            f"(SELECT {t}.value AS type, {p}.value AS pk, {t}.key AS ord "
            f"FROM json_each({types}) {t} JOIN json_each({pks}) {p} ON {p}.key = {t}.key "
            f"ORDER BY {t}.key) {each}"
        )
    else:
        rows = (
            f"unnest({typed(types, 'text[]')}, {typed(pks, 'bigint[]')}) "
            f"WITH ORDINALITY AS {each}(type, pk, ord)"
        )
    return nested(f"(SELECT {json_array_agg(item, order)} FROM {rows})")


# Root fields this module writes: (compiler, step) -> the SQL of the field's JSON.
ROOTS: dict[str, Callable[[_Compiler, FieldStep], str]] = {"node": _node, "nodes": _nodes}

"""Compiled plans answered by PostgreSQL in one statement that builds the answer's JSON.

A compiled plan (schema.plans) still makes every value of the answer in Python: ~15
statements, their rows decoded, a wrapper object per row, a serializer per value.
On PostgreSQL the same selection can be written as one statement of nested
``json_build_object``/``json_agg`` subqueries, the way the well-known GraphQL-to-SQL
servers do it; the server's C code then builds the ~2,200 values and Python only
parses the text once. One statement also reads one snapshot.

Each field has a rule here saying how PostgreSQL computes exactly the value its
resolver returns: the same encodings (global ids, cursors, money amounts, ISO
instants), the same order of lists and the same authorization (the viewer's own
orders; seller actions for the shop's owner or an operator; a payment's card only for
its owner). A document with any field, argument or type without a rule is not
compiled this way and stays on the Python plan. Tests compare both answers byte for
byte on seeded data.
"""

# ruff: noqa: S608
# Statements here are made of this module's own templates, table names from the models
# and names from the schema and the document (GraphQL names cannot hold a quote, and are
# quoted anyway); every value a client sends is a bound parameter.

from __future__ import annotations

import base64
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values
from sqlalchemy import TextClause, literal_column, text
from sqlalchemy.dialects.postgresql import dialect as postgresql_dialect
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import OperationalError
from strawberry.types.field import StrawberryField

from db.models import (
    Order,
    OrderItem,
    OrderReturn,
    Payment,
    PaymentMethod,
    Product,
    ReturnLine,
    Review,
    Shipment,
    Shop,
    TaggedItem,
    User,
)
from domain import order_status as rules
from domain import returns as return_rules
from domain import reviews as review_rules
from domain.money import MINOR_UNIT_EXPONENTS
from resolvers.activity import (
    PAYMENT_METHODS_ORDER,
    PAYMENT_METHODS_SHOWN_WHEN,
    PAYMENTS,
    RECOMMENDATIONS,
    TAGGED,
    VIEWED,
)
from resolvers.buy_again import BUY_AGAIN
from resolvers.errors import InvalidArgument
from resolvers.ids import expect_global_id
from resolvers.listings import Listing
from resolvers.loaders import relation_of
from resolvers.orders import (
    MAX_ORDER_NUMBER_LENGTH,
    MEMBERSHIP_TABS,
    ORDERS,
    SEARCHED,
    FilterTerms,
    OrderFilter,
    filter_terms,
)
from resolvers.pagination import PageArgs, page_args
from resolvers.policy import OPERATOR
from resolvers.reviews import REVIEWS, awaits_review_sql
from resolvers.subscriptions.cursors import EVENTS_LIST
from schema.declared import (
    Column,
    Declaration,
    Derived,
    Embedded,
    MoneyOf,
    NodeId,
    declaration_of,
)

if TYPE_CHECKING:
    from graphql.execution.values import VariableValues

    from resolvers.context import Context
    from schema.common import Loaded
    from schema.plans import FieldStep, Selection


log = logging.getLogger("ordercenter.plans")


class NotExpressible(Exception):
    """A part of the document has no rule here; the Python plan answers it."""


# Which SQL this compile writes: PostgreSQL's, or SQLite's (whose JSON functions write
# compact JSON already, and which has the few Python functions db.sqlite_functions
# registers on each connection: base64url and the two float texts).
_SQLITE: ContextVar[bool] = ContextVar("sql_plans_sqlite", default=False)


@contextmanager
def writing(dialect: str) -> Iterator[None]:
    """Write SQL for ``dialect`` ("postgresql" or "sqlite") inside this block."""
    token = _SQLITE.set(dialect == "sqlite")
    try:
        yield
    finally:
        _SQLITE.reset(token)


def sqlite() -> bool:
    return bool(_SQLITE.get())


def as_text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)" if sqlite() else f"({expression})::text"


def typed(parameter: str, pg_type: str) -> str:
    """A bound parameter as PostgreSQL must be told its type (SQLite takes it as it is).
    SqlPlan.statement_for finds a parameter's null tests and booleans by this form."""
    return parameter if sqlite() else f"CAST({parameter} AS {pg_type})"


class Json(str):
    """SQL whose value is JSON already (or NULL): an enclosing object or array takes it
    as it is. On PostgreSQL its type is text, never json: a cast to json parses the text
    to check it, and every level of the answer would parse all it holds again (the page:
    ~57 KB, seven levels deep)."""


def json_text(literal_json: str) -> Json:
    """A JSON constant."""
    return Json(f"json({_literal(literal_json)})" if sqlite() else _literal(literal_json))


def nested(subquery: str) -> Json:
    """A subquery's JSON as a member of an enclosing object or array. SQLite's JSON
    values lose their JSON-ness crossing a subquery: json() gives it back."""
    return Json(f"json({subquery})" if sqlite() else subquery)


def once() -> str:
    """Ends a derived table PostgreSQL must compute once per row where it is joined, not
    fold into its user's expressions (where a column read in several places would be
    computed again in each). SQLite computes such a table once as it is."""
    return "" if sqlite() else " OFFSET 0"


def boolean(expression: str) -> str:
    """A truth value as JSON: SQLite's are the integers 0 and 1."""
    if sqlite():
        return f"json(CASE WHEN {expression} THEN 'true' ELSE 'false' END)"
    return Json(f"(CASE {expression} WHEN true THEN 'true' WHEN false THEN 'false' END)")


def quoted(expression: str) -> str:
    """A text made only of characters JSON writes as they are (base64url, digits, ISO
    instants) as its JSON string, with nothing to escape: to_json costs more than the
    rest of such a value. NULL stays NULL."""
    if sqlite():
        return expression
    return Json(f"('\"' || {expression} || '\"')")


def scalar_json(step: FieldStep, expression: str) -> str:
    """A leaf's value as the JSON its GraphQL type writes, where the type says more than
    to_json knows: a Boolean of SQLite's; on PostgreSQL an Int's digits, and an enum's
    names as JSON constants (any other value as to_json writes it)."""
    named = get_named_type(step.definition.type)
    if named.name == "Boolean":
        return boolean(expression)
    listed = is_list_type(get_nullable_type(step.definition.type))
    if sqlite() or isinstance(expression, Json) or listed:
        return expression
    if named.name == "Int":
        return Json(f"({expression})::text")
    if isinstance(named, GraphQLEnumType):
        whens = " ".join(
            f"WHEN {_literal(name)} THEN {_literal(orjson.dumps(name).decode())}"
            for name in named.values
        )
        return Json(f"COALESCE(CASE {expression} {whens} END, to_json({expression})::text)")
    return expression


def _table(model: Any) -> str:
    return str(model.__tablename__)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def b64url(expression: str) -> str:
    """base64url without padding of a text, as resolvers.ids and cursors encode them."""
    if sqlite():
        return f"ordercenter_b64url({expression})"
    # Three replace() calls, not one translate(): translate walks the text character by
    # character as multibyte text, replace() searches bytes; the same answer for base64's
    # ASCII at under half the cost (~0.5 us an id; a page writes hundreds of them).
    # PostgreSQL wraps base64 at 76 characters: the newlines go too.
    encoded = f"encode(convert_to({expression}, 'UTF8'), 'base64')"
    return f"rtrim(replace(replace(replace({encoded}, '+', '-'), '/', '_'), E'\\n', ''), '=')"


def instant(expression: str) -> str:
    """datetime.isoformat() of a UTC instant: six digits of microseconds, or none at all."""
    if sqlite():
        # Stored as naive UTC text with six digits of microseconds (db.types.UTCDateTime).
        return f"(replace(replace({expression}, ' ', 'T'), '.000000', '') || '+00:00')"
    micro = f"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"(replace({micro}, '.000000', '') || '+00:00')"


def amount(minor: str, currency: str) -> str:
    """The Decimal scalar's text of ``minor`` minor units: domain.money's exponents."""
    by_exponent: dict[int, list[str]] = {}
    for code, exponent in sorted(MINOR_UNIT_EXPONENTS.items()):
        by_exponent.setdefault(exponent, []).append(code)
    cases = []
    for exponent, codes in sorted(by_exponent.items()):
        listed = ", ".join(_literal(c) for c in codes)
        cases.append(f"WHEN upper({currency}) IN ({listed}) THEN {_scaled(minor, exponent)}")
    return f"(CASE {' '.join(cases)} ELSE {_scaled(minor, 2)} END)"


def _scaled(minor: str, exponent: int) -> str:
    if exponent == 0:
        return as_text(minor)
    if sqlite():
        # Integers only: the whole units, then the fraction zero-padded to its digits.
        sign = f"(CASE WHEN {minor} < 0 THEN '-' ELSE '' END)"
        whole = f"(abs({minor}) / {10**exponent})"
        zeros = "0" * exponent
        fraction = f"substr('{zeros}' || (abs({minor}) % {10**exponent}), -{exponent}, {exponent})"
        return f"({sign} || {whole} || '.' || {fraction})"
    return f"round(({minor})::numeric / {10**exponent}, {exponent})::text"


def float_json(expression: str) -> str:
    """json.dumps of a float (Python's repr): integral values keep their '.0'."""
    if sqlite():
        return f"ordercenter_float_repr({expression})"
    return (
        f"(CASE WHEN {expression} = trunc({expression}) AND abs({expression}) < 1e16 "
        f"THEN trunc({expression})::bigint::text || '.0' ELSE ({expression})::text END)"
    )


def orjson_float(expression: str) -> str:
    """orjson.dumps of a float, which graphql-core's answers are written with. Where it
    differs from Python's repr (float_json): 1e-05 is 0.00001, 1.5e-05 is 0.000015, and
    a smaller exponent has no leading zero (1e-6)."""
    if sqlite():
        return f"ordercenter_float_json({expression})"
    text_sql = f"abs({expression})::text"
    sign = f"(CASE WHEN {expression} < 0 THEN '-' ELSE '' END)"
    small = (
        f"(CASE WHEN {text_sql} ~ 'e-05$' "
        f"THEN '0.0000' || replace(regexp_replace({text_sql}, 'e-05$', ''), '.', '') "
        f"ELSE replace({text_sql}, 'e-0', 'e-') END)"
    )
    return (
        f"(CASE WHEN {expression} = trunc({expression}) AND abs({expression}) < 1e16 "
        f"THEN trunc({expression})::bigint::text || '.0' ELSE {sign} || {small} END)"
    )


def cursor(list_name: str, key_json: str, pk: str) -> str:
    """resolvers.pagination.encode_cursor: base64url of ``[list, key, pk]``."""
    return b64url(f"'[\"{list_name}\",' || {key_json} || ',' || {pk} || ']'")


def _enum_names(step: FieldStep) -> dict[Any, str]:
    """The stored value -> GraphQL name table of the enum the field returns."""
    return _names(get_named_type(step.definition.type))


def _names(enum_type: Any) -> dict[Any, str]:
    if not isinstance(enum_type, GraphQLEnumType):
        raise NotExpressible(f"{enum_type} is not an enum")
    return {member.value: name for name, member in enum_type.values.items()}


def _case(expression: str, names: Mapping[str, str]) -> str:
    if all(stored == name for stored, name in names.items()):
        # Stored as the GraphQL names already (most enums): nothing to translate.
        return expression
    whens = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in names.items())
    return f"(CASE {expression} {whens} END)"


# --- JSON text, written compactly ---------------------------------------------------
#
# json_build_object and json_agg write ' : ' and ', ' between members: the answer would
# have to be parsed and written again to be the bytes graphql-core's path sends. These
# write it as orjson does, so PostgreSQL's text is sent as it is (orjson.Fragment).
# Objects and arrays are typed json, so an enclosing to_json() embeds them unquoted.


def _member(value_sql: str) -> str:
    if isinstance(value_sql, Json):
        return f"COALESCE({value_sql}, 'null')"
    return f"COALESCE(to_json({value_sql})::text, 'null')"


def json_object(pairs: list[tuple[str, str]]) -> Json:
    """A JSON object of (response key, SQL value) pairs, in order."""
    if sqlite():
        return Json(f"json_object({', '.join(f'{_literal(k)}, {v}' for k, v in pairs)})")
    if not pairs:
        return Json("'{}'")
    parts = []
    for index, (key, value_sql) in enumerate(pairs):
        name = orjson.dumps(key).decode()
        parts.append(_literal(("{" if index == 0 else ",") + name + ":"))
        parts.append(_member(value_sql))
    return Json(f"({' || '.join(parts)} || '}}')")


def json_array(items: list[str]) -> Json:
    """A JSON array of SQL values, in order."""
    if sqlite():
        return Json(f"json_array({', '.join(items)})")
    if not items:
        return Json("'[]'")
    members = " || ',' || ".join(_member(i) for i in items)
    return Json(f"('[' || {members} || ']')")


def json_array_agg(item: str, order: str) -> Json:
    """The aggregate JSON array of ``item`` over the rows, in ``order``; [] for none.
    (On SQLite the rows must come in that order: see ordered_rows.)"""
    if sqlite():
        return Json(f"json_group_array({item})")
    joined = f"string_agg({_member(item)}, ',' ORDER BY {order})"
    return Json(f"COALESCE('[' || {joined} || ']', '[]')")


# --- Where a selection's values come from -------------------------------------------


@dataclass(frozen=True)
class Row:
    """A table row under an alias."""

    alias: str


@dataclass(frozen=True)
class Values:
    """An object made of expressions over rows already in scope (money, a tab count)."""

    fields: dict[str, str]


Source = Row | Values
# (compiler, source, step) -> SQL expression of the field's JSON value
Rule = Callable[["_Compiler", Any, "FieldStep"], str]


def node_id(type_name: str) -> Rule:
    """resolvers.ids.to_global_id. base64 encodes 3 bytes at a time, so the part of the
    constant "Type:" prefix that fills whole groups is encoded here, once."""
    prefix = f"{type_name}:".encode()
    whole = len(prefix) - len(prefix) % 3
    head = base64.urlsafe_b64encode(prefix[:whole]).decode()
    tail = prefix[whole:].decode()

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        rest = b64url(f"'{tail}' || {s.alias}.id")
        return quoted(f"('{head}' || {rest})")

    return rule


def value(name: str) -> Rule:
    return lambda c, s, step: s.fields[name]


def one(model: Any, condition: Callable[[str, str], str]) -> Rule:
    """The row of ``model`` where ``condition(parent alias, its alias)``; null if none."""

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        alias = c.alias()
        inner = c.object(step, Row(alias))
        where = condition(s.alias, alias)
        return nested(f"(SELECT {inner} FROM {_table(model)} {alias} WHERE {where})")

    return rule


def ordered_rows(rows: str, alias: str, order: str) -> str:
    """``FROM`` rows in ``order`` for json_array_agg: PostgreSQL orders inside the
    aggregate; SQLite (before 3.44) aggregates a subquery's rows in its order."""
    if sqlite():
        return f"(SELECT * FROM {rows} {alias} ORDER BY {order}) {alias}"
    return f"{rows} {alias}"


def many(model: Any, condition: Callable[[str, str], str], order: str) -> Rule:
    """Rows of ``model`` where ``condition``, in ``order`` (a format of the alias)."""

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        alias = c.alias()
        inner = c.object(step, Row(alias))
        where = condition(s.alias, alias)
        ordering = order.format(a=alias)
        rows = f"(SELECT * FROM {_table(model)} {alias} WHERE {where})"
        return nested(
            f"(SELECT {json_array_agg(inner, ordering)} FROM {ordered_rows(rows, alias, ordering)})"
        )

    return rule


def _tab_counts(c: _Compiler, s: Row, step: FieldStep) -> str:
    alias, counts = c.alias(), c.alias()
    tab_counts: Any = get_named_type(step.definition.type)
    tab_names = _names(get_named_type(tab_counts.fields["tab"].type))
    items, columns = [], []
    for tab_index, tab in enumerate(rules.OrderTab):
        if tab in MEMBERSHIP_TABS:
            count = f"count(*) FILTER (WHERE {MEMBERSHIP_TABS[tab](alias)})"
        else:
            statuses = ", ".join(_literal(st.value) for st in rules.statuses_of_tab(tab))
            count = f"count(*) FILTER (WHERE {alias}.status IN ({statuses}))"
        tab_name = as_text(_literal(tab_names[tab.value]))
        items.append(c.object(step, Values({"tab": tab_name, "count": f"{counts}.c{tab_index}"})))
        columns.append(f"{count} AS c{tab_index}")
    # The counts in an aggregate of their own: one row, whether or not `count` is
    # selected (a row per order otherwise) and whether or not there are orders.
    return nested(
        f"(SELECT {json_array(items)} FROM (SELECT {', '.join(columns)} "
        f"FROM {_table(Order)} {alias} WHERE {alias}.user_id = {s.alias}.id) {counts})"
    )


def _selection(step: FieldStep) -> Selection:
    from schema.plans import ListOf, Selection  # schema.plans imports this module

    completion: Any = step.completion
    while isinstance(completion, ListOf):
        completion = completion.item
    if not isinstance(completion, Selection):
        raise NotExpressible(f"{step.parent.name}.{step.key} has no selection")
    return completion


def _payment_status(c: _Compiler, s: Row, step: FieldStep) -> str:
    """domain.order_status.order_payment_status, from its own precedence table."""
    alias = c.alias()
    names = _enum_names(step)
    whens = " ".join(
        f"WHEN {any_row(f'{alias}.status = {_literal(payment_status)}')} "
        f"THEN {_literal(names[shown.value])}"
        for payment_status, shown in rules.PAYMENT_STATUS_PRECEDENCE
    )
    unpaid = _literal(names[rules.OrderPaymentStatus.UNPAID.value])
    return (
        f"(SELECT CASE {whens} ELSE {unpaid} END"
        f" FROM {_table(Payment)} {alias} WHERE {alias}.order_id = {s.alias}.id)"
    )


def any_row(condition: str) -> str:
    """Whether ``condition`` holds for any row of the group."""
    if sqlite():
        return f"max(CASE WHEN {condition} THEN 1 ELSE 0 END) = 1"
    return f"bool_or({condition})"


def _tab(c: _Compiler, s: Row, step: FieldStep) -> str:
    names = _enum_names(step)
    return _case(
        f"{s.alias}.status", {st.value: names[rules.tab_of(st).value] for st in rules.OrderStatus}
    )


def order_seller(c: _Compiler, order: str) -> str:
    """policy.order_roles' SELLER of the order under alias ``order``: an operator, or
    the owner of its shop. Neither subquery names the order: each is read once per
    statement (the viewer's role; the shops they own, hashed), not once per order."""
    shop = c.alias()
    return (
        f"((SELECT role FROM {_table(User)} WHERE id = {c.viewer}) = {_literal(OPERATOR)} OR "
        f"{order}.shop_id IN (SELECT {shop}.id FROM {_table(Shop)} {shop} "
        f"WHERE {shop}.owner_id = {c.viewer}))"
    )


def _offered(candidates: list[tuple[str, str]]) -> str:
    """The JSON array members (each after a comma) of the names whose condition holds,
    in the candidates' order: one expression, not a row per candidate aggregated."""
    items = [
        f"CASE WHEN {condition} THEN {_literal(',' + orjson.dumps(name).decode())} ELSE '' END"
        for name, condition in candidates
    ]
    return " || ".join(items) or "''"


@dataclass(frozen=True)
class _ReturnSteps:
    """What domain.returns offers of an order (see _return_actions)."""

    candidates: list[tuple[str, str]]  # (action's name, the condition it is offered on)
    facts: dict[str, str]  # column of the order's facts -> an aggregate over its returns
    returns: str  # the alias of the order's returns in those aggregates


def _available_actions(c: _Compiler, s: Row, step: FieldStep) -> str:
    """domain.returns.order_actions (domain.order_status.available_actions, then the
    steps of returns, then the reviews' actions) for the roles policy.order_roles gives."""
    names = _enum_names(step)
    facts = c.alias()
    held = {rules.Actor.BUYER: f"{facts}.buyer", rules.Actor.SELLER: f"{facts}.seller"}
    # The machine offers the transitions out of the order's status (one status at a time:
    # so each status's in the table's order) of which the viewer holds a role.
    by_status: dict[rules.OrderStatus, list[tuple[str, str]]] = {}
    for t in rules.TRANSITIONS:
        who = " OR ".join(role for actor, role in held.items() if actor in t.actors)
        if who:
            by_status.setdefault(t.source, []).append((names[t.action.value], f"({who})"))
    whens = " ".join(
        f"WHEN {_literal(status.value)} THEN {_offered(offered)}"
        for status, offered in by_status.items()
    )
    steps = _return_actions(c, s, names, held, facts)
    reviews = _review_actions(c, s, names, held, facts)
    own = f"(CASE {facts}.status {whens} ELSE '' END)" if whens else "''"
    members = f"{own} || {_offered(steps.candidates + reviews.candidates)}"
    # The roles, the facts of the order's returns from one read of them and those of
    # its reviews, once per order (once()); then each action whose condition holds.
    read = c.alias()
    columns = [
        f"{s.alias}.status AS status",
        f"{s.alias}.user_id = {c.viewer} AS buyer",
        f"{order_seller(c, s.alias)} AS seller",
        *(f"{read}.{name} AS {name}" for name in steps.facts),
        *(f"{sql} AS {name}" for name, sql in reviews.facts.items()),
    ]
    aggregates = ", ".join(f"{sql} AS {name}" for name, sql in steps.facts.items())
    return nested(
        f"(SELECT '[' || substr({members}, 2) || ']' FROM (SELECT {', '.join(columns)} "
        f"FROM (SELECT {aggregates} FROM {_table(OrderReturn)} {steps.returns} "
        f"WHERE {steps.returns}.order_id = {s.alias}.id) {read}{once()}) {facts})"
    )


def _return_actions(
    c: _Compiler, s: Row, names: Mapping[Any, str], held: Mapping[rules.Actor, str], facts: str
) -> _ReturnSteps:
    """REQUEST_RETURN and the steps of the order's returns, each with the condition
    (over the order, the viewer's roles and the order's ``facts``) on which
    domain.returns offers it; and the facts they read: whether the order has a return
    in the statuses each step starts from."""
    cutoff = c.parameter(
        lambda context, variables: return_rules.window_opens_after(
            context.clock(), context.rules.return_window
        )
    )
    returnable = ", ".join(_literal(st.value) for st in return_rules.RETURNABLE_ORDER_STATUSES)
    shipment, item, line, ret, returns = c.alias(), c.alias(), c.alias(), c.alias(), c.alias()
    found: dict[str, str] = {}  # facts column -> its aggregate over the order's returns

    def has_return(statuses: Iterable[Any]) -> str:
        """Whether the order has a return in one of ``statuses`` (NULL for no return)."""
        listed = ", ".join(_literal(st.value) for st in sorted(statuses))
        aggregate = any_row(f"{returns}.status IN ({listed})")
        column = next((k for k, v in found.items() if v == aggregate), f"r{len(found)}")
        found[column] = aggregate
        return f"{facts}.{column}"

    counted = ", ".join(_literal(st.value) for st in sorted(return_rules.COUNTED_STATUSES))
    # Units left on some line: no line ever has more units in returns than it has. The
    # lines of returns are read only for an order with a counted return.
    units_left = (
        f"(SELECT sum({item}.quantity) FROM {_table(OrderItem)} {item} WHERE {item}.order_id = "
        f"{s.alias}.id) > CASE WHEN {has_return(return_rules.COUNTED_STATUSES)} THEN "
        f"(SELECT COALESCE(sum({line}.quantity), 0) FROM {_table(ReturnLine)} "
        f"{line} JOIN {_table(OrderReturn)} {ret} ON {ret}.id = {line}.return_id "
        f"WHERE {ret}.order_id = {s.alias}.id AND {ret}.status IN ({counted})) ELSE 0 END"
    )
    delivered = (
        f"EXISTS (SELECT 1 FROM {_table(Shipment)} {shipment} WHERE {shipment}.order_id = "
        f"{s.alias}.id AND {shipment}.delivered_at >= {typed(cutoff, 'timestamptz')})"
    )
    requesters = " OR ".join(held[a] for a in sorted(return_rules.REQUESTERS) if a in held)
    # Tested left to right, each only if those before it hold: the window's and the
    # units' subqueries run only for a requester's order in a returnable status.
    candidates = [
        (
            names[rules.OrderAction.REQUEST_RETURN.value],
            f"({requesters or 'FALSE'}) AND {facts}.status IN ({returnable}) "
            f"AND {delivered} AND {units_left}",
        )
    ]
    for action in return_rules.step_order():
        by_actor = []
        for actor, role in held.items():
            sources = return_rules.sources_of(action, actor)
            if sources:
                by_actor.append(f"({role} AND {has_return(sources)})")
        name = names[return_rules.ORDER_ACTION_OF[action].value]
        candidates.append((name, " OR ".join(by_actor) or "FALSE"))
    return _ReturnSteps(candidates, found, returns)


@dataclass(frozen=True)
class _Offers:
    """Actions offered on conditions over per-order facts (see _review_actions)."""

    candidates: list[tuple[str, str]]  # (action's name, the condition it is offered on)
    facts: dict[str, str]  # column of the order's facts -> its expression over the order


def _review_actions(
    c: _Compiler, s: Row, names: Mapping[Any, str], held: Mapping[rules.Actor, str], facts: str
) -> _Offers:
    """REVIEW and EDIT_REVIEW, each on the condition domain.reviews offers it
    (offers_review: a reviewer, on an order the TO_REVIEW rule lists; offers_edit), and
    the order's facts they read: whether it awaits a review (resolvers.reviews.
    awaits_review_sql, the TO_REVIEW tab's own text); whether a review of it by the
    viewer was posted inside the edit window (the setting, as the mutation reads it)."""
    since = c.parameter(
        lambda context, variables: review_rules.editable_since(
            context.clock(), context.rules.review_edit_window
        )
    )
    own = c.alias()
    reviewers = " OR ".join(held[a] for a in sorted(review_rules.REVIEWERS) if a in held)
    offered = [
        (rules.OrderAction.REVIEW, f"{facts}.awaits_review"),
        (rules.OrderAction.EDIT_REVIEW, f"{facts}.editable"),
    ]
    return _Offers(
        [(names[action.value], f"({reviewers or 'FALSE'}) AND {when}") for action, when in offered],
        {
            "awaits_review": awaits_review_sql(s.alias),
            "editable": f"EXISTS (SELECT 1 FROM {_table(Review)} {own} WHERE {own}.order_id = "
            f"{s.alias}.id AND {own}.user_id = {c.viewer} "
            f"AND {own}.posted_at >= {typed(since, 'timestamptz')})",
        },
    )


def _viewer_has_tagged(c: _Compiler, s: Row, step: FieldStep) -> str:
    tag = c.alias()
    return (
        f"EXISTS (SELECT 1 FROM {_table(TaggedItem)} {tag} WHERE {tag}.user_id = {c.viewer} "
        f"AND {tag}.product_id = {s.alias}.id)"
    )


def _method(c: _Compiler, s: Row, step: FieldStep) -> str:
    # The seller sees the payment, never the buyer's card (policy.owns).
    return one(
        PaymentMethod, lambda p, m: f"{m}.id = {p}.payment_method_id AND {m}.user_id = {c.viewer}"
    )(c, s, step)


_KEY_TYPES = {"datetime": "timestamptz", "float": "double precision"}
# PostgreSQL's ends of each key's order ('NaN' sorts above every other float there), and
# of the ids: a cursor's absent key and id stand for them.
_KEY_ENDS = {
    "datetime": ("-infinity", "infinity"),
    "float": ("-infinity", "NaN"),
}
_ID_ENDS = (-(2**63), 2**63 - 1)


def _key_json(listing: Listing, expression: str) -> str:
    """The sort key's JSON text in a cursor (resolvers.pagination.encode_cursor)."""
    if listing.key_kind == "datetime":
        return "'\"' || " + instant(expression) + " || '\"'"
    return float_json(expression)


def listed(listing: Listing, owner: str | None = None) -> str:
    """Where the listing's rows are: its table, or the statement that makes them (an
    aggregate's, resolvers.listings.Listing.rows), written in this compile's SQL; with
    ``owner`` (a row alias), only that owner's rows are made."""
    if listing.rows is None:
        return _table(listing.model)
    dialect: Any = sqlite_dialect if sqlite() else postgresql_dialect
    rows = listing.rows()
    if owner is not None:
        rows = rows.where(rows.selected_columns[listing.owner] == literal_column(f"{owner}.id"))
    made = rows.compile(dialect=dialect(), compile_kwargs={"literal_binds": True})
    return f"({made})"


def one_term(condition: str) -> str:
    """``condition`` as one term PostgreSQL cannot split: its generic plan guesses that
    half the rows pass it. Term by term, its guesses for a filter's optional terms (each
    "absent, or ...") multiplied to about one row in 200, and it read and sorted all the
    owner's rows rather than the page's own in index order."""
    return condition if sqlite() else f"(CASE WHEN {condition} THEN true ELSE false END)"


def _shown(listing: Listing, owner: str, row: str) -> str:
    """The listing's rows of ``owner``: resolvers.listings.Listing.statement."""
    conditions = [f"{row}.{listing.owner} = {owner}.id"]
    if listing.condition is not None:
        conditions.append(f"({listing.condition(row)})")
    return " AND ".join(conditions)


def connection(
    listing: Listing, narrow: Callable[[_Compiler, FieldStep], Callable[[str], str]] | None = None
) -> Rule:
    """A page of ``listing``, forwards (``first``/``after``) or backwards (``last``/
    ``before``), as resolvers.pagination pages it; ``narrow(compiler, step)`` gives the
    field's filter (of a row alias), if it has one.

    Both directions are in the statement, each under a one-time test of the request's
    direction, so one statement serves every page of the document."""

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        if sqlite() and c.connections:
            # A page inside a page's items (Product.reviews under orders) nests deeper
            # than SQLite's parser goes ("parser stack overflow"): the Python plan answers.
            raise NotExpressible(f"{step.parent.name}.{step.key}: a connection in a connection")
        c.connections += 1
        try:
            return page_rule(c, s, step)
        finally:
            c.connections -= 1

    def page_rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        page = c.page(step, listing, narrowed=narrow is not None)
        # SQLite aggregates a FROM subquery whole before it filters by a column of the
        # outer row (it pushes only constants down): every buyer's purchases, 0.56 s at
        # 1,000 buyers x 50 orders, each time the page reads them. Made for the owner
        # alone there, it reads the owner's lines by index (0.3 ms).
        table = listed(listing, s.alias if sqlite() else None)
        owned = ""
        if listing.rows is not None and not sqlite():
            # An aggregate's rows (one per product bought) are made once for the owner
            # and read from there by the page, its count and its next-page test: made
            # per use, PostgreSQL aggregated three times, and its generic plan for the
            # next-page test walked every product against the owner's lines.
            made, table = c.alias(), c.alias()
            owned = (
                f"{table} AS MATERIALIZED (SELECT * FROM {listed(listing)} {made} "
                f"WHERE {_shown(listing, s.alias, made)}), "
            )
        key_type = _KEY_TYPES[listing.key_kind]
        narrowing = None if narrow is None else narrow(c, step)

        def where(row: str) -> str:
            shown = _shown(listing, s.alias, row)
            return shown if narrowing is None else f"{shown} AND {one_term(narrowing(row))}"

        no_cursor = f"({typed(page.key, key_type)} IS NULL)"
        forward = typed(page.forward, "boolean")

        def beyond(row: str, direction: str) -> str:
            """Rows past the cursor: older ones forwards (<), newer ones backwards (>)."""
            bound = f"({typed(page.key, key_type)}, {typed(page.pk, 'bigint')})"
            position = f"({row}.{listing.key}, {row}.id)"
            if sqlite():
                return f"({no_cursor} OR {position} {direction} {bound})"
            # Without a cursor, from the end of the order: one row comparison the index
            # on (owner, key, id) answers, the page's rows read in order and no others.
            end = 1 if direction == "<" else 0
            key_end = f"CAST({_literal(_KEY_ENDS[listing.key_kind][end])} AS {key_type})"
            key = f"COALESCE({typed(page.key, key_type)}, {key_end})"
            pk = f"COALESCE({typed(page.pk, 'bigint')}, CAST('{_ID_ENDS[end]}' AS bigint))"
            return f"{position} {direction} ({key}, {pk})"

        # On PostgreSQL the page's rows are read once, with one row more than the page
        # (as far as it goes): the edges and cursors take the page's, the next-page
        # test counts them all, and the filter runs once over the rows it reads.
        # SQLite's statement counts them again (a WITH there nests too deep).
        read_ahead = not sqlite()

        def page_of(direction: str, order: str, size: str, rows_from: str = table) -> str:
            a = c.alias()
            gate = forward if direction == "<" else f"NOT {forward}"
            matching = f"{where(a)} AND {beyond(a, direction)}" if rows_from == table else "true"
            return (
                f"(SELECT * FROM {rows_from} {a} WHERE {gate} AND {matching} "
                f"ORDER BY {a}.{listing.key} {order}, {a}.id {order} LIMIT {size})"
            )

        def both_ways(size: str, rows_from: str = table) -> str:
            return (
                f"(SELECT * FROM {page_of('<', 'DESC', size, rows_from)} {c.alias()} "
                f"UNION ALL SELECT * FROM {page_of('>', 'ASC', size, rows_from)} {c.alias()})"
            )

        edge = c.alias()
        order_desc = f"{{a}}.{listing.key} DESC, {{a}}.id DESC"
        page_rows = ""
        if read_ahead:
            read, rows = c.alias(), c.alias()
            page_rows = (
                f"WITH {owned}{read} AS {both_ways(f'{page.size} + 1')}, "
                f"{rows} AS {both_ways(page.size, read)} "
            )
        else:
            rows = both_ways(page.size)

        def more(direction: str) -> str:
            if read_ahead:
                return f"((SELECT count(*) FROM {read}) > {page.size})"
            a = c.alias()
            return (
                f"((SELECT count(*) FROM (SELECT 1 FROM {table} {a} "
                f"WHERE {where(a)} AND {beyond(a, direction)} LIMIT {page.size} + 1) {c.alias()})"
                f" > {page.size})"
            )

        def cursor_of(a: str) -> str:
            return cursor(listing.name, _key_json(listing, f"{a}.{listing.key}"), f"{a}.id")

        fields: dict[str, str] = {}
        connection_selection = _selection(step)
        for inner in connection_selection.steps:
            name = inner.nodes[0].name.value
            if name == "totalCount":
                counted = c.alias()
                fields[inner.key] = (
                    f"(SELECT count(*) FROM {table} {counted} WHERE {where(counted)})"
                )
            elif name == "edges":
                edge_json = _edge(c, inner, cursor_of(edge), Row(edge))
                fields[inner.key] = Json(
                    f"(SELECT {json_array_agg(edge_json, order_desc.format(a=edge))} "
                    f"FROM {ordered_rows(rows, edge, order_desc.format(a=edge))})"
                )
            elif name == "pageInfo":
                last, first = c.alias(), c.alias()
                values = {
                    "hasNextPage": (
                        f"(CASE WHEN {forward} THEN {more('<')} ELSE NOT {no_cursor} END)"
                    ),
                    "hasPreviousPage": (
                        f"(CASE WHEN {forward} THEN NOT {no_cursor} ELSE {more('>')} END)"
                    ),
                    "startCursor": quoted(
                        f"(SELECT {cursor_of(first)} FROM {rows} {first} "
                        f"ORDER BY {order_desc.format(a=first)} LIMIT 1)"
                    ),
                    "endCursor": quoted(
                        f"(SELECT {cursor_of(last)} FROM {rows} {last} "
                        f"ORDER BY {last}.{listing.key} ASC, {last}.id ASC LIMIT 1)"
                    ),
                }
                fields[inner.key] = c.object(inner, Values(values))
            else:
                raise NotExpressible(f"{step.parent.name}.{step.key}.{name}")
        built = c.build(connection_selection, fields)
        return Json(f"({page_rows}SELECT {built})") if page_rows else built

    return rule


def _order_filter(c: _Compiler, step: FieldStep) -> Callable[[str], str]:
    """resolvers.orders._conditions of the field's ``filter``, from the same terms: each
    term a parameter, NULL where the filter does not narrow by it."""

    @once_per_request
    def terms(context: Context, variables: VariableValues) -> FilterTerms:
        arguments = get_argument_values(step.definition, step.nodes[0], variables)
        return filter_terms(_domain_filter(arguments.get("filter")))

    statuses = c.parameter(lambda ctx, v: terms(ctx, v).statuses)
    after = c.parameter(lambda ctx, v: terms(ctx, v).placed_after)
    before = c.parameter(lambda ctx, v: terms(ctx, v).placed_before)
    pattern = c.parameter(lambda ctx, v: terms(ctx, v).pattern)
    member = c.parameter(lambda ctx, v: terms(ctx, v).member_of)
    return lambda row: (
        f"{_order_conditions(c, row, statuses, after, before, pattern)}"
        f" AND {_membership(row, member)}"
    )


def _membership(row: str, member: str) -> str:
    """resolvers.orders.MEMBERSHIP_TABS: the listing tab the filter names, if any."""
    member = typed(member, "text")
    # AND binds before OR: no parentheses, which SQLite's parser counts as depth.
    tabs = " OR ".join(
        f"{member} = {_literal(tab.value)} AND {listed(row)}"
        for tab, listed in MEMBERSHIP_TABS.items()
    )
    return f"({member} IS NULL OR {tabs})"


def _order_conditions(
    c: _Compiler, row: str, statuses: str, after: str, before: str, pattern: str
) -> str:
    pattern = typed(pattern, "text")

    def like(column_sql: str) -> str:
        # As SQLAlchemy writes ilike(): SQLite has lower() (db.engine folds Unicode).
        if sqlite():
            return f"lower({column_sql}) LIKE lower({pattern}) ESCAPE '\\'"
        return f"{column_sql} ILIKE {pattern} ESCAPE '\\'"

    matches = []
    for searched in SEARCHED:
        if searched.model is None:
            matches.append(like(f"{row}.{searched.column}"))
            continue
        other = c.alias()
        matches.append(
            f"EXISTS (SELECT 1 FROM {_table(searched.model)} {other} WHERE "
            f"{other}.{searched.joined} = {row}.{searched.on} "
            f"AND {like(f'{other}.{searched.column}')})"
        )
    after, before = typed(after, "timestamptz"), typed(before, "timestamptz")
    if sqlite():
        # The statuses come as a JSON array: SQLite has no arrays.
        listed = f"{row}.status IN (SELECT value FROM json_each({statuses}))"
    else:
        statuses = typed(statuses, "text[]")
        listed = f"{row}.status = ANY({statuses})"
    return (
        f"({statuses} IS NULL OR {listed})"
        f" AND ({after} IS NULL OR {row}.placed_at > {after})"
        f" AND ({before} IS NULL OR {row}.placed_at < {before})"
        f" AND ({pattern} IS NULL OR {' OR '.join(matches)})"
    )


def _stored(member: Any) -> Any:
    # graphql-core gives the API enum's member; the domain enum takes its value.
    return getattr(member, "value", member)


def _domain_filter(given: Any) -> OrderFilter:
    """The API's OrderFilter argument (as graphql-core coerced it) in domain terms."""
    if given is None:
        return OrderFilter()
    return OrderFilter(
        tab=None if given.get("tab") is None else rules.OrderTab(_stored(given["tab"])),
        statuses=tuple(rules.OrderStatus(_stored(s)) for s in given.get("status") or ()),
        placed_after=given.get("placedAfter"),
        placed_before=given.get("placedBefore"),
        search=given.get("search"),
    )


def _payment_methods(c: _Compiler, s: Row, step: FieldStep) -> str:
    """resolvers.activity.payment_methods: the shown ones, in its order."""
    shown = " AND ".join(
        f"{{m}}.{column_name} IS {'NULL' if value_ is None else str(value_).upper()}"
        for column_name, value_ in PAYMENT_METHODS_SHOWN_WHEN
    )
    order = ", ".join(f"{{a}}.{column_name} DESC" for column_name in PAYMENT_METHODS_ORDER)
    return many(
        PaymentMethod,
        lambda u, m: f"{m}.user_id = {u}.id AND " + shown.format(m=m),
        order,
    )(c, s, step)


def _edge(c: _Compiler, step: FieldStep, cursor_sql: str, node: Row) -> str:
    selection = _selection(step)
    built: dict[str, str] = {}
    for inner in selection.steps:
        name = inner.nodes[0].name.value
        if name == "cursor":
            built[inner.key] = quoted(cursor_sql)
        elif name == "node":
            built[inner.key] = c.object(inner, node)
        else:
            raise NotExpressible(f"{selection.type_name}.{name}")
    return c.build(selection, built)


def _order_by_number(c: _Compiler, s: Row, step: FieldStep) -> str:
    def number(context: Context, variables: VariableValues) -> str | None:
        value = get_argument_values(step.definition, step.nodes[0], variables).get("number")
        if not isinstance(value, str):
            raise NotExpressible("number")
        # resolvers.orders.order_by_number answers None for longer ones: so does NULL.
        return value if len(value) <= MAX_ORDER_NUMBER_LENGTH else None

    param = c.parameter(number)
    return one(Order, lambda u, o: f"{o}.user_id = {u}.id AND {o}.number = {param}")(c, s, step)


def _reviewer_name(c: _Compiler, s: Row, step: FieldStep) -> str:
    """schema.reviews.Review.reviewer_name: the reviewer's display name, nothing else."""
    user = c.alias()
    return (
        f"COALESCE((SELECT {user}.display_name FROM {_table(User)} {user} "
        f"WHERE {user}.id = {s.alias}.user_id), '')"
    )


def _editable_until(c: _Compiler, s: Row, step: FieldStep) -> str:
    """domain.reviews.edit_deadline of the review's posted_at under the window the
    mutation reads (a setting), to the microsecond: the window is added as microseconds,
    never as days (PostgreSQL adds those by the session's calendar)."""
    window = c.parameter(
        lambda context, variables: context.rules.review_edit_window // timedelta(microseconds=1)
    )
    posted = f"{s.alias}.posted_at"
    if sqlite():
        # Naive UTC text with six digits of microseconds (db.types.UTCDateTime), in
        # integer microseconds since the epoch and back.
        micros = (
            f"(CAST(strftime('%s', substr({posted}, 1, 19)) AS INTEGER) * 1000000 "
            f"+ CAST(substr({posted}, 21, 6) AS INTEGER) + {window})"
        )
        until = (
            f"(datetime({micros} / 1000000, 'unixepoch') || '.' "
            f"|| printf('%06d', {micros} % 1000000))"
        )
    else:
        until = f"({posted} + {typed(window, 'bigint')} * interval '1 microsecond')"
    return quoted(instant(until))


def _product_rating(c: _Compiler, s: Row, step: FieldStep) -> str:
    """domain.reviews.average_rating over the product's reviews: the mean in tenths,
    rounded half up in integers, as a JSON number; null without reviews."""
    reviews, totals = c.alias(), c.alias()
    scale = review_rules.AVERAGE_SCALE
    tenths = f"((2 * {scale} * {totals}.total + {totals}.n) / (2 * {totals}.n))"
    as_float = f"CAST({tenths} AS REAL)" if sqlite() else f"({tenths})::float8"
    number = orjson_float(f"({as_float} / {scale})")
    average = f"json({number})" if sqlite() else f"({number})::json"
    values = {
        "average": f"(CASE WHEN {totals}.n = 0 THEN NULL ELSE {average} END)",
        "count": f"{totals}.n",
    }
    return nested(
        f"(SELECT {c.object(step, Values(values))} FROM (SELECT "
        f"COALESCE(sum({reviews}.rating), 0) AS total, count(*) AS n "
        f"FROM {_table(Review)} {reviews} WHERE {reviews}.product_id = {s.alias}.id) {totals})"
    )


# --- From a field's declaration to its SQL ------------------------------------------
#
# Nothing here restates what a field means: the field's declaration (schema.declared, or
# the loader of a related field) says which column, money, relation or domain rule it
# is, and the GraphQL type says how its value is written (an enum's name, an instant).

# The SQL of the domain rules and listings fields name (schema.declared.Derived.sql,
# schema.common.Loaded.sql); each is generated from the domain's own table or function.
DOMAIN_RULES: dict[str, Rule] = {
    "order_tab": lambda c, s, step: _tab(c, s, step),
    "payment_status": lambda c, s, step: _payment_status(c, s, step),
    "available_actions": lambda c, s, step: _available_actions(c, s, step),
    "viewer_has_tagged": lambda c, s, step: _viewer_has_tagged(c, s, step),
    "payment_method_of_viewer": lambda c, s, step: _method(c, s, step),
    "event_cursor": lambda c, s, step: quoted(
        cursor(EVENTS_LIST, as_text(f"{s.alias}.id"), f"{s.alias}.id")
    ),
    "order_tabs": lambda c, s, step: _tab_counts(c, s, step),
    "order_by_number": lambda c, s, step: _order_by_number(c, s, step),
    "orders": lambda c, s, step: connection(ORDERS, _order_filter)(c, s, step),
    "recommendations": lambda c, s, step: connection(RECOMMENDATIONS)(c, s, step),
    "payments": lambda c, s, step: connection(PAYMENTS)(c, s, step),
    "tagged_items": lambda c, s, step: connection(TAGGED)(c, s, step),
    "recently_viewed": lambda c, s, step: connection(VIEWED)(c, s, step),
    "buy_again": lambda c, s, step: connection(BUY_AGAIN)(c, s, step),
    "payment_methods": lambda c, s, step: _payment_methods(c, s, step),
    "reviewer_name": lambda c, s, step: _reviewer_name(c, s, step),
    "review_editable_until": lambda c, s, step: _editable_until(c, s, step),
    "product_rating": lambda c, s, step: _product_rating(c, s, step),
    "product_reviews": lambda c, s, step: connection(REVIEWS)(c, s, step),
}

# Objects made of values already in scope (Values): each field is the value of its name,
# except where the type's own serializer has a rule (Money's amount).
VALUE_RULES: dict[str, dict[str, Rule]] = {
    "Money": {
        "amount": lambda c, s, step: quoted(amount(s.fields["minor"], s.fields["currency"])),
        "currencyCode": value("currency"),
    },
}


def _leaf_sql(step: FieldStep, expression: str) -> str:
    """A column's value written as its GraphQL type writes it."""
    named = get_named_type(step.definition.type)
    if isinstance(named, GraphQLEnumType):
        return _case(expression, _names(named))
    if named.name == "DateTime":
        return quoted(instant(expression))
    if named.name == "Float":
        # A JSON number written as orjson writes the float: 1.0 must not come back as 1.
        number = orjson_float(expression)
        return Json(f"json({number})" if sqlite() else f"({number})")
    return expression


def _declared_rule(declaration: Declaration) -> Rule:
    if isinstance(declaration, Column):
        name = declaration.name
        return lambda c, s, step: _leaf_sql(step, f"{s.alias}.{name}")
    if isinstance(declaration, MoneyOf):
        first, *multipliers = declaration.factors
        currency = declaration.currency

        def money_rule(c: _Compiler, s: Row, step: FieldStep) -> str:
            minor = " * ".join(f"{s.alias}.{f}" for f in (first, *multipliers))
            minor = minor if not multipliers else f"({minor})"
            return c.object(step, Values({"minor": minor, "currency": f"{s.alias}.{currency}"}))

        return money_rule
    if isinstance(declaration, Embedded):
        columns = dict(declaration.columns)

        def embedded_rule(c: _Compiler, s: Row, step: FieldStep) -> str:
            by_graphql_name = {}
            for inner in _selection(step).steps:
                python_name = inner.field.python_name
                by_graphql_name[inner.nodes[0].name.value] = f"{s.alias}.{columns[python_name]}"
            return c.object(step, Values(by_graphql_name))

        return embedded_rule
    if isinstance(declaration, NodeId):
        return lambda c, s, step: node_id(step.parent.name)(c, s, step)
    if isinstance(declaration, Derived):
        found = DOMAIN_RULES.get(declaration.sql)
        if found is None:
            raise NotExpressible(f"no SQL generator {declaration.sql!r}")
        return found
    raise NotExpressible(f"{declaration!r}")


def _related_rule(spec: Loaded) -> Rule:
    if spec.sql is not None:
        found = DOMAIN_RULES.get(spec.sql)
        if found is None:
            raise NotExpressible(f"no SQL generator {spec.sql!r}")
        return found
    relation = relation_of(spec.loader)
    if relation is None:
        raise NotExpressible(f"loader {spec.loader} has no relation")
    key, target = spec.key_column, relation.column
    # A subject (schema.common.subject): joined only for the kinds it is about.
    kinds = "" if spec.when is None else _one_of(*spec.when)

    def joined(parent: str, child: str) -> str:
        return f"{child}.{target} = {parent}.{key}" + kinds.format(a=parent)

    if relation.many:
        order = ", ".join(f"{{a}}.{c}" for c in relation.order) or "{a}.id"
        return many(relation.model, joined, order)
    return one(relation.model, joined)


def _one_of(column: str, values: frozenset[str]) -> str:
    """`` AND`` the column (of the row ``{a}``) holds one of ``values``."""
    listed = ", ".join(_literal(v) for v in sorted(values))
    return f" AND {{a}}.{column} IN ({listed})"


def rule_of(step: FieldStep, source: Source) -> Rule:
    """The SQL of one field, from its declaration; NotExpressible when it has none."""
    if isinstance(source, Values):
        type_rules = VALUE_RULES.get(step.parent.name, {})
        name = step.nodes[0].name.value
        return type_rules.get(name) or value(name)
    return field_rule(step.field, f"{step.parent.name}.{step.key}")


def field_rule(field: StrawberryField, where: str) -> Rule:
    """The SQL rule a field's declaration gives it; NotExpressible when it has none."""
    resolver = field.base_resolver
    spec = None if resolver is None else getattr(resolver.wrapped_func, "loaded", None)
    if spec is not None:
        return _related_rule(spec)
    declaration = declaration_of(field)
    if declaration is None:
        raise NotExpressible(f"{where} declares no data meaning")
    return _declared_rule(declaration)


# Root fields written in SQL, and the objects built of values already in scope (by the
# rule of the field that holds them): what derivation_gaps counts as covered.
ROOT_FIELDS = frozenset({"viewer", "product"})
VALUE_TYPES = frozenset({"Money", "Address", "OrderTabCount", "PageInfo", "ProductRating"})


def derivation_gaps(schema: GraphQLSchema) -> list[str]:
    """Every read field (reachable from the query root) that no rule here derives."""
    query = schema.query_type
    if query is None:
        return ["Query"]
    from schema.sql_nodes import ROOTS  # schema.sql_nodes builds on this module

    roots = ROOT_FIELDS | ROOTS.keys()
    gaps = [f"Query.{name}" for name in query.fields if name not in roots]
    seen: set[str] = set()
    todo = [get_named_type(f.type) for f in query.fields.values()]
    while todo:
        named = todo.pop()
        if named.name in seen or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLInterfaceType):
            todo.extend(schema.get_possible_types(named))
            continue
        todo.extend(get_named_type(f.type) for f in named.fields.values())
        structural = named.name in VALUE_TYPES or named.name.endswith(("Connection", "Edge"))
        if structural:
            continue  # built whole by the rule of the field that returns it
        for name, definition in named.fields.items():
            field = (definition.extensions or {}).get("strawberry-definition")
            try:
                if not isinstance(field, StrawberryField):
                    raise NotExpressible(name)
                field_rule(field, f"{named.name}.{name}")
            except NotExpressible:
                gaps.append(f"{named.name}.{name}")
    return sorted(gaps)


@dataclass(frozen=True)
class PageParameters:
    """A connection's page: its size, direction and the cursor's key and id (NULL: from
    the end the page starts at)."""

    size: str
    forward: str
    key: str
    pk: str


PAGE_ARGUMENTS = frozenset({"first", "after", "last", "before"})

# (context, variables) -> a bound value of one request
Parameter = Callable[["Context", "VariableValues"], Any]

T = TypeVar("T")


def once_per_request(
    produce: Callable[[Context, VariableValues], T],
) -> Callable[[Context, VariableValues], T]:
    """``produce``, computed once for the request whose parameters are being bound: the
    several parameters made from one argument are bound one after another (no await
    between them), so the last request's value is the one asked for again. A request's
    coerced variables are a new object (Plan.run); they are held, so their identity
    cannot be reused by another request's. (What ``produce`` reads of the context is the
    same for every request: the page size settings.)"""
    last: list[tuple[Any, T]] = []

    def remembered(context: Context, variables: VariableValues) -> T:
        if last and last[0][0] is variables:
            return last[0][1]
        found = produce(context, variables)
        last[:] = [(variables, found)]
        return found

    return remembered


class _Compiler:
    """Writes a selection's statement once; its parameters are read per request."""

    def __init__(self) -> None:
        self.viewer = ":viewer"
        self.parameters: dict[str, Parameter] = {"viewer": lambda context, _: context.viewer_id}
        self._aliases = itertools.count()
        # Response keys of `viewer`: null there means no such user (the resolvers' call).
        self.viewer_keys: list[str] = []
        # Connections being written around the field being written (see connection).
        self.connections = 0

    def alias(self) -> str:
        return f"t{next(self._aliases)}"

    def parameter(self, produce: Parameter) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = produce
        return f":{name}"

    def page(self, step: FieldStep, listing: Listing, *, narrowed: bool) -> PageParameters:
        """The page a connection field asks for, as bound parameters; the resolvers' own
        checks (pagination.page_args) decide it, so what they refuse, the Python plan
        answers."""

        @once_per_request
        def args(context: Context, variables: VariableValues) -> PageArgs:
            arguments = get_argument_values(step.definition, step.nodes[0], variables)
            known = PAGE_ARGUMENTS | {"filter"} if narrowed else PAGE_ARGUMENTS
            if any(v is not None for k, v in arguments.items() if k not in known):
                raise NotExpressible(f"{step.key}: arguments other than a page's")
            return page_args(
                list_name=listing.name,
                key_kind=listing.key_kind,
                first=arguments.get("first"),
                after=arguments.get("after"),
                last=arguments.get("last"),
                before=arguments.get("before"),
                default_size=context.default_page_size,
                max_size=context.max_page_size,
            )

        def key(context: Context, variables: VariableValues) -> Any:
            cursor_at = args(context, variables).cursor
            return None if cursor_at is None else cursor_at[0]

        def pk(context: Context, variables: VariableValues) -> Any:
            cursor_at = args(context, variables).cursor
            return None if cursor_at is None else cursor_at[1]

        return PageParameters(
            size=self.parameter(lambda context, variables: args(context, variables).size),
            forward=self.parameter(lambda context, variables: args(context, variables).forward),
            key=self.parameter(key),
            pk=self.parameter(pk),
        )

    def fields(self, selection: Selection, source: Source) -> dict[str, str]:
        built: dict[str, str] = {}
        for step in selection.steps:
            built[step.key] = scalar_json(step, rule_of(step, source)(self, source, step))
        return built

    def build(self, selection: Selection, built: dict[str, str]) -> str:
        pairs = []
        for key in selection.keys:
            expression = (
                as_text(_literal(selection.type_name))
                if key in selection.typename_keys
                else built[key]
            )
            pairs.append((key, expression))
        return json_object(pairs)

    def object(self, step: FieldStep, source: Source) -> str:
        """The JSON object of the selection under ``step`` (of each item, for a list)."""
        selection = _selection(step)
        return self.build(selection, self.fields(selection, source))

    def root(self, root: Selection) -> str:
        from schema.sql_nodes import ROOTS  # schema.sql_nodes builds on this module

        built = {}
        for step in root.steps:
            name = step.nodes[0].name.value
            by_id = ROOTS.get(name)
            if by_id is not None:
                built[step.key] = by_id(self, step)
                continue
            alias = self.alias()
            inner = self.object(step, Row(alias))
            if name == "viewer":
                self.viewer_keys.append(step.key)
                built[step.key] = (
                    f"(SELECT {inner} FROM {_table(User)} {alias} WHERE {alias}.id = {self.viewer})"
                )
            elif name == "product":
                product_id = self.parameter(_product_id(step))
                products = _table(Product)
                built[step.key] = (
                    f"(SELECT {inner} FROM {products} {alias} WHERE {alias}.id = {product_id})"
                )
            else:
                raise NotExpressible(f"Query.{name} is not written in SQL")
        # One column per response key: each is passed on as the JSON text PostgreSQL
        # wrote (orjson.Fragment), never parsed and serialized again here.
        columns = [
            _literal(f'"{root.type_name}"') if key in root.typename_keys else as_text(built[key])
            for key in root.keys
        ]
        return f"SELECT {', '.join(columns)}"


def _product_id(step: FieldStep) -> Parameter:
    """Query.product's id, checked as the resolver checks it (InvalidArgument otherwise)."""

    def product_id(context: Context, variables: VariableValues) -> int:
        given = get_argument_values(step.definition, step.nodes[0], variables)["id"]
        return expect_global_id(given, "Product")

    return product_id


# What SQLite says of a statement nested deeper than its parser's stack (YYSTACKDEPTH).
SQLITE_TOO_DEEP = "parser stack overflow"


# A bound parameter's null test as typed() writes it on PostgreSQL: an optional filter
# term, a page's cursor. ``CAST(:p5 AS text[]) IS NULL``.
_NULL_TEST = re.compile(r"CAST\(:(p\d+) AS [a-z\[\] ]+\) IS NULL")
# A boolean parameter: a page's direction, each way under a one-time test of it.
_SWITCH = re.compile(r"CAST\(:(p\d+) AS boolean\)")
# Statements kept per plan, one per combination of null and non-null tested parameters
# a client sent; past it, the statement with the tests in it answers.
MAX_SHAPES = 16


@dataclass
class SqlPlan:
    """One statement answering a compiled plan, and how to bind it per request."""

    statement: TextClause
    parameters: dict[str, Parameter]
    keys: tuple[str, ...]  # the `viewer` keys
    response_keys: tuple[str, ...]
    sqlite: bool = False
    # The parameters the statement tests for NULL and its boolean ones, and its text for
    # each combination of their null-ness and truth seen (see statement_for).
    tested: tuple[str, ...] = field(init=False, default=())
    switches: tuple[str, ...] = field(init=False, default=())
    shapes: dict[tuple[bool | None, ...], TextClause] = field(init=False, default_factory=dict)
    # Set when SQLite could not parse the statement (nested deeper than its parser's
    # stack): the Python plan answers this document from then on, with no further try.
    too_deep: bool = False

    def __post_init__(self) -> None:
        if not self.sqlite:
            self.tested = tuple(sorted(set(_NULL_TEST.findall(self.statement.text))))
            self.switches = tuple(sorted(set(_SWITCH.findall(self.statement.text))))

    def statement_for(self, bound: Mapping[str, Any]) -> TextClause:
        """The statement with its null tests and boolean parameters written as the
        constants these values make them. PostgreSQL runs every statement with its
        generic plan (db.engine), which cannot fold ``$5 IS NULL OR status = ANY($5)``
        the way a plan for known values does: it kept every optional filter, search
        term and both page directions of the document in the plan. Written as
        constants, the planner drops what this request does not ask for (in process,
        PostgreSQL time per statement: the Home document 1.34 -> 1.02 ms, Orders by
        tab 1.15 -> 0.87 ms). Each form is the same query: only what the values
        already decide is written in."""
        if not (self.tested or self.switches):
            return self.statement
        nulls = tuple(bound[name] is None for name in self.tested)
        truths = tuple(_truth(bound[name]) for name in self.switches)
        shape = nulls + truths
        found = self.shapes.get(shape)
        if found is None:
            if len(self.shapes) >= MAX_SHAPES:
                return self.statement
            null = dict(zip(self.tested, nulls, strict=True))
            truth = dict(zip(self.switches, truths, strict=True))
            folded = _NULL_TEST.sub(
                lambda test: "true" if null[test.group(1)] else "false", self.statement.text
            )

            def constant(switch: re.Match[str]) -> str:
                value = truth[switch.group(1)]
                return switch.group(0) if value is None else str(value).lower()

            found = self.shapes[shape] = text(_SWITCH.sub(constant, folded))
        return found

    async def answer(self, context: Context, variables: VariableValues) -> dict[str, Any] | None:
        """The answer's data; None when the Python plan must judge this request (no
        viewer, arguments the resolvers would refuse or that are not written here)."""
        if self.too_deep or (context.viewer_id is None and self.keys):
            return None
        try:
            bound = {name: produce(context, variables) for name, produce in self.parameters.items()}
        except (NotExpressible, InvalidArgument):
            return None
        if self.sqlite:
            bound = {name: _sqlite_value(v) for name, v in bound.items()}
        try:
            rows = await context.loaders.reads.text_rows(self.statement_for(bound), bound)
        except OperationalError as error:
            if not (self.sqlite and SQLITE_TOO_DEEP in str(error.orig)):
                log.warning("an SQL plan failed; the Python plan answers", exc_info=True)
                return None
            # A known limit of the embedded database, not a fault: which documents reach
            # it depends on their shape alone, so it is found once per document.
            log.info("SQLite cannot parse this document's statement; the Python plan answers")
            self.too_deep = True
            return None
        except Exception:
            # A rule PostgreSQL refuses (or a statement timeout): the request is still
            # answered, by the Python plan; the log says this plan is not paying off.
            log.warning("an SQL plan failed; the Python plan answers", exc_info=True)
            return None
        data = {
            key: None if value is None else orjson.Fragment(value)
            for key, value in zip(self.response_keys, rows[0], strict=True)
        }
        if any(data[key] is None for key in self.keys):
            return None  # no such user: the resolvers say NotAuthenticated
        return data


def _truth(value: Any) -> bool | None:
    """A boolean parameter's value, when it is one (None: left a parameter)."""
    return value if isinstance(value, bool) else None


def _sqlite_value(value: Any) -> Any:
    """A parameter as SQLite compares it with what db.types stored: instants as naive UTC
    text with six digits of microseconds, lists as JSON arrays."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return value


def compile_sql(root: Selection, dialect: str = "postgresql") -> SqlPlan | None:
    """The statement of a query whose every field has a rule; None otherwise."""
    compiler = _Compiler()
    try:
        with writing(dialect):
            sql = compiler.root(root)
    except NotExpressible:
        return None
    return SqlPlan(
        text(sql),
        compiler.parameters,
        tuple(compiler.viewer_keys),
        root.keys,
        dialect == "sqlite",
    )

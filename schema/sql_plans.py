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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLEnumType, get_named_type
from graphql.execution.values import get_argument_values
from sqlalchemy import TextClause, text

from db.models import (
    Order,
    OrderEvent,
    OrderItem,
    Payment,
    PaymentMethod,
    Product,
    Recommendation,
    Shipment,
    ShipmentEvent,
    Shop,
    TaggedItem,
    User,
)
from domain import order_status as rules
from domain.money import MINOR_UNIT_EXPONENTS
from resolvers.activity import RECOMMENDATIONS_LIST, recommendation_is_shown
from resolvers.errors import InvalidArgument
from resolvers.orders import MAX_ORDER_NUMBER_LENGTH, ORDERS_LIST
from resolvers.pagination import page_args
from resolvers.policy import OPERATOR
from resolvers.subscriptions.cursors import EVENTS_LIST

if TYPE_CHECKING:
    from graphql.execution.values import VariableValues

    from resolvers.context import Context
    from schema.plans import FieldStep, Selection


log = logging.getLogger("ordercenter.plans")


class NotExpressible(Exception):
    """A part of the document has no rule here; the Python plan answers it."""


def _table(model: Any) -> str:
    return str(model.__tablename__)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def b64url(expression: str) -> str:
    """base64url without padding of a text, as resolvers.ids and cursors encode them."""
    return (
        f"rtrim(translate(encode(convert_to({expression}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"
    )


def instant(expression: str) -> str:
    """datetime.isoformat() of a UTC instant: six digits of microseconds, or none at all."""
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
        return f"({minor})::text"
    return f"round(({minor})::numeric / {10**exponent}, {exponent})::text"


def float_json(expression: str) -> str:
    """json.dumps of a float (Python's repr): integral values keep their '.0'."""
    return (
        f"(CASE WHEN {expression} = trunc({expression}) AND abs({expression}) < 1e16 "
        f"THEN trunc({expression})::bigint::text || '.0' ELSE ({expression})::text END)"
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


def column(name: str) -> Rule:
    return lambda c, s, step: f"{s.alias}.{name}"


def instant_column(name: str) -> Rule:
    return lambda c, s, step: instant(f"{s.alias}.{name}")


def node_id(type_name: str) -> Rule:
    """resolvers.ids.to_global_id. base64 encodes 3 bytes at a time, so the part of the
    constant "Type:" prefix that fills whole groups is encoded here, once."""
    prefix = f"{type_name}:".encode()
    whole = len(prefix) - len(prefix) % 3
    head = base64.urlsafe_b64encode(prefix[:whole]).decode()
    tail = prefix[whole:].decode()

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        rest = b64url(f"'{tail}' || {s.alias}.id")
        return f"('{head}' || {rest})"

    return rule


def enum_column(name: str) -> Rule:
    return lambda c, s, step: _case(f"{s.alias}.{name}", _enum_names(step))


def value(name: str) -> Rule:
    return lambda c, s, step: s.fields[name]


def money(minor: str, currency: str = "currency") -> Rule:
    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        minor_sql, currency_sql = f"{s.alias}.{minor}", f"{s.alias}.{currency}"
        return c.object(step, Values({"minor": minor_sql, "currency": currency_sql}))

    return rule


def one(model: Any, condition: Callable[[str, str], str]) -> Rule:
    """The row of ``model`` where ``condition(parent alias, its alias)``; null if none."""

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        alias = c.alias()
        inner = c.object(step, Row(alias))
        where = condition(s.alias, alias)
        return f"(SELECT {inner} FROM {_table(model)} {alias} WHERE {where})"

    return rule


def many(model: Any, condition: Callable[[str, str], str], order: str) -> Rule:
    """Rows of ``model`` where ``condition``, in ``order`` (a format of the alias)."""

    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        alias = c.alias()
        inner = c.object(step, Row(alias))
        where = condition(s.alias, alias)
        ordering = order.format(a=alias)
        return (
            f"COALESCE((SELECT json_agg({inner} ORDER BY {ordering}) "
            f"FROM {_table(model)} {alias} WHERE {where}), '[]'::json)"
        )

    return rule


def _tab_counts(c: _Compiler, s: Row, step: FieldStep) -> str:
    alias = c.alias()
    tab_counts: Any = get_named_type(step.definition.type)
    tab_names = _names(get_named_type(tab_counts.fields["tab"].type))
    items = []
    for tab in rules.OrderTab:
        statuses = ", ".join(_literal(st.value) for st in rules.statuses_of_tab(tab))
        count = f"count(*) FILTER (WHERE {alias}.status IN ({statuses}))"
        items.append(
            c.object(step, Values({"tab": _literal(tab_names[tab.value]), "count": count}))
        )
    return (
        f"(SELECT json_build_array({', '.join(items)}) "
        f"FROM {_table(Order)} {alias} WHERE {alias}.user_id = {s.alias}.id)"
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
    alias = c.alias()
    names = _enum_names(step)
    return (
        f"(SELECT CASE WHEN bool_or({alias}.status = 'REFUNDED') THEN {_literal(names['REFUNDED'])}"
        f" WHEN bool_or({alias}.status = 'CAPTURED') THEN {_literal(names['PAID'])}"
        f" ELSE {_literal(names['UNPAID'])} END"
        f" FROM {_table(Payment)} {alias} WHERE {alias}.order_id = {s.alias}.id)"
    )


def _tab(c: _Compiler, s: Row, step: FieldStep) -> str:
    names = _enum_names(step)
    return _case(
        f"{s.alias}.status", {st.value: names[rules.tab_of(st).value] for st in rules.OrderStatus}
    )


def _available_actions(c: _Compiler, s: Row, step: FieldStep) -> str:
    """domain.order_status.available_actions for the roles policy.order_roles gives."""
    names = _enum_names(step)
    viewer, shop, roles = c.viewer, c.alias(), c.alias()
    seller = (
        f"((SELECT role FROM {_table(User)} WHERE id = {viewer}) = {_literal(OPERATOR)} OR "
        f"EXISTS (SELECT 1 FROM {_table(Shop)} {shop} WHERE {shop}.id = {s.alias}.shop_id "
        f"AND {shop}.owner_id = {viewer}))"
    )
    by_status = []
    for status in rules.OrderStatus:
        by_roles = []
        for is_buyer, is_seller in itertools.product((True, False), repeat=2):
            actors = frozenset(
                a
                for a, held in ((rules.Actor.BUYER, is_buyer), (rules.Actor.SELLER, is_seller))
                if held
            )
            actions = orjson.dumps(
                [names[a.value] for a in rules.available_actions(status, actors)]
            )
            test = (
                f"{'' if is_buyer else 'NOT '}{roles}.buyer AND "
                f"{'' if is_seller else 'NOT '}{roles}.seller"
            )
            by_roles.append(f"WHEN {test} THEN {_literal(actions.decode())}::json")
        by_status.append(f"WHEN {_literal(status.value)} THEN CASE {' '.join(by_roles)} END")
    # The roles once per order, then the table of every (status, roles) case.
    return (
        f"(SELECT CASE {roles}.status {' '.join(by_status)} END FROM (SELECT "
        f"{s.alias}.status AS status, {s.alias}.user_id = {viewer} AS buyer, "
        f"{seller} AS seller) {roles})"
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


@dataclass(frozen=True)
class Listing:
    """A Relay connection over one table, newest (or best) first, by ``(key, id)``."""

    model: Any
    list_name: str
    key: str
    key_json: Callable[[str], str]  # the key's JSON text in a cursor
    where: Callable[[str, str], str]  # (owner alias, row alias) -> condition


ORDERS = Listing(
    Order,
    ORDERS_LIST,
    "placed_at",
    lambda k: "'\"' || " + instant(k) + " || '\"'",
    lambda owner, row: f"{row}.user_id = {owner}.id",
)
RECOMMENDATIONS = Listing(
    Recommendation,
    RECOMMENDATIONS_LIST,
    "score",
    float_json,
    # Not dismissed, and the product still in stock and on sale: the same condition as
    # resolvers.activity.recommendations_page, from the one place both read it.
    lambda owner, row: f"{row}.user_id = {owner}.id AND {recommendation_is_shown(row)}",
)


def connection(listing: Listing, key_kind: str) -> Rule:
    def rule(c: _Compiler, s: Row, step: FieldStep) -> str:
        size = c.page_size(step, listing.list_name, key_kind)
        page, edge = c.alias(), c.alias()
        table = _table(listing.model)
        order_desc = f"{{a}}.{listing.key} DESC, {{a}}.id DESC"
        rows = (
            f"(SELECT * FROM {table} {page} WHERE {listing.where(s.alias, page)} "
            f"ORDER BY {order_desc.format(a=page)} LIMIT {size})"
        )

        def cursor_of(a: str) -> str:
            return cursor(listing.list_name, listing.key_json(f"{a}.{listing.key}"), f"{a}.id")

        more = c.alias()
        fields: dict[str, str] = {}
        connection_selection = _selection(step)
        for inner in connection_selection.steps:
            name = inner.nodes[0].name.value
            if name == "totalCount":
                counted = c.alias()
                fields[inner.key] = (
                    f"(SELECT count(*) FROM {table} {counted} "
                    f"WHERE {listing.where(s.alias, counted)})"
                )
            elif name == "edges":
                edge_json = _edge(c, inner, cursor_of(edge), Row(edge))
                fields[inner.key] = (
                    f"COALESCE((SELECT json_agg({edge_json} ORDER BY {order_desc.format(a=edge)}) "
                    f"FROM {rows} {edge}), '[]'::json)"
                )
            elif name == "pageInfo":
                last, first = c.alias(), c.alias()
                has_next = (
                    f"((SELECT count(*) FROM (SELECT 1 FROM {table} {more} "
                    f"WHERE {listing.where(s.alias, more)} LIMIT {size} + 1) {c.alias()}) > {size})"
                )
                values = {
                    "hasNextPage": has_next,
                    "hasPreviousPage": "false",
                    "startCursor": (
                        f"(SELECT {cursor_of(first)} FROM {rows} {first} "
                        f"ORDER BY {order_desc.format(a=first)} LIMIT 1)"
                    ),
                    "endCursor": (
                        f"(SELECT {cursor_of(last)} FROM {rows} {last} "
                        f"ORDER BY {last}.{listing.key} ASC, {last}.id ASC LIMIT 1)"
                    ),
                }
                fields[inner.key] = c.object(inner, Values(values))
            else:
                raise NotExpressible(f"{step.parent.name}.{step.key}.{name}")
        return c.build(connection_selection, fields)

    return rule


def _edge(c: _Compiler, step: FieldStep, cursor_sql: str, node: Row) -> str:
    selection = _selection(step)
    built: dict[str, str] = {}
    for inner in selection.steps:
        name = inner.nodes[0].name.value
        if name == "cursor":
            built[inner.key] = cursor_sql
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


RULES: dict[str, dict[str, Rule]] = {
    "User": {
        "id": node_id("User"),
        "handle": column("handle"),
        "displayName": column("display_name"),
        "orderTabs": _tab_counts,
        "orders": connection(ORDERS, "datetime"),
        "recommendations": connection(RECOMMENDATIONS, "float"),
        "order": _order_by_number,
    },
    "OrderTabCount": {"tab": value("tab"), "count": value("count")},
    "PageInfo": {
        name: value(name) for name in ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
    },
    "Money": {
        "amount": lambda c, s, step: amount(s.fields["minor"], s.fields["currency"]),
        "currencyCode": value("currency"),
    },
    "Order": {
        "id": node_id("Order"),
        "number": column("number"),
        "status": enum_column("status"),
        "tab": _tab,
        "version": column("version"),
        "cancelReason": enum_column("cancel_reason"),
        "placedAt": instant_column("placed_at"),
        "updatedAt": instant_column("updated_at"),
        "subtotal": money("subtotal_minor"),
        "shippingFee": money("shipping_minor"),
        "tax": money("tax_minor"),
        "total": money("total_minor"),
        "shippingAddress": lambda c, s, step: c.object(
            step,
            Values(
                {
                    name: f"{s.alias}.ship_{column_name}"
                    for name, column_name in (
                        ("name", "name"),
                        ("line1", "line1"),
                        ("line2", "line2"),
                        ("city", "city"),
                        ("region", "region"),
                        ("postalCode", "postal_code"),
                        ("countryCode", "country_code"),
                        ("phone", "phone"),
                    )
                }
            ),
        ),
        "paymentStatus": _payment_status,
        "availableActions": _available_actions,
        "shop": one(Shop, lambda o, s: f"{s}.id = {o}.shop_id"),
        "items": many(OrderItem, lambda o, i: f"{i}.order_id = {o}.id", "{a}.id"),
        "payments": many(Payment, lambda o, p: f"{p}.order_id = {o}.id", "{a}.created_at, {a}.id"),
        "shipment": one(Shipment, lambda o, s: f"{s}.order_id = {o}.id"),
        "timeline": many(OrderEvent, lambda o, e: f"{e}.order_id = {o}.id", "{a}.id"),
    },
    "Address": {
        name: value(name)
        for name in (
            "name",
            "line1",
            "line2",
            "city",
            "region",
            "postalCode",
            "countryCode",
            "phone",
        )
    },
    "Shop": {"id": node_id("Shop"), "handle": column("handle"), "name": column("name")},
    "OrderItem": {
        "id": node_id("OrderItem"),
        "title": column("title"),
        "quantity": column("quantity"),
        "sourceVideoId": column("source_video_id"),
        "unitPrice": money("unit_price_minor"),
        "total": lambda c, s, step: c.object(
            step,
            Values(
                {
                    "minor": f"({s.alias}.unit_price_minor * {s.alias}.quantity)",
                    "currency": f"{s.alias}.currency",
                }
            ),
        ),
        "product": one(Product, lambda i, p: f"{p}.id = {i}.product_id"),
    },
    "Product": {
        "id": node_id("Product"),
        "title": column("title"),
        "description": column("description"),
        "category": column("category"),
        "imageUrl": column("image_url"),
        "price": money("price_minor"),
        "shop": one(Shop, lambda p, s: f"{s}.id = {p}.shop_id"),
        "viewerHasTagged": _viewer_has_tagged,
    },
    "Payment": {
        "id": node_id("Payment"),
        "status": enum_column("status"),
        "createdAt": instant_column("created_at"),
        "amount": money("amount_minor"),
        "method": _method,
    },
    "PaymentMethod": {
        "id": node_id("PaymentMethod"),
        "brand": column("brand"),
        "last4": column("last4"),
        "expMonth": column("exp_month"),
        "expYear": column("exp_year"),
        "isDefault": column("is_default"),
    },
    "Shipment": {
        "carrier": column("carrier"),
        "trackingNumber": column("tracking_number"),
        "shippedAt": instant_column("shipped_at"),
        "deliveredAt": instant_column("delivered_at"),
        "estimatedDelivery": instant_column("estimated_delivery"),
        "events": many(
            ShipmentEvent,
            lambda s, e: f"{e}.shipment_id = {s}.id",
            "{a}.happened_at, {a}.id",
        ),
    },
    "ShipmentEvent": {
        "kind": enum_column("kind"),
        "location": column("location"),
        "message": column("message"),
        "happenedAt": instant_column("happened_at"),
    },
    "OrderEvent": {
        "id": node_id("OrderEvent"),
        "cursor": lambda c, s, step: cursor(EVENTS_LIST, f"({s.alias}.id)::text", f"{s.alias}.id"),
        "fromStatus": enum_column("from_status"),
        "toStatus": enum_column("to_status"),
        "orderVersion": column("order_version"),
        "actor": enum_column("actor"),
        "note": column("note"),
        "occurredAt": instant_column("occurred_at"),
    },
    "Recommendation": {
        "id": node_id("Recommendation"),
        # A JSON number written as Python writes the float: 1.0 must not come back as 1.
        "score": lambda c, s, step: f"({float_json(s.alias + '.score')})::json",
        "reason": enum_column("reason"),
        "product": one(Product, lambda r, p: f"{p}.id = {r}.product_id"),
        "basedOn": one(Product, lambda r, p: f"{p}.id = {r}.based_on_product_id"),
    },
}


# (context, variables) -> a bound value of one request
Parameter = Callable[["Context", "VariableValues"], Any]


class _Compiler:
    """Writes a selection's statement once; its parameters are read per request."""

    def __init__(self) -> None:
        self.viewer = ":viewer"
        self.parameters: dict[str, Parameter] = {"viewer": lambda context, _: context.viewer_id}
        self._aliases = itertools.count()

    def alias(self) -> str:
        return f"t{next(self._aliases)}"

    def parameter(self, produce: Parameter) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = produce
        return f":{name}"

    def page_size(self, step: FieldStep, list_name: str, key_kind: str) -> str:
        def size(context: Context, variables: VariableValues) -> int:
            arguments = get_argument_values(step.definition, step.nodes[0], variables)
            if any(v is not None for k, v in arguments.items() if k != "first"):
                raise NotExpressible("only `first` pages are written in SQL")
            # The resolvers' own checks: out of range raises, and the Python plan answers.
            return page_args(
                list_name=list_name,
                key_kind=key_kind,  # type: ignore[arg-type]
                first=arguments.get("first"),
                after=None,
                last=None,
                before=None,
                default_size=context.default_page_size,
                max_size=context.max_page_size,
            ).size

        return self.parameter(size)

    def fields(self, selection: Selection, source: Source) -> dict[str, str]:
        rules_of = RULES.get(selection.type_name)
        if rules_of is None:
            raise NotExpressible(f"no rules for {selection.type_name}")
        built: dict[str, str] = {}
        for step in selection.steps:
            name = step.nodes[0].name.value
            rule = rules_of.get(name)
            if rule is None:
                raise NotExpressible(f"{selection.type_name}.{name}")
            built[step.key] = rule(self, source, step)
        return built

    def build(self, selection: Selection, built: dict[str, str]) -> str:
        pairs = []
        for key in selection.keys:
            expression = (
                _literal(selection.type_name) if key in selection.typename_keys else built[key]
            )
            pairs.append(f"{_literal(key)}, {expression}")
        return f"json_build_object({', '.join(pairs)})"

    def object(self, step: FieldStep, source: Source) -> str:
        """The JSON object of the selection under ``step`` (of each item, for a list)."""
        selection = _selection(step)
        return self.build(selection, self.fields(selection, source))

    def root(self, root: Selection) -> str:
        if [s.nodes[0].name.value for s in root.steps] != ["viewer"] * len(root.steps):
            raise NotExpressible("only `viewer` is written in SQL")
        built = {}
        for step in root.steps:
            alias = self.alias()
            inner = self.object(step, Row(alias))
            built[step.key] = (
                f"(SELECT {inner} FROM {_table(User)} {alias} WHERE {alias}.id = {self.viewer})"
            )
        return f"SELECT ({self.build(root, built)})::text"


@dataclass(frozen=True)
class SqlPlan:
    """One statement answering a compiled plan, and how to bind it per request."""

    statement: TextClause
    parameters: dict[str, Parameter]
    keys: tuple[str, ...]

    async def answer(self, context: Context, variables: VariableValues) -> dict[str, Any] | None:
        """The answer's data; None when the Python plan must judge this request (no
        viewer, arguments the resolvers would refuse or that are not written here)."""
        if context.viewer_id is None:
            return None
        try:
            bound = {name: produce(context, variables) for name, produce in self.parameters.items()}
        except (NotExpressible, InvalidArgument):
            return None
        try:
            rows = await context.loaders.reads.rows(self.statement, bound)
        except Exception:
            # A rule PostgreSQL refuses (or a statement timeout): the request is still
            # answered, by the Python plan; the log says this plan is not paying off.
            log.warning("an SQL plan failed; the Python plan answers", exc_info=True)
            return None
        data: dict[str, Any] = orjson.loads(rows[0][0])
        if any(data[key] is None for key in self.keys):
            return None  # no such user: the resolvers say NotAuthenticated
        return data


def compile_sql(root: Selection) -> SqlPlan | None:
    """The statement of a query whose every field has a rule; None otherwise."""
    compiler = _Compiler()
    try:
        sql = compiler.root(root)
    except NotExpressible:
        return None
    return SqlPlan(text(sql), compiler.parameters, root.keys)

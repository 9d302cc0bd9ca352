"""The stronger floor's statements: PostgreSQL builds each whole answer in one statement.

One hand-written statement per operation, the way a person who knows PostgreSQL
would answer these screens without any GraphQL server: nested ``json_build_object`` /
``json_agg`` subqueries, each list read once (an order's payments give both the list
and the payment status), and the answer's text handed back as it came. The floor's
server (bench/floor.py) passes that text through untouched: ``{"data":`` + row + ``}``.

- ``page``     = bench.queries.ORDER_CENTER_PAGE   ($1 viewer, $2 first)
- ``order``    = bench.queries.ORDER_DETAIL        ($1 viewer, $2 number)
- ``activity`` = bench.queries.ACTIVITY            ($1 viewer, $2 first)

Each statement yields no row when the viewer does not exist. The encodings our API
uses (global ids, cursors, money amounts, ISO instants, Python's floats) are written
out here in SQL, from the same domain tables bench.shapes uses; tests/bench checks the
answers against our server's on edge-case data.
"""

# ruff: noqa: S608
# Statements made of this module's own templates and the domain's constants; every value
# a request brings is a bound parameter ($1, $2).

from __future__ import annotations

import base64

from bench.shapes import (
    COUNTED_RETURNS,
    RETURN_WINDOW_SECONDS,
    RETURNABLE,
    REVIEW_EDIT_WINDOW_SECONDS,
    REVIEWABLE,
    TAB_OF,
    TABS,
)
from domain import returns, reviews
from domain.money import MINOR_UNIT_EXPONENTS
from domain.order_status import PAYMENT_STATUS_PRECEDENCE, TRANSITIONS, Actor, OrderTab
from resolvers.orders import MEMBERSHIP_TABS


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def b64url(text: str) -> str:
    """base64url without padding of a text expression (PostgreSQL wraps base64 at 76
    characters: the newlines go too). replace() rather than translate(), which walks the
    text as multibyte characters: the same answer at under half the cost."""
    encoded = f"encode(convert_to({text}, 'UTF8'), 'base64')"
    return f"rtrim(replace(replace(replace({encoded}, '+', '-'), '/', '_'), E'\\n', ''), '=')"


def gid(type_name: str, pk: str) -> str:
    """A global id: base64url of 'Type:pk'. The whole 3-byte groups of the constant
    prefix are encoded once, here."""
    prefix = f"{type_name}:".encode()
    whole = len(prefix) - len(prefix) % 3
    head = base64.urlsafe_b64encode(prefix[:whole]).decode()
    tail = prefix[whole:].decode()
    rest = b64url(f"'{tail}' || {pk}")
    return f"('{head}' || {rest})"


def instant(expression: str) -> str:
    """datetime.isoformat() of a UTC instant: microseconds only when there are some."""
    text = f"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"(replace({text}, '.000000', '') || '+00:00')"


def cursor(list_name: str, key_json: str, pk: str) -> str:
    """base64url of the compact JSON ``[list, key, pk]``."""
    return b64url(f"'[\"{list_name}\",' || {key_json} || ',' || {pk} || ']'")


def time_cursor(list_name: str, row: str, column: str) -> str:
    return cursor(list_name, f"'\"' || {instant(f'{row}.{column}')} || '\"'", f"{row}.id")


def amount(minor: str, currency: str) -> str:
    """The Decimal scalar's text: minor units scaled by the currency's exponent."""
    by_exponent: dict[int, list[str]] = {}
    for code, exponent in sorted(MINOR_UNIT_EXPONENTS.items()):
        by_exponent.setdefault(exponent, []).append(code)
    whens = []
    for exponent, codes in sorted(by_exponent.items()):
        listed = ", ".join(literal(c) for c in codes)
        whens.append(f"WHEN {currency} IN ({listed}) THEN {_scaled(minor, exponent)}")
    return f"(CASE {' '.join(whens)} ELSE {_scaled(minor, 2)} END)"


def _scaled(minor: str, exponent: int) -> str:
    if exponent == 0:
        return f"({minor})::text"
    return f"round(({minor})::numeric / {10**exponent}, {exponent})::text"


def money(minor: str, currency: str, *, code: bool = True) -> str:
    """A Money object; ``code=False`` for a selection of ``amount`` alone."""
    pairs = f"'amount', {amount(minor, currency)}"
    if code:
        pairs += f", 'currencyCode', {currency}"
    return f"json_build_object({pairs})"


def python_float(expression: str) -> str:
    """A JSON number as Python writes the float: an integral value keeps its '.0'."""
    return (
        f"(CASE WHEN {expression} = trunc({expression}) AND abs({expression}) < 1e16 "
        f"THEN (trunc({expression})::bigint::text || '.0')::json ELSE to_json({expression}) END)"
    )


def tab_counts(orders: str) -> str:
    """orderTabs from one pass over the viewer's orders, in the API's tab order."""
    items = []
    for tab in TABS:
        listed = MEMBERSHIP_TABS.get(OrderTab(tab))
        if listed is None:
            statuses = ", ".join(literal(s) for s, t in TAB_OF.items() if t == tab)
            condition = f"{orders}.status IN ({statuses})"
        else:  # a list by its own rule (returns, to review): the API's condition
            condition = listed(orders)
        items.append(
            f"json_build_object('tab', '{tab}', 'count', count(*) FILTER (WHERE {condition}))"
        )
    return f"json_build_array({', '.join(items)})"


def order_tab(status: str) -> str:
    whens = " ".join(f"WHEN {literal(s)} THEN {literal(t)}" for s, t in TAB_OF.items())
    return f"(CASE {status} {whens} END)"


def order_actions(order: str, buyer: str, seller: str, ret: str) -> str:
    """availableActions of the order ``order`` for a viewer who is its buyer / seller (SQL
    booleans): each of the order's own transitions where it is in the source status and
    the viewer holds a role that may take it, then REQUEST_RETURN, then the steps of its
    returns, from the row ``ret`` of order_returns (NULL for an order that takes no returns)."""
    role = {Actor.BUYER: buyer, Actor.SELLER: seller}
    offered: list[str] = []
    for t in TRANSITIONS:
        who = " OR ".join(role[a] for a in sorted(t.actors) if a in role)
        if who:
            condition = f"{order}.status = {literal(t.source.value)} AND ({who})"
            offered.append(f"CASE WHEN {condition} THEN {literal(t.action.value)} END")
    requesters = " OR ".join(role[a] for a in sorted(returns.REQUESTERS))
    offered.append(f"CASE WHEN ({requesters}) AND {ret}.requestable THEN 'REQUEST_RETURN' END")
    for action in returns.step_order():
        by_role = []
        for actor, held in role.items():
            sources = returns.sources_of(action, actor)
            if sources:
                listed = ", ".join(literal(s.value) for s in sources)
                by_role.append(f"({held} AND {ret}.statuses && ARRAY[{listed}]::text[])")
        if by_role:
            name = returns.ORDER_ACTION_OF[action].value
            offered.append(f"CASE WHEN {' OR '.join(by_role)} THEN {literal(name)} END")
    offered.extend(review_actions(order, role))
    return f"array_to_json(array_remove(ARRAY[{', '.join(offered)}]::text[], NULL))"


def review_actions(order: str, role: dict[Actor, str]) -> list[str]:
    """REVIEW while the reviewer's order is reviewable and a line of it has no review;
    EDIT_REVIEW while a review of it by its buyer (the viewer, who reviews) was posted
    inside the edit window."""
    reviewer = " OR ".join(role[a] for a in sorted(reviews.REVIEWERS))
    reviewable = ", ".join(literal(s) for s in sorted(REVIEWABLE))
    unreviewed = (
        f"EXISTS (SELECT 1 FROM order_items ri WHERE ri.order_id = {order}.id AND NOT EXISTS "
        "(SELECT 1 FROM reviews rr WHERE rr.order_item_id = ri.id))"
    )
    editable = (
        f"EXISTS (SELECT 1 FROM reviews re WHERE re.order_id = {order}.id "
        f"AND re.user_id = {order}.user_id "
        f"AND re.posted_at >= now() - interval '{REVIEW_EDIT_WINDOW_SECONDS} seconds')"
    )
    return [
        f"CASE WHEN ({reviewer}) AND {order}.status IN ({reviewable}) AND {unreviewed} "
        "THEN 'REVIEW' END",
        f"CASE WHEN ({reviewer}) AND {editable} THEN 'EDIT_REVIEW' END",
    ]


def order_returns(order: str, ret: str) -> str:
    """A LEFT JOIN LATERAL giving, for an order that takes returns, its returns' statuses
    and whether its buyer may still ask for one: delivered within the window, and some
    unit not in a return that was neither rejected nor withdrawn."""
    returnable = ", ".join(literal(s) for s in sorted(RETURNABLE))
    counted = ", ".join(literal(s) for s in COUNTED_RETURNS)
    return f"""
  LEFT JOIN LATERAL (
    SELECT ARRAY(SELECT r.status::text FROM returns r WHERE r.order_id = {order}.id) AS statuses,
           EXISTS (SELECT 1 FROM shipments d WHERE d.order_id = {order}.id
                   AND d.delivered_at >= now() - interval '{RETURN_WINDOW_SECONDS} seconds')
           AND (SELECT sum(oi.quantity) FROM order_items oi WHERE oi.order_id = {order}.id)
             > (SELECT COALESCE(sum(rl.quantity), 0) FROM return_lines rl
                JOIN returns r ON r.id = rl.return_id
                WHERE r.order_id = {order}.id AND r.status IN ({counted})) AS requestable
    WHERE {order}.status IN ({returnable})) {ret} ON true"""


def _payment_status(statuses: str) -> str:
    """The first status of the domain's precedence any payment has; UNPAID otherwise."""
    whens = " ".join(
        f"WHEN bool_or({statuses} = {literal(status)}) THEN {literal(shown.value)}"
        for status, shown in PAYMENT_STATUS_PRECEDENCE
    )
    return f"CASE {whens} ELSE 'UNPAID' END"


# A recommendation (x) is shown until dismissed, while its product is on sale and in stock.
RECOMMENDATION_SHOWN = (
    "NOT x.dismissed AND EXISTS (SELECT 1 FROM products sp WHERE sp.id = x.product_id "
    "AND sp.stock > 0 AND sp.on_sale)"
)


def json_list(select: str) -> str:
    """A json_agg subquery; [] rather than null when it has no rows."""
    return f"COALESCE(({select}), '[]'::json)"


# The viewer (v) is an operator (seller of every shop) or owns the order's shop (s).
SELLER = "(v.role = 'operator' OR s.owner_id = v.id)"


def order_payments(method: str, *, created_at: bool, code: bool) -> str:
    """An order's (o) payments and its paymentStatus, from one read of its payments;
    the card only when it is the viewer's."""
    fields = [f"'id', {gid('Payment', 'pm.id')}", "'status', pm.status"]
    if created_at:
        fields.append(f"'createdAt', {instant('pm.created_at')}")
    fields.append(f"'amount', {money('pm.amount_minor', 'pm.currency', code=code)}")
    fields.append(
        f"'method', CASE WHEN card.id IS NULL THEN NULL ELSE json_build_object({method}) END"
    )
    return f"""
  CROSS JOIN LATERAL (
    SELECT json_agg(json_build_object({", ".join(fields)}) ORDER BY pm.created_at, pm.id)
             AS list,
           {_payment_status("pm.status")} AS status
    FROM payments pm
    LEFT JOIN payment_methods card ON card.id = pm.payment_method_id AND card.user_id = v.id
    WHERE pm.order_id = o.id) pay"""


def _events(*, note: bool) -> str:
    fields = [
        f"'id', {gid('OrderEvent', 'ev.id')}",
        f"'cursor', {cursor('orderEvents', 'ev.id', 'ev.id')}",
        "'fromStatus', ev.from_status",
        "'toStatus', ev.to_status",
        "'orderVersion', ev.order_version",
        "'actor', ev.actor",
        *(["'note', ev.note"] if note else []),
        f"'occurredAt', {instant('ev.occurred_at')}",
    ]
    return json_list(
        f"SELECT json_agg(json_build_object({', '.join(fields)}) ORDER BY ev.id) "
        "FROM order_events ev WHERE ev.order_id = o.id"
    )


def order_shipment(shipment_fields: list[str], event_fields: list[str]) -> str:
    events = json_list(
        f"SELECT json_agg(json_build_object({', '.join(event_fields)}) "
        "ORDER BY se.happened_at, se.id) "
        "FROM shipment_events se WHERE se.shipment_id = sh.id"
    )
    fields = ", ".join([*shipment_fields, f"'events', {events}"])
    return f"(SELECT json_build_object({fields}) FROM shipments sh WHERE sh.order_id = o.id)"


_PAGE_ITEMS = json_list(f"""
  SELECT json_agg(json_build_object(
    'id', {gid("OrderItem", "i.id")},
    'title', i.title,
    'quantity', i.quantity,
    'unitPrice', {money("i.unit_price_minor", "i.currency")},
    'product', json_build_object(
      'id', {gid("Product", "p.id")},
      'title', p.title,
      'viewerHasTagged', EXISTS (
        SELECT 1 FROM tagged_items t WHERE t.user_id = v.id AND t.product_id = p.id),
      'shop', json_build_object('name', ps.name))) ORDER BY i.id)
  FROM order_items i JOIN products p ON p.id = i.product_id JOIN shops ps ON ps.id = p.shop_id
  WHERE i.order_id = o.id""")

_PAGE_EDGES = json_list(f"""
  SELECT json_agg(json_build_object(
    'cursor', {time_cursor("orders", "o", "placed_at")},
    'node', json_build_object(
      'id', {gid("Order", "o.id")},
      'number', o.number,
      'status', o.status,
      'tab', {order_tab("o.status")},
      'paymentStatus', pay.status,
      'version', o.version,
      'placedAt', {instant("o.placed_at")},
      'availableActions', {order_actions("o", "o.user_id = v.id", SELLER, "ret")},
      'total', {money("o.total_minor", "o.currency")},
      'shop', json_build_object('id', {gid("Shop", "s.id")}, 'name', s.name),
      'items', {_PAGE_ITEMS},
      'payments', COALESCE(pay.list, '[]'::json),
      'shipment', {
    order_shipment(
        ["'carrier', sh.carrier", "'trackingNumber', sh.tracking_number"],
        [
            "'kind', se.kind",
            f"'happenedAt', {instant('se.happened_at')}",
            "'location', se.location",
        ],
    )
},
      'timeline', {_events(note=False)}))
    ORDER BY o.placed_at DESC, o.id DESC)
  FROM shown o JOIN shops s ON s.id = o.shop_id
  {order_payments("'last4', card.last4", created_at=False, code=False)}
  {order_returns("o", "ret")}""")

_RECOMMENDATIONS = json_list(f"""
  SELECT json_agg(json_build_object('node', json_build_object(
    'id', {gid("Recommendation", "r.id")},
    'score', {python_float("r.score")},
    'reason', r.reason,
    'product', json_build_object(
      'id', {gid("Product", "p.id")},
      'title', p.title,
      'imageUrl', p.image_url,
      'price', {money("p.price_minor", "p.currency")}),
    'basedOn', CASE WHEN b.id IS NULL THEN NULL
               ELSE json_build_object('id', {gid("Product", "b.id")}, 'title', b.title) END))
    ORDER BY r.score DESC, r.id DESC)
  FROM (SELECT * FROM recommendations x WHERE user_id = v.id AND {RECOMMENDATION_SHOWN}
        ORDER BY score DESC, id DESC LIMIT 10) r
  JOIN products p ON p.id = r.product_id
  LEFT JOIN products b ON b.id = r.based_on_product_id""")

PAGE = f"""
WITH page AS (
  SELECT id, number, status, version, placed_at, total_minor, currency, shop_id, user_id
  FROM orders WHERE user_id = $1 ORDER BY placed_at DESC, id DESC LIMIT $2 + 1
),
shown AS (SELECT * FROM page ORDER BY placed_at DESC, id DESC LIMIT $2)
SELECT json_build_object('viewer', json_build_object(
  'handle', v.handle,
  'displayName', v.display_name,
  'orderTabs', tabs.list,
  'orders', json_build_object(
    'totalCount', tabs.total,
    'pageInfo', json_build_object(
      'hasNextPage', (SELECT count(*) FROM page) > $2,
      'endCursor', (SELECT {time_cursor("orders", "e", "placed_at")} FROM shown e
                    ORDER BY e.placed_at, e.id LIMIT 1)),
    'edges', {_PAGE_EDGES}),
  'recommendations', json_build_object('edges', {_RECOMMENDATIONS})))::text
FROM users v
CROSS JOIN LATERAL (SELECT {tab_counts("vo")} AS list, count(*) AS total
                    FROM orders vo WHERE vo.user_id = v.id) tabs
WHERE v.id = $1
"""

_DETAIL_ITEMS = json_list(f"""
  SELECT json_agg(json_build_object(
    'id', {gid("OrderItem", "i.id")},
    'title', i.title,
    'quantity', i.quantity,
    'sourceVideoId', i.source_video_id,
    'unitPrice', {money("i.unit_price_minor", "i.currency")},
    'total', {money("i.unit_price_minor * i.quantity", "i.currency")},
    'product', json_build_object(
      'id', {gid("Product", "p.id")},
      'title', p.title,
      'imageUrl', p.image_url,
      'price', {money("p.price_minor", "p.currency")},
      'shop', json_build_object('id', {gid("Shop", "ps.id")}, 'name', ps.name)))
    ORDER BY i.id)
  FROM order_items i JOIN products p ON p.id = i.product_id JOIN shops ps ON ps.id = p.shop_id
  WHERE i.order_id = o.id""")

_DETAIL = f"""
  SELECT json_build_object(
    'id', {gid("Order", "o.id")},
    'number', o.number,
    'status', o.status,
    'tab', {order_tab("o.status")},
    'paymentStatus', pay.status,
    'version', o.version,
    'cancelReason', o.cancel_reason,
    'placedAt', {instant("o.placed_at")},
    'updatedAt', {instant("o.updated_at")},
    'availableActions', {order_actions("o", "o.user_id = v.id", SELLER, "ret")},
    'subtotal', {money("o.subtotal_minor", "o.currency")},
    'shippingFee', {money("o.shipping_minor", "o.currency")},
    'tax', {money("o.tax_minor", "o.currency")},
    'total', {money("o.total_minor", "o.currency")},
    'shippingAddress', json_build_object(
      'name', o.ship_name, 'line1', o.ship_line1, 'line2', o.ship_line2,
      'city', o.ship_city, 'region', o.ship_region, 'postalCode', o.ship_postal_code,
      'countryCode', o.ship_country_code, 'phone', o.ship_phone),
    'shop', json_build_object('id', {gid("Shop", "s.id")}, 'handle', s.handle, 'name', s.name),
    'items', {_DETAIL_ITEMS},
    'payments', COALESCE(pay.list, '[]'::json),
    'shipment', {
    order_shipment(
        [
            "'carrier', sh.carrier",
            "'trackingNumber', sh.tracking_number",
            f"'shippedAt', {instant('sh.shipped_at')}",
            f"'deliveredAt', {instant('sh.delivered_at')}",
            f"'estimatedDelivery', {instant('sh.estimated_delivery')}",
        ],
        [
            "'kind', se.kind",
            "'location', se.location",
            "'message', se.message",
            f"'happenedAt', {instant('se.happened_at')}",
        ],
    )
},
    'timeline', {_events(note=True)})
  FROM orders o JOIN shops s ON s.id = o.shop_id
  {order_payments("'brand', card.brand, 'last4', card.last4", created_at=True, code=True)}
  {order_returns("o", "ret")}
  WHERE o.user_id = v.id AND o.number = $2"""

ORDER = f"""
SELECT json_build_object('viewer', json_build_object('order', ({_DETAIL})))::text
FROM users v WHERE v.id = $1
"""


def _connection(list_name: str, table: str, key: str, node: str, joins: str) -> str:
    """The first $2 of the viewer's rows of ``table``, newest first by (key, id), with
    totalCount and pageInfo { hasNextPage endCursor }; ``node`` of the row ``x``."""
    newest = f"FROM {table} WHERE user_id = v.id ORDER BY {key} DESC, id DESC"
    edges = json_list(
        f"SELECT json_agg(json_build_object('node', {node}) ORDER BY x.{key} DESC, x.id DESC) "
        f"FROM (SELECT * {newest} LIMIT $2) x {joins}"
    )
    return f"""json_build_object(
    'totalCount', (SELECT count(*) FROM {table} WHERE user_id = v.id),
    'pageInfo', json_build_object(
      'hasNextPage', (SELECT count(*) FROM (SELECT 1 {newest} LIMIT $2 + 1) more) > $2,
      'endCursor', (SELECT {time_cursor(list_name, "x", key)}
                    FROM (SELECT id, {key} {newest} LIMIT $2) x
                    ORDER BY x.{key}, x.id LIMIT 1)),
    'edges', {edges})"""


_PRODUCT = f"""json_build_object(
      'id', {gid("Product", "p.id")},
      'title', p.title,
      'category', p.category,
      'price', {money("p.price_minor", "p.currency")},
      'shop', json_build_object('name', ps.name))"""
_WITH_PRODUCT = "JOIN products p ON p.id = x.product_id JOIN shops ps ON ps.id = p.shop_id"

PAYMENT_METHODS = json_list(f"""
  SELECT json_agg(json_build_object(
    'id', {gid("PaymentMethod", "m.id")},
    'brand', m.brand,
    'last4', m.last4,
    'expMonth', m.exp_month,
    'expYear', m.exp_year,
    'isDefault', m.is_default) ORDER BY m.is_default DESC, m.id DESC)
  FROM payment_methods m WHERE m.user_id = v.id AND m.removed_at IS NULL""")

_PAYMENTS = _connection(
    "payments",
    "payments",
    "created_at",
    f"""json_build_object(
      'id', {gid("Payment", "x.id")},
      'status', x.status,
      'createdAt', {instant("x.created_at")},
      'amount', {money("x.amount_minor", "x.currency")},
      'method', CASE WHEN card.id IS NULL THEN NULL
                ELSE json_build_object('brand', card.brand, 'last4', card.last4) END,
      'order', json_build_object('id', {gid("Order", "o.id")}, 'number', o.number))""",
    "JOIN orders o ON o.id = x.order_id "
    "LEFT JOIN payment_methods card ON card.id = x.payment_method_id AND card.user_id = v.id",
)

_TAGGED = _connection(
    "taggedItems",
    "tagged_items",
    "tagged_at",
    f"""json_build_object(
      'id', {gid("TaggedItem", "x.id")},
      'taggedAt', {instant("x.tagged_at")},
      'sourceVideoId', x.source_video_id,
      'product', {_PRODUCT})""",
    _WITH_PRODUCT,
)

_VIEWED = _connection(
    "recentlyViewed",
    "product_views",
    "viewed_at",
    f"json_build_object('viewedAt', {instant('x.viewed_at')}, 'product', {_PRODUCT})",
    _WITH_PRODUCT,
)

ACTIVITY = f"""
SELECT json_build_object('viewer', json_build_object(
  'paymentMethods', {PAYMENT_METHODS},
  'payments', {_PAYMENTS},
  'taggedItems', {_TAGGED},
  'recentlyViewed', {_VIEWED}))::text
FROM users v WHERE v.id = $1
"""

# Operation -> its statement ($1 the viewer, $2 the request's one argument).
STATEMENTS: dict[str, str] = {"page": PAGE, "order": ORDER, "activity": ACTIVITY}

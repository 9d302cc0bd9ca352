"""The stronger floor for every read operation of ``examples/*.graphql``: one statement
each in which PostgreSQL builds the whole answer, as bench/floor_sql.py does for the page.

The floor's server (bench/floor.py) answers ``POST /sql/example/<Operation>`` with the
operation's variables as the body (the JSON an app sends as ``variables``). Python
only reads those variables the way the API reads them (page size and its default, a
cursor, the tab, the search text, an order's global id), picks the statement for
that shape (a floor writes the statement each shape needs, rather than one with
optional terms a generic plan guesses badly) and binds the values; PostgreSQL writes
the answer, passed through untouched.

Written by hand from the examples' selections, in their field order; tests/bench
checks each answer against our server's on seeded data (returns, reviews, refunds,
every tab, paging both ways, searches).

What it leaves out: answers to invalid input (a bad cursor, ``first`` over 100, both
``first`` and ``last``), which our API refuses with an error, and ``node`` of an id
that is not an Order's (answered as null).
"""

# ruff: noqa: S608
# Statements made of this module's own templates and the domain's constants; every value
# a request brings is a bound parameter.

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from bench.floor_sql import (
    PAYMENT_METHODS,
    RECOMMENDATION_SHOWN,
    SELLER,
    cursor,
    gid,
    instant,
    json_list,
    literal,
    money,
    order_actions,
    order_payments,
    order_returns,
    order_shipment,
    order_tab,
    python_float,
    tab_counts,
)
from bench.shapes import REVIEW_EDIT_WINDOW_SECONDS, TAB_OF
from domain.buy_again import PURCHASED_STATUSES
from domain.order_status import OrderTab
from resolvers.orders import MEMBERSHIP_TABS

# The API's page size when a list's `first`/`last` is not given (Settings.default_page_size).
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: list[Any]  # $2, $3, ... ($1 is the viewer)


def _decoded(raw: str) -> Any:
    return json.loads(base64.urlsafe_b64decode((raw + "=" * (-len(raw) % 4)).encode()))


def _after(raw: str | None, kind: str) -> tuple[Any, int] | None:
    """A cursor's (key, id); the list's name is not checked (valid input only)."""
    if raw is None:
        return None
    _, key, pk = _decoded(raw)
    return (datetime.fromisoformat(key) if kind == "datetime" else float(key)), int(pk)


def _size(variables: dict[str, Any], name: str = "first") -> int:
    value = variables.get(name)
    return DEFAULT_PAGE if value is None else int(value)


# --- Forward connections: first / after ---------------------------------------


@dataclass(frozen=True)
class Listing:
    field: str  # viewer's field
    name: str  # the list's name in cursors
    source: str  # the viewer's ($1) rows, with columns id and ``key``
    key: str
    kind: str  # datetime / float
    node: str  # the node of row x (joins below)
    joins: str = ""


def _key_json(listing: Listing, expression: str) -> str:
    if listing.kind == "datetime":
        return f"'\"' || {instant(expression)} || '\"'"
    return f"({python_float(expression)})::text"


@cache
def _listing_sql(listing: Listing, after: bool) -> str:
    key, kind = listing.key, "timestamptz" if listing.kind == "datetime" else "float8"
    since = f"WHERE (r.{key}, r.id) < ($3::{kind}, $4::bigint)" if after else ""
    end = cursor(listing.name, _key_json(listing, f"e.{key}"), "e.id")
    return f"""
WITH page AS (
  SELECT * FROM ({listing.source}) r {since} ORDER BY r.{key} DESC, r.id DESC LIMIT $2 + 1
),
shown AS (SELECT * FROM page ORDER BY {key} DESC, id DESC LIMIT $2)
SELECT json_build_object('viewer', json_build_object('{listing.field}', json_build_object(
  'totalCount', (SELECT count(*) FROM ({listing.source}) c),
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM page) > $2,
    'endCursor', (SELECT {end} FROM shown e ORDER BY e.{key}, e.id LIMIT 1)),
  'edges', {
        json_list(
            f"SELECT json_agg(json_build_object('node', {listing.node}) "
            f"ORDER BY x.{key} DESC, x.id DESC) FROM shown x {listing.joins}"
        )
    })))::text
FROM users v WHERE v.id = $1
"""


def _listing(listing: Listing) -> Callable[[dict[str, Any]], Statement]:
    def statement(variables: dict[str, Any]) -> Statement:
        after = _after(variables.get("after"), listing.kind)
        parameters: list[Any] = [_size(variables)]
        if after is not None:
            parameters += list(after)
        return Statement(_listing_sql(listing, after is not None), parameters)

    return statement


_PRODUCT = f"""json_build_object(
      'id', {gid("Product", "p.id")},
      'title', p.title,
      'category', p.category,
      'price', {money("p.price_minor", "p.currency")},
      'shop', json_build_object('name', ps.name))"""
_WITH_PRODUCT = "JOIN products p ON p.id = x.product_id JOIN shops ps ON ps.id = p.shop_id"

PAYMENTS = Listing(
    "payments",
    "payments",
    "SELECT * FROM payments WHERE user_id = $1",
    "created_at",
    "datetime",
    f"""json_build_object(
      'id', {gid("Payment", "x.id")},
      'status', x.status,
      'createdAt', {instant("x.created_at")},
      'amount', {money("x.amount_minor", "x.currency")},
      'method', CASE WHEN card.id IS NULL THEN NULL
                ELSE json_build_object('brand', card.brand, 'last4', card.last4) END,
      'order', json_build_object('id', {gid("Order", "o.id")}, 'number', o.number))""",
    "JOIN orders o ON o.id = x.order_id "
    "LEFT JOIN payment_methods card ON card.id = x.payment_method_id AND card.user_id = $1",
)

TAGGED = Listing(
    "taggedItems",
    "taggedItems",
    "SELECT * FROM tagged_items WHERE user_id = $1",
    "tagged_at",
    "datetime",
    f"""json_build_object(
      'id', {gid("TaggedItem", "x.id")},
      'taggedAt', {instant("x.tagged_at")},
      'sourceVideoId', x.source_video_id,
      'product', {_PRODUCT})""",
    _WITH_PRODUCT,
)

VIEWED = Listing(
    "recentlyViewed",
    "recentlyViewed",
    "SELECT * FROM product_views WHERE user_id = $1",
    "viewed_at",
    "datetime",
    f"json_build_object('viewedAt', {instant('x.viewed_at')}, 'product', {_PRODUCT})",
    _WITH_PRODUCT,
)

RECOMMENDATIONS = Listing(
    "recommendations",
    "recommendations",
    f"SELECT * FROM recommendations x WHERE x.user_id = $1 AND {RECOMMENDATION_SHOWN}",
    "score",
    "float",
    f"""json_build_object(
      'id', {gid("Recommendation", "x.id")},
      'reason', x.reason,
      'score', {python_float("x.score")},
      'product', {_PRODUCT},
      'basedOn', CASE WHEN b.id IS NULL THEN NULL
                 ELSE json_build_object('id', {gid("Product", "b.id")}, 'title', b.title) END)""",
    f"{_WITH_PRODUCT} LEFT JOIN products b ON b.id = x.based_on_product_id",
)

_PURCHASED = ", ".join(literal(s.value) for s in PURCHASED_STATUSES)
BUY_AGAIN = Listing(
    "buyAgain",
    "buyAgain",
    f"""SELECT bi.product_id AS id, bi.product_id, max(bo.placed_at) AS last_ordered_at,
       count(DISTINCT bo.id) AS times_ordered, sum(bi.quantity) AS units_ordered
     FROM order_items bi JOIN orders bo ON bo.id = bi.order_id
     JOIN products bp ON bp.id = bi.product_id
     WHERE bo.user_id = $1 AND bo.status IN ({_PURCHASED}) AND bp.on_sale
     GROUP BY bi.product_id""",
    "last_ordered_at",
    "datetime",
    f"""json_build_object(
      'lastOrderedAt', {instant("x.last_ordered_at")},
      'timesOrdered', x.times_ordered,
      'unitsOrdered', x.units_ordered,
      'product', {_PRODUCT})""",
    _WITH_PRODUCT,
)


# --- Orders by tab: first/after or last/before, search ---------------------------


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_SEARCHED = (
    "o.number ILIKE {p} "
    "OR EXISTS (SELECT 1 FROM order_items si WHERE si.order_id = o.id AND si.title ILIKE {p}) "
    "OR EXISTS (SELECT 1 FROM shops ss WHERE ss.id = o.shop_id AND ss.name ILIKE {p}) "
    "OR EXISTS (SELECT 1 FROM shipments st WHERE st.order_id = o.id "
    "AND st.tracking_number ILIKE {p})"
)
_ORDER_NODE = f"""json_build_object(
      'id', {gid("Order", "o.id")},
      'number', o.number,
      'status', o.status,
      'placedAt', {instant("o.placed_at")},
      'total', {money("o.total_minor", "o.currency")},
      'shop', json_build_object('name', s.name),
      'items', {
    json_list(
        "SELECT json_agg(json_build_object('title', i.title, 'quantity', i.quantity) "
        "ORDER BY i.id) FROM order_items i WHERE i.order_id = o.id"
    )
})"""


@cache
def _orders_sql(
    tab: str | None, search: bool, forward: bool, after: bool, head: bool
) -> tuple[str, list[str]]:
    """The statement for one shape of the Orders / Home documents, and the names of its
    parameters after $1 (the viewer) in order."""
    names = ["size"]

    def bind(name: str) -> str:
        names.append(name)
        return f"${len(names) + 1}"

    size = "$2"
    terms = ["o.user_id = $1"]
    if tab is not None:
        listed = MEMBERSHIP_TABS.get(OrderTab(tab))
        if listed is None:
            statuses = ", ".join(literal(s) for s, t in TAB_OF.items() if t == tab)
            terms.append(f"o.status IN ({statuses})")
        else:
            terms.append(listed("o"))
    if search:
        terms.append(f"({_SEARCHED.format(p=bind('pattern') + '::text')})")
    where = " AND ".join(terms)
    seek = []
    if after:
        key, pk = bind("key"), bind("pk")
        seek.append(
            f"AND (o.placed_at, o.id) {'<' if forward else '>'} ({key}::timestamptz, {pk}::bigint)"
        )
    way = "DESC" if forward else "ASC"
    more = f"(SELECT count(*) FROM page) > {size}"
    starts = "true" if after else "false"
    key_json = "'\"' || " + instant("e.placed_at") + " || '\"'"
    edge_cursor = cursor("orders", key_json, "e.id")
    head_fields = "'handle', v.handle, 'displayName', v.display_name, " if head else ""
    sql = f"""
WITH page AS (
  SELECT o.id, o.placed_at FROM orders o WHERE {where} {" ".join(seek)}
  ORDER BY o.placed_at {way}, o.id {way} LIMIT {size} + 1
),
shown AS (SELECT * FROM page ORDER BY placed_at {way}, id {way} LIMIT {size})
SELECT json_build_object('viewer', json_build_object({head_fields}
  'orderTabs', (SELECT {tab_counts("vo")} FROM orders vo WHERE vo.user_id = v.id),
  'orders', json_build_object(
    'totalCount', (SELECT count(*) FROM orders o WHERE {where}),
    'pageInfo', json_build_object(
      'hasNextPage', {more if forward else starts},
      'hasPreviousPage', {starts if forward else more},
      'startCursor', (SELECT {edge_cursor} FROM shown e ORDER BY e.placed_at DESC, e.id DESC
                      LIMIT 1),
      'endCursor', (SELECT {edge_cursor} FROM shown e ORDER BY e.placed_at, e.id LIMIT 1)),
    'edges', {
        json_list(
            f"SELECT json_agg(json_build_object('node', {_ORDER_NODE}) "
            "ORDER BY o.placed_at DESC, o.id DESC) "
            "FROM shown e JOIN orders o ON o.id = e.id JOIN shops s ON s.id = o.shop_id"
        )
    })))::text
FROM users v WHERE v.id = $1
"""
    return sql, names


def _orders(head: bool) -> Callable[[dict[str, Any]], Statement]:
    def statement(variables: dict[str, Any]) -> Statement:
        forward = variables.get("last") is None and variables.get("before") is None
        size = _size(variables, "first" if forward else "last")
        if head and variables.get("first") is None:
            size = 10  # Home's own default
        raw = variables.get("after" if forward else "before")
        after = _after(raw, "datetime")
        text = (variables.get("search") or "").strip()
        sql, names = _orders_sql(variables.get("tab"), bool(text), forward, after is not None, head)
        values: dict[str, Any] = {"size": size, "pattern": _like_pattern(text)}
        if after is not None:
            values["key"], values["pk"] = after
        return Statement(sql, [values[n] for n in names])

    return statement


# --- Order detail by node id, and the viewer's cards -------------------------------

_SEES = f"(o.user_id = v.id OR {SELLER})"
_ORDER_DETAIL = f"""
  SELECT json_build_object(
    'id', {gid("Order", "o.id")},
    'number', o.number,
    'status', o.status,
    'tab', {order_tab("o.status")},
    'version', o.version,
    'cancelReason', o.cancel_reason,
    'placedAt', {instant("o.placed_at")},
    'paymentStatus', pay.status,
    'availableActions', {order_actions("o", "o.user_id = v.id", SELLER, "ret")},
    'subtotal', {money("o.subtotal_minor", "o.currency")},
    'shippingFee', {money("o.shipping_minor", "o.currency")},
    'tax', {money("o.tax_minor", "o.currency")},
    'total', {money("o.total_minor", "o.currency")},
    'shop', json_build_object('name', s.name),
    'shippingAddress', json_build_object(
      'name', o.ship_name, 'line1', o.ship_line1, 'line2', o.ship_line2,
      'city', o.ship_city, 'region', o.ship_region, 'postalCode', o.ship_postal_code,
      'countryCode', o.ship_country_code),
    'items', {
    json_list(f'''SELECT json_agg(json_build_object(
      'id', {gid("OrderItem", "i.id")},
      'title', i.title,
      'quantity', i.quantity,
      'sourceVideoId', i.source_video_id,
      'unitPrice', {money("i.unit_price_minor", "i.currency")},
      'total', {money("i.unit_price_minor * i.quantity", "i.currency")}) ORDER BY i.id)
    FROM order_items i WHERE i.order_id = o.id''')
},
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
    'timeline', {
    json_list(f'''SELECT json_agg(json_build_object(
      'id', {gid("OrderEvent", "ev.id")},
      'cursor', {cursor("orderEvents", "ev.id", "ev.id")},
      'fromStatus', ev.from_status,
      'toStatus', ev.to_status,
      'actor', ev.actor,
      'note', ev.note,
      'occurredAt', {instant("ev.occurred_at")}) ORDER BY ev.id)
    FROM order_events ev WHERE ev.order_id = o.id''')
})
  FROM orders o JOIN shops s ON s.id = o.shop_id
  {order_payments("'brand', card.brand, 'last4', card.last4", created_at=True, code=True)}
  {order_returns("o", "ret")}
  WHERE o.id = $2 AND {_SEES}"""

_CARDS = json_list(
    """
  SELECT json_agg(json_build_object(
    'id', """
    + gid("PaymentMethod", "m.id")
    + """,
    'brand', m.brand, 'last4', m.last4, 'isDefault', m.is_default)
    ORDER BY m.is_default DESC, m.id DESC)
  FROM payment_methods m WHERE m.user_id = v.id AND m.removed_at IS NULL"""
)

ORDER_DETAIL = f"""
SELECT json_build_object('node', ({_ORDER_DETAIL}),
  'viewer', json_build_object('paymentMethods', {_CARDS}))::text
FROM users v WHERE v.id = $1
"""


def _order_pk(raw: str) -> int:
    """The primary key an Order's global id names; 0 (no order) for any other id."""
    try:
        type_name, _, pk = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).partition(b":")
        return int(pk) if type_name == b"Order" else 0
    except (ValueError, binascii.Error):
        return 0


# The last moment a review (rv) may be edited: the edit window in seconds after posting.
EDITABLE_UNTIL = f"(rv.posted_at + interval '{REVIEW_EDIT_WINDOW_SECONDS} seconds')"
_REVIEW = f"""(SELECT json_build_object(
        'id', {gid("Review", "rv.id")},
        'rating', rv.rating,
        'text', rv.text,
        'postedAt', {instant("rv.posted_at")},
        'editedAt', {instant("rv.edited_at")},
        'editableUntil', {instant(EDITABLE_UNTIL)})
      FROM reviews rv WHERE rv.order_item_id = i.id)"""
_REVIEWED_ITEMS = json_list(f"""SELECT json_agg(json_build_object(
      'id', {gid("OrderItem", "i.id")},
      'title', i.title,
      'quantity', i.quantity,
      'review', {_REVIEW}) ORDER BY i.id)
    FROM order_items i WHERE i.order_id = o.id""")
_RETURN_LINES = json_list(f"""SELECT json_agg(json_build_object(
        'quantity', rl.quantity,
        'item', json_build_object('id', {gid("OrderItem", "li.id")}, 'title', li.title))
        ORDER BY rl.id)
      FROM return_lines rl JOIN order_items li ON li.id = rl.order_item_id
      WHERE rl.return_id = r.id""")
_RETURNS = json_list(f"""SELECT json_agg(json_build_object(
      'id', {gid("OrderReturn", "r.id")},
      'status', r.status,
      'reason', r.reason,
      'note', r.note,
      'rejectReason', r.reject_reason,
      'carrier', r.carrier,
      'trackingNumber', r.tracking_number,
      'refundFailure', r.refund_failure,
      'requestedAt', {instant("r.requested_at")},
      'refundedAt', {instant("r.refunded_at")},
      'refundTotal', {money("r.total_minor", "r.currency")},
      'lines', {_RETURN_LINES}) ORDER BY r.id)
    FROM returns r WHERE r.order_id = o.id""")
_AFTER_DELIVERY = f"""
  SELECT json_build_object(
    'id', {gid("Order", "o.id")},
    'status', o.status,
    'availableActions', {order_actions("o", "o.user_id = v.id", SELLER, "ret")},
    'items', {_REVIEWED_ITEMS},
    'returns', {_RETURNS})
  FROM orders o JOIN shops s ON s.id = o.shop_id
  {order_returns("o", "ret")}
  WHERE o.id = $2 AND {_SEES}"""

AFTER_DELIVERY = f"""
SELECT json_build_object('node', ({_AFTER_DELIVERY}))::text FROM users v WHERE v.id = $1
"""

WALLET = f"""
SELECT json_build_object('viewer', json_build_object('paymentMethods', {PAYMENT_METHODS}))::text
FROM users v WHERE v.id = $1
"""

# Operation name (examples/<name>.graphql) -> its statement for the request's variables.
EXAMPLES: dict[str, Callable[[dict[str, Any]], Statement]] = {
    "Home": _orders(head=True),
    "Orders": _orders(head=False),
    "OrderDetail": lambda variables: Statement(ORDER_DETAIL, [_order_pk(str(variables["id"]))]),
    "OrderAfterDelivery": lambda variables: Statement(
        AFTER_DELIVERY, [_order_pk(str(variables["id"]))]
    ),
    "Tagged": _listing(TAGGED),
    "RecentlyViewed": _listing(VIEWED),
    "Wallet": lambda variables: Statement(WALLET, []),
    "Payments": _listing(PAYMENTS),
    "Recommendations": _listing(RECOMMENDATIONS),
    "BuyAgain": _listing(BUY_AGAIN),
}

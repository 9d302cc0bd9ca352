"""The floor: a bare Starlette app answering the benchmark's reads with hand-written SQL.

What Python can do at best on this stack: no GraphQL, no ORM. It checks the bearer
token, runs a few joined statements on one connection (asyncpg on PostgreSQL, a
small pool of aiosqlite connections on SQLite) and returns the JSON our API returns
for the same operation, serialized with orjson:

- ``POST /page``  ``{"first": 20}``   = bench.queries.ORDER_CENTER_PAGE: 8 statements
- ``POST /order`` ``{"number": "…"}`` = bench.queries.ORDER_DETAIL: 6 statements

(totalCount is the sum of the status tabs' counts: both count the viewer's orders.)

The stronger floor, PostgreSQL only: one statement per operation in which PostgreSQL
builds the whole answer (bench/floor_sql.py), its text passed through untouched as
``{"data":`` + row + ``}``, nothing parsed or serialized in Python:

- ``POST /sql/page``     ``{"first": 20}``    = ORDER_CENTER_PAGE
- ``POST /sql/order``    ``{"number": "…"}``  = ORDER_DETAIL
- ``POST /sql/activity`` ``{"first": 10}``    = bench.queries.ACTIVITY
- ``POST /sql/example/<Operation>`` (its variables) = each read operation of
  ``examples/*.graphql`` (bench/floor_examples.py)
``GET /__bench/statements`` answers how many statements it has run so far.

    ORDERCENTER_DATABASE_URL=… ORDERCENTER_JWT_SECRET=… \
        uvicorn --factory bench.floor:app_factory
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.databases import plain_url
from bench.floor_examples import EXAMPLES
from bench.floor_sql import STATEMENTS
from bench.shapes import (
    COUNTED_RETURNS,
    TAB_OF,
    TABS,
    cursor,
    global_id,
    money,
    order_actions,
    payment_status,
    utc,
    viewer_of,
)
from resolvers.orders import MEMBERSHIP_TABS

SQLITE_CONNECTIONS = 8
PG_POOL_SIZE = 10

# An order's returns with their units (for availableActions: which steps are open, and
# whether a unit is left to ask a return for).
_RETURNS = """
SELECT r.order_id, r.status,
       COALESCE((SELECT sum(rl.quantity) FROM return_lines rl WHERE rl.return_id = r.id), 0)
FROM returns r WHERE r.order_id """


# An order's reviews: how many of its lines are reviewed, and which are the viewer's.
_REVIEWS = "SELECT rv.order_id, rv.user_id, rv.posted_at FROM reviews rv WHERE rv.order_id "


def _actions(
    status: str,
    seller: bool,
    returns: Sequence[Sequence[Any]],
    delivered_at: Any,
    ordered_units: int,
    lines: int,
    reviews: Sequence[Sequence[Any]],
    viewer: int,
) -> list[str]:
    """availableActions from an order's returns rows (_RETURNS), its shipment, its
    number of lines and its reviews rows (_REVIEWS)."""
    counted = sum(r[2] for r in returns if r[1] in COUNTED_RETURNS)
    statuses = [r[1] for r in returns]
    own = [r[2] for r in reviews if r[1] == viewer]
    return order_actions(
        status, seller, statuses, delivered_at, ordered_units, counted, lines - len(reviews), own
    )


PAGE_SQL = {
    "viewer": """
SELECT u.handle, u.display_name, u.role, o.status, count(o.id), """
    # The lists by a rule of their own (returns, to review), counted as the API counts them.
    + ", ".join(f"count(o.id) FILTER (WHERE {listed('o')})" for listed in MEMBERSHIP_TABS.values())
    + """
FROM users u LEFT JOIN orders o ON o.user_id = u.id
WHERE u.id = :viewer GROUP BY u.handle, u.display_name, u.role, o.status""",
    "orders": """
SELECT o.id, o.number, o.status, o.version, o.placed_at, o.total_minor, o.currency,
       o.shop_id, s.name, s.owner_id
FROM orders o JOIN shops s ON s.id = o.shop_id
WHERE o.user_id = :viewer ORDER BY o.placed_at DESC, o.id DESC LIMIT :limit""",
    "items": """
SELECT i.order_id, i.id, i.title, i.quantity, i.unit_price_minor, i.currency,
       p.id, p.title, ps.name,
       EXISTS (SELECT 1 FROM tagged_items t WHERE t.user_id = :viewer AND t.product_id = p.id)
FROM order_items i JOIN products p ON p.id = i.product_id JOIN shops ps ON ps.id = p.shop_id
WHERE i.order_id IN (:orders) ORDER BY i.id""",
    "payments": """
SELECT pay.order_id, pay.id, pay.status, pay.amount_minor, pay.currency, pm.last4
FROM payments pay
LEFT JOIN payment_methods pm ON pm.id = pay.payment_method_id AND pm.user_id = :viewer
WHERE pay.order_id IN (:orders) ORDER BY pay.created_at, pay.id""",
    "shipments": """
SELECT sh.order_id, sh.carrier, sh.tracking_number, se.kind, se.happened_at, se.location,
       sh.delivered_at
FROM shipments sh LEFT JOIN shipment_events se ON se.shipment_id = sh.id
WHERE sh.order_id IN (:orders) ORDER BY sh.order_id, se.happened_at, se.id""",
    "events": """
SELECT order_id, id, from_status, to_status, order_version, actor, occurred_at
FROM order_events WHERE order_id IN (:orders) ORDER BY id""",
    "returns": _RETURNS + "IN (:orders)",
    "reviews": _REVIEWS + "IN (:orders)",
    "recommendations": """
SELECT r.id, r.score, r.reason, p.id, p.title, p.image_url, p.price_minor, p.currency,
       b.id, b.title
FROM recommendations r JOIN products p ON p.id = r.product_id
LEFT JOIN products b ON b.id = r.based_on_product_id
WHERE r.user_id = :viewer AND r.dismissed = :false
ORDER BY r.score DESC, r.id DESC LIMIT :limit""",
}

DETAIL_SQL = {
    "order": """
SELECT o.id, o.number, o.status, o.version, o.cancel_reason, o.placed_at, o.updated_at,
       o.currency, o.subtotal_minor, o.shipping_minor, o.tax_minor, o.total_minor,
       o.ship_name, o.ship_line1, o.ship_line2, o.ship_city, o.ship_region,
       o.ship_postal_code, o.ship_country_code, o.ship_phone,
       s.id, s.handle, s.name, s.owner_id, u.role
FROM orders o JOIN shops s ON s.id = o.shop_id JOIN users u ON u.id = o.user_id
WHERE o.number = :number AND o.user_id = :viewer""",
    "items": """
SELECT i.id, i.title, i.quantity, i.unit_price_minor, i.currency, i.source_video_id,
       p.id, p.title, p.image_url, p.price_minor, p.currency, ps.id, ps.name
FROM order_items i JOIN products p ON p.id = i.product_id JOIN shops ps ON ps.id = p.shop_id
WHERE i.order_id = :order ORDER BY i.id""",
    "payments": """
SELECT pay.id, pay.status, pay.created_at, pay.amount_minor, pay.currency, pm.brand, pm.last4
FROM payments pay
LEFT JOIN payment_methods pm ON pm.id = pay.payment_method_id AND pm.user_id = :viewer
WHERE pay.order_id = :order ORDER BY pay.created_at, pay.id""",
    "shipment": """
SELECT sh.carrier, sh.tracking_number, sh.shipped_at, sh.delivered_at, sh.estimated_delivery,
       se.kind, se.location, se.message, se.happened_at
FROM shipments sh LEFT JOIN shipment_events se ON se.shipment_id = sh.id
WHERE sh.order_id = :order ORDER BY se.happened_at, se.id""",
    "events": """
SELECT id, from_status, to_status, order_version, actor, note, occurred_at
FROM order_events WHERE order_id = :order ORDER BY id""",
    "returns": _RETURNS + "= :order",
    "reviews": _REVIEWS + "= :order",
}

_PARAM = re.compile(r":([a-z]+)")


class Database:
    """Run named statements; ``:name`` parameters, ``(:orders)`` a list of ids."""

    statements = 0

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def connection(self) -> Any:
        raise NotImplementedError

    async def fetch(self, conn: Any, sql: str, **params: Any) -> Sequence[Sequence[Any]]:
        raise NotImplementedError


class Postgres(Database):
    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: Any = None
        self._compiled: dict[str, tuple[str, list[str]]] = {}

    async def start(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.url, min_size=2, max_size=PG_POOL_SIZE)

    async def stop(self) -> None:
        await self.pool.close()

    def connection(self) -> Any:
        return self.pool.acquire()

    def _compile(self, sql: str) -> tuple[str, list[str]]:
        found = self._compiled.get(sql)
        if found is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in names:
                    names.append(name)
                index = names.index(name) + 1
                return f"${index}::int[]" if name == "orders" else f"${index}"

            text = sql.replace("IN (:orders)", "= ANY(:orders)")
            found = self._compiled[sql] = (_PARAM.sub(number, text), names)
        return found

    async def fetch(self, conn: Any, sql: str, **params: Any) -> Sequence[Sequence[Any]]:
        text, names = self._compile(sql)
        self.statements += 1
        rows: Sequence[Sequence[Any]] = await conn.fetch(text, *(params[n] for n in names))
        return rows

    async def answer(self, operation: str, viewer: int, argument: Any) -> bytes | None:
        """The whole answer of ``operation`` as PostgreSQL wrote it; None: no such viewer."""
        return await self.written(STATEMENTS[operation], viewer, argument)

    async def written(self, sql: str, viewer: int, *parameters: Any) -> bytes | None:
        """The answer ``sql`` writes for ``viewer``; None: no such viewer."""
        self.statements += 1
        async with self.pool.acquire() as conn:
            found: str | None = await conn.fetchval(sql, viewer, *parameters)
        return None if found is None else b'{"data":' + found.encode() + b"}"


class SQLite(Database):
    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.all: list[Any] = []

    async def start(self) -> None:
        import aiosqlite

        for _ in range(SQLITE_CONNECTIONS):
            conn = await aiosqlite.connect(self.path)
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA busy_timeout=5000")
            self.all.append(conn)
            self.idle.put_nowait(conn)

    async def stop(self) -> None:
        for conn in self.all:
            await conn.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        conn = await self.idle.get()
        try:
            yield conn
        finally:
            self.idle.put_nowait(conn)

    async def fetch(self, conn: Any, sql: str, **params: Any) -> Sequence[Sequence[Any]]:
        values: list[Any] = []

        def bind(match: re.Match[str]) -> str:
            value = params[match.group(1)]
            if isinstance(value, list):
                values.extend(value)
                return ", ".join("?" * len(value)) or "NULL"
            values.append(value)
            return "?"

        text = _PARAM.sub(bind, sql)
        self.statements += 1
        async with conn.execute(text, values) as cur:
            rows: Sequence[Sequence[Any]] = await cur.fetchall()
            return rows


async def order_center_page(db: Database, viewer: int, first: int) -> dict[str, Any] | None:
    async with db.connection() as conn:
        head = await db.fetch(conn, PAGE_SQL["viewer"], viewer=viewer)
        if not head:
            return None
        orders = await db.fetch(conn, PAGE_SQL["orders"], viewer=viewer, limit=first + 1)
        page = orders[:first]
        ids = [o[0] for o in page]
        items = await db.fetch(conn, PAGE_SQL["items"], viewer=viewer, orders=ids)
        payments = await db.fetch(conn, PAGE_SQL["payments"], viewer=viewer, orders=ids)
        shipments = await db.fetch(conn, PAGE_SQL["shipments"], orders=ids)
        events = await db.fetch(conn, PAGE_SQL["events"], orders=ids)
        returns = await db.fetch(conn, PAGE_SQL["returns"], orders=ids)
        reviews = await db.fetch(conn, PAGE_SQL["reviews"], orders=ids)
        recommendations = await db.fetch(
            conn, PAGE_SQL["recommendations"], viewer=viewer, limit=10, false=False
        )

    handle, display_name, role = head[0][0], head[0][1], head[0][2]
    counts = dict.fromkeys(TABS, 0)
    total = 0
    for row in head:
        if row[3] is not None:
            counts[TAB_OF[row[3]]] += row[4]
            total += row[4]
            for tab, listed_count in zip(MEMBERSHIP_TABS, row[5:], strict=True):
                counts[tab.value] += listed_count

    items_of: dict[int, list[Any]] = defaultdict(list)
    units_of: dict[int, int] = defaultdict(int)
    returns_of: dict[int, list[Any]] = defaultdict(list)
    for r in returns:
        returns_of[r[0]].append(r)
    reviews_of: dict[int, list[Any]] = defaultdict(list)
    for r in reviews:
        reviews_of[r[0]].append(r)
    for i in items:
        units_of[i[0]] += i[3]
        items_of[i[0]].append(
            {
                "id": global_id("OrderItem", i[1]),
                "title": i[2],
                "quantity": i[3],
                "unitPrice": money(i[4], i[5]),
                "product": {
                    "id": global_id("Product", i[6]),
                    "title": i[7],
                    "viewerHasTagged": bool(i[9]),
                    "shop": {"name": i[8]},
                },
            }
        )
    payments_of: dict[int, list[Any]] = defaultdict(list)
    statuses_of: dict[int, set[str]] = defaultdict(set)
    for p in payments:
        statuses_of[p[0]].add(p[2])
        payments_of[p[0]].append(
            {
                "id": global_id("Payment", p[1]),
                "status": p[2],
                "amount": {"amount": money(p[3], p[4])["amount"]},
                "method": None if p[5] is None else {"last4": p[5]},
            }
        )
    shipment_of: dict[int, dict[str, Any]] = {}
    delivered_of: dict[int, Any] = {}
    for s in shipments:
        shipment = shipment_of.get(s[0])
        delivered_of[s[0]] = s[6]
        if shipment is None:
            shipment = shipment_of[s[0]] = {
                "carrier": s[1],
                "trackingNumber": s[2],
                "events": [],
            }
        if s[3] is not None:
            shipment["events"].append({"kind": s[3], "happenedAt": utc(s[4]), "location": s[5]})
    timeline_of: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        timeline_of[e[0]].append(
            {
                "id": global_id("OrderEvent", e[1]),
                "cursor": cursor("orderEvents", e[1], e[1]),
                "fromStatus": e[2],
                "toStatus": e[3],
                "orderVersion": e[4],
                "actor": e[5],
                "occurredAt": utc(e[6]),
            }
        )
    operator = role == "operator"
    edges = []
    for o in page:
        placed_at = utc(o[4])
        order_cursor = cursor("orders", placed_at, o[0])
        edges.append(
            {
                "cursor": order_cursor,
                "node": {
                    "id": global_id("Order", o[0]),
                    "number": o[1],
                    "status": o[2],
                    "tab": TAB_OF[o[2]],
                    "paymentStatus": payment_status(statuses_of.get(o[0], set())),
                    "version": o[3],
                    "placedAt": placed_at,
                    "availableActions": _actions(
                        o[2],
                        operator or o[9] == viewer,
                        returns_of.get(o[0], []),
                        delivered_of.get(o[0]),
                        units_of[o[0]],
                        len(items_of.get(o[0], [])),
                        reviews_of.get(o[0], []),
                        viewer,
                    ),
                    "total": money(o[5], o[6]),
                    "shop": {"id": global_id("Shop", o[7]), "name": o[8]},
                    "items": items_of.get(o[0], []),
                    "payments": payments_of.get(o[0], []),
                    "shipment": shipment_of.get(o[0]),
                    "timeline": timeline_of.get(o[0], []),
                },
            }
        )
    return {
        "handle": handle,
        "displayName": display_name,
        "orderTabs": [{"tab": tab, "count": n} for tab, n in counts.items()],
        "orders": {
            "totalCount": total,
            "pageInfo": {
                "hasNextPage": len(orders) > first,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        },
        "recommendations": {
            "edges": [
                {
                    "node": {
                        "id": global_id("Recommendation", r[0]),
                        "score": r[1],
                        "reason": r[2],
                        "product": {
                            "id": global_id("Product", r[3]),
                            "title": r[4],
                            "imageUrl": r[5],
                            "price": money(r[6], r[7]),
                        },
                        "basedOn": None
                        if r[8] is None
                        else {"id": global_id("Product", r[8]), "title": r[9]},
                    }
                }
                for r in recommendations
            ]
        },
    }


async def order_detail(db: Database, viewer: int, number: str) -> dict[str, Any] | None:
    async with db.connection() as conn:
        found = await db.fetch(conn, DETAIL_SQL["order"], viewer=viewer, number=number)
        if not found:
            return None
        o = found[0]
        items = await db.fetch(conn, DETAIL_SQL["items"], order=o[0])
        payments = await db.fetch(conn, DETAIL_SQL["payments"], viewer=viewer, order=o[0])
        shipment_rows = await db.fetch(conn, DETAIL_SQL["shipment"], order=o[0])
        events = await db.fetch(conn, DETAIL_SQL["events"], order=o[0])
        returns = await db.fetch(conn, DETAIL_SQL["returns"], order=o[0])
        reviews = await db.fetch(conn, DETAIL_SQL["reviews"], order=o[0])
    currency = o[7]
    shipment = None
    if shipment_rows:
        s = shipment_rows[0]
        shipment = {
            "carrier": s[0],
            "trackingNumber": s[1],
            "shippedAt": utc(s[2]),
            "deliveredAt": utc(s[3]),
            "estimatedDelivery": utc(s[4]),
            "events": [
                {"kind": r[5], "location": r[6], "message": r[7], "happenedAt": utc(r[8])}
                for r in shipment_rows
                if r[5] is not None
            ],
        }
    return {
        "id": global_id("Order", o[0]),
        "number": o[1],
        "status": o[2],
        "tab": TAB_OF[o[2]],
        "paymentStatus": payment_status({p[1] for p in payments}),
        "version": o[3],
        "cancelReason": o[4],
        "placedAt": utc(o[5]),
        "updatedAt": utc(o[6]),
        "availableActions": _actions(
            o[2],
            o[24] == "operator" or o[23] == viewer,
            returns,
            shipment_rows[0][3] if shipment_rows else None,
            sum(i[2] for i in items),
            len(items),
            reviews,
            viewer,
        ),
        "subtotal": money(o[8], currency),
        "shippingFee": money(o[9], currency),
        "tax": money(o[10], currency),
        "total": money(o[11], currency),
        "shippingAddress": {
            "name": o[12],
            "line1": o[13],
            "line2": o[14],
            "city": o[15],
            "region": o[16],
            "postalCode": o[17],
            "countryCode": o[18],
            "phone": o[19],
        },
        "shop": {"id": global_id("Shop", o[20]), "handle": o[21], "name": o[22]},
        "items": [
            {
                "id": global_id("OrderItem", i[0]),
                "title": i[1],
                "quantity": i[2],
                "sourceVideoId": i[5],
                "unitPrice": money(i[3], i[4]),
                "total": money(i[3] * i[2], i[4]),
                "product": {
                    "id": global_id("Product", i[6]),
                    "title": i[7],
                    "imageUrl": i[8],
                    "price": money(i[9], i[10]),
                    "shop": {"id": global_id("Shop", i[11]), "name": i[12]},
                },
            }
            for i in items
        ],
        "payments": [
            {
                "id": global_id("Payment", p[0]),
                "status": p[1],
                "createdAt": utc(p[2]),
                "amount": money(p[3], p[4]),
                "method": None if p[6] is None else {"brand": p[5], "last4": p[6]},
            }
            for p in payments
        ],
        "shipment": shipment,
        "timeline": [
            {
                "id": global_id("OrderEvent", e[0]),
                "cursor": cursor("orderEvents", e[0], e[0]),
                "fromStatus": e[1],
                "toStatus": e[2],
                "orderVersion": e[3],
                "actor": e[4],
                "note": e[5],
                "occurredAt": utc(e[6]),
            }
            for e in events
        ],
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


UNAUTHENTICATED = {"errors": [{"message": "Sign in first."}], "data": None}


def app_factory() -> Starlette:
    url = plain_url(os.environ["ORDERCENTER_DATABASE_URL"])
    secret = os.environ["ORDERCENTER_JWT_SECRET"]
    db: Database = (
        SQLite(url.split("sqlite:///", 1)[1]) if url.startswith("sqlite") else Postgres(url)
    )

    async def page(request: Request) -> Response:
        viewer = viewer_of(request.headers.get("authorization"), secret)
        if viewer is None:
            return _json(UNAUTHENTICATED)
        args = orjson.loads(await request.body())
        result = await order_center_page(db, viewer, int(args.get("first", 20)))
        return _json(UNAUTHENTICATED if result is None else {"data": {"viewer": result}})

    async def order(request: Request) -> Response:
        viewer = viewer_of(request.headers.get("authorization"), secret)
        if viewer is None:
            return _json(UNAUTHENTICATED)
        args = orjson.loads(await request.body())
        result = await order_detail(db, viewer, str(args["number"]))
        return _json({"data": {"viewer": {"order": result}}})

    def in_sql(operation: str, argument: str, default: Any, kind: type) -> Any:
        async def endpoint(request: Request) -> Response:
            viewer = viewer_of(request.headers.get("authorization"), secret)
            if viewer is None:
                return _json(UNAUTHENTICATED)
            if not isinstance(db, Postgres):
                return _json({"errors": [{"message": "PostgreSQL only."}]}, status=404)
            args = orjson.loads(await request.body())
            found = await db.answer(operation, viewer, kind(args.get(argument, default)))
            if found is None:
                return _json(UNAUTHENTICATED)
            return Response(found, media_type="application/json")

        return endpoint

    async def example(request: Request) -> Response:
        """An examples/ read operation, its variables as the body (bench/floor_examples.py)."""
        viewer = viewer_of(request.headers.get("authorization"), secret)
        if viewer is None:
            return _json(UNAUTHENTICATED)
        made = EXAMPLES.get(request.path_params["operation"])
        if made is None or not isinstance(db, Postgres):
            return _json({"errors": [{"message": "No such operation here."}]}, status=404)
        statement = made(orjson.loads(await request.body()))
        found = await db.written(statement.sql, viewer, *statement.parameters)
        if found is None:
            return _json(UNAUTHENTICATED)
        return Response(found, media_type="application/json")

    async def healthz(_: Request) -> Response:
        return _json({"status": "ok"})

    async def statements(_: Request) -> Response:
        return _json({"statements": db.statements})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await db.start()
        try:
            yield
        finally:
            await db.stop()

    return Starlette(
        routes=[
            Route("/page", page, methods=["POST"]),
            Route("/order", order, methods=["POST"]),
            Route("/sql/page", in_sql("page", "first", 20, int), methods=["POST"]),
            Route("/sql/order", in_sql("order", "number", "", str), methods=["POST"]),
            Route("/sql/activity", in_sql("activity", "first", 10, int), methods=["POST"]),
            Route("/sql/example/{operation}", example, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/__bench/statements", statements, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

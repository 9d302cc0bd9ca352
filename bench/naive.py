"""The naive implementation: the benchmark's schema subset, resolved field by field.

What a tutorial-style Strawberry server does: every relation is a resolver that opens
a session and runs its own query (no dataloaders, no batching), on the same SQLModel
tables, engine settings and Strawberry/Starlette/uvicorn stack as our server. It
answers bench.queries.ORDER_CENTER_PAGE and ORDER_DETAIL with the same JSON.
``GET /__bench/statements`` answers how many statements it has run so far (an
SQLAlchemy cursor-execute listener; BEGIN/COMMIT are not counted).

    ORDERCENTER_DATABASE_URL=… ORDERCENTER_JWT_SECRET=… \
        uvicorn --factory bench.naive:app_factory
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import strawberry
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.shapes import (
    COUNTED_RETURNS,
    TAB_OF,
    TABS,
    cursor,
    global_id,
    order_actions,
    payment_status,
    viewer_of,
)
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Order as OrderRow
from db.models import OrderEvent as OrderEventRow
from db.models import OrderItem as OrderItemRow
from db.models import OrderReturn as ReturnRow
from db.models import Payment as PaymentRow
from db.models import PaymentMethod as PaymentMethodRow
from db.models import Product as ProductRow
from db.models import Recommendation as RecommendationRow
from db.models import ReturnLine as ReturnLineRow
from db.models import Review as ReviewRow
from db.models import Shipment as ShipmentRow
from db.models import ShipmentEvent as ShipmentEventRow
from db.models import Shop as ShopRow
from db.models import TaggedItem as TaggedItemRow
from db.models import User as UserRow
from domain.money import Money as DomainMoney
from resolvers.activity import recommendation_is_shown
from resolvers.orders import MEMBERSHIP_TABS


class Ctx:
    def __init__(self, sessions: SessionFactory, viewer_id: int | None) -> None:
        self.sessions = sessions
        self.viewer_id = viewer_id


Info = strawberry.Info[Ctx, None]


async def _all(info: Info, statement: Any) -> list[Any]:
    async with info.context.sessions() as session:
        return list((await session.execute(statement)).scalars().all())


async def _one(info: Info, statement: Any) -> Any:
    async with info.context.sessions() as session:
        return (await session.execute(statement)).scalars().first()


@strawberry.type
class Money:
    amount: Decimal
    currency_code: str

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=DomainMoney(minor, currency).decimal_amount, currency_code=currency)


@strawberry.type
class Shop:
    id: strawberry.ID
    handle: str
    name: str

    @classmethod
    def from_row(cls, row: ShopRow) -> Shop:
        return cls(
            id=strawberry.ID(global_id("Shop", row.id or 0)), handle=row.handle, name=row.name
        )


async def _shop(info: Info, shop_id: int) -> Shop:
    return Shop.from_row(await _one(info, select(ShopRow).where(ShopRow.id == shop_id)))


@strawberry.type
class Product:
    id: strawberry.ID
    title: str
    image_url: str | None
    price: Money
    row: strawberry.Private[ProductRow]

    @classmethod
    def from_row(cls, row: ProductRow) -> Product:
        return cls(
            id=strawberry.ID(global_id("Product", row.id or 0)),
            title=row.title,
            image_url=row.image_url,
            price=Money.of(row.price_minor, row.currency),
            row=row,
        )

    @strawberry.field
    async def shop(self, info: Info) -> Shop:
        return await _shop(info, self.row.shop_id)

    @strawberry.field
    async def viewer_has_tagged(self, info: Info) -> bool:
        found = await _one(
            info,
            select(TaggedItemRow).where(
                TaggedItemRow.user_id == info.context.viewer_id,
                TaggedItemRow.product_id == self.row.id,
            ),
        )
        return found is not None


async def _product(info: Info, product_id: int) -> Product:
    return Product.from_row(await _one(info, select(ProductRow).where(ProductRow.id == product_id)))


@strawberry.type
class OrderItem:
    id: strawberry.ID
    title: str
    quantity: int
    unit_price: Money
    total: Money
    source_video_id: str | None
    row: strawberry.Private[OrderItemRow]

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await _product(info, self.row.product_id)


@strawberry.type
class PaymentMethod:
    id: strawberry.ID
    brand: str
    last4: str


@strawberry.type
class Payment:
    id: strawberry.ID
    status: str
    created_at: datetime
    amount: Money
    row: strawberry.Private[PaymentRow]

    @strawberry.field
    async def method(self, info: Info) -> PaymentMethod | None:
        if self.row.payment_method_id is None:
            return None
        row = await _one(
            info, select(PaymentMethodRow).where(PaymentMethodRow.id == self.row.payment_method_id)
        )
        if row is None or row.user_id != info.context.viewer_id:
            return None
        return PaymentMethod(
            id=strawberry.ID(global_id("PaymentMethod", row.id)), brand=row.brand, last4=row.last4
        )


@strawberry.type
class ShipmentEvent:
    kind: str
    location: str | None
    message: str | None
    happened_at: datetime


@strawberry.type
class Shipment:
    carrier: str
    tracking_number: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: datetime | None
    row: strawberry.Private[ShipmentRow]

    @strawberry.field
    async def events(self, info: Info) -> list[ShipmentEvent]:
        rows = await _all(
            info,
            select(ShipmentEventRow)
            .where(ShipmentEventRow.shipment_id == self.row.id)
            .order_by(ShipmentEventRow.happened_at, ShipmentEventRow.id),
        )
        return [
            ShipmentEvent(
                kind=r.kind, location=r.location, message=r.message, happened_at=r.happened_at
            )
            for r in rows
        ]


@strawberry.type
class OrderEvent:
    id: strawberry.ID
    cursor: str
    from_status: str | None
    to_status: str
    order_version: int
    actor: str
    note: str | None
    occurred_at: datetime


@strawberry.type
class Address:
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country_code: str
    phone: str | None


@strawberry.type
class Order:
    id: strawberry.ID
    number: str
    status: str
    tab: str
    version: int
    cancel_reason: str | None
    placed_at: datetime
    updated_at: datetime
    subtotal: Money
    shipping_fee: Money
    tax: Money
    total: Money
    shipping_address: Address
    row: strawberry.Private[OrderRow]

    @classmethod
    def from_row(cls, row: OrderRow) -> Order:
        return cls(
            id=strawberry.ID(global_id("Order", row.id or 0)),
            number=row.number,
            status=row.status,
            tab=TAB_OF[row.status],
            version=row.version,
            cancel_reason=row.cancel_reason,
            placed_at=row.placed_at,
            updated_at=row.updated_at,
            subtotal=Money.of(row.subtotal_minor, row.currency),
            shipping_fee=Money.of(row.shipping_minor, row.currency),
            tax=Money.of(row.tax_minor, row.currency),
            total=Money.of(row.total_minor, row.currency),
            shipping_address=Address(
                name=row.ship_name,
                line1=row.ship_line1,
                line2=row.ship_line2,
                city=row.ship_city,
                region=row.ship_region,
                postal_code=row.ship_postal_code,
                country_code=row.ship_country_code,
                phone=row.ship_phone,
            ),
            row=row,
        )

    async def _payments(self, info: Info) -> list[PaymentRow]:
        return await _all(
            info,
            select(PaymentRow)
            .where(PaymentRow.order_id == self.row.id)
            .order_by(PaymentRow.created_at, PaymentRow.id),
        )

    @strawberry.field
    async def payment_status(self, info: Info) -> str:
        return payment_status({p.status for p in await self._payments(info)})

    @strawberry.field
    async def shop(self, info: Info) -> Shop:
        return await _shop(info, self.row.shop_id)

    @strawberry.field
    async def items(self, info: Info) -> list[OrderItem]:
        rows = await _all(
            info,
            select(OrderItemRow)
            .where(OrderItemRow.order_id == self.row.id)
            .order_by(OrderItemRow.id),
        )
        return [
            OrderItem(
                id=strawberry.ID(global_id("OrderItem", r.id)),
                title=r.title,
                quantity=r.quantity,
                unit_price=Money.of(r.unit_price_minor, r.currency),
                total=Money.of(r.unit_price_minor * r.quantity, r.currency),
                source_video_id=r.source_video_id,
                row=r,
            )
            for r in rows
        ]

    @strawberry.field
    async def payments(self, info: Info) -> list[Payment]:
        return [
            Payment(
                id=strawberry.ID(global_id("Payment", r.id)),
                status=r.status,
                created_at=r.created_at,
                amount=Money.of(r.amount_minor, r.currency),
                row=r,
            )
            for r in await self._payments(info)
        ]

    @strawberry.field
    async def shipment(self, info: Info) -> Shipment | None:
        row = await _one(info, select(ShipmentRow).where(ShipmentRow.order_id == self.row.id))
        if row is None:
            return None
        return Shipment(
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            shipped_at=row.shipped_at,
            delivered_at=row.delivered_at,
            estimated_delivery=row.estimated_delivery,
            row=row,
        )

    @strawberry.field
    async def timeline(self, info: Info) -> list[OrderEvent]:
        rows = await _all(
            info,
            select(OrderEventRow)
            .where(OrderEventRow.order_id == self.row.id)
            .order_by(OrderEventRow.id),
        )
        return [
            OrderEvent(
                id=strawberry.ID(global_id("OrderEvent", r.id)),
                cursor=cursor("orderEvents", r.id, r.id),
                from_status=r.from_status,
                to_status=r.to_status,
                order_version=r.order_version,
                actor=r.actor,
                note=r.note,
                occurred_at=r.occurred_at,
            )
            for r in rows
        ]

    @strawberry.field
    async def available_actions(self, info: Info) -> list[str]:
        viewer = await _one(info, select(UserRow).where(UserRow.id == info.context.viewer_id))
        shop = await _one(info, select(ShopRow).where(ShopRow.id == self.row.shop_id))
        seller = viewer.role == "operator" or shop.owner_id == viewer.id
        returns = await _all(info, select(ReturnRow).where(ReturnRow.order_id == self.row.id))
        returned = 0
        for r in returns:
            if r.status in COUNTED_RETURNS:
                lines = await _all(
                    info, select(ReturnLineRow).where(ReturnLineRow.return_id == r.id)
                )
                returned += sum(line.quantity for line in lines)
        shipment = await _one(info, select(ShipmentRow).where(ShipmentRow.order_id == self.row.id))
        items = await _all(info, select(OrderItemRow).where(OrderItemRow.order_id == self.row.id))
        unreviewed = 0
        own_reviews_posted_at = []
        for i in items:
            review = await _one(info, select(ReviewRow).where(ReviewRow.order_item_id == i.id))
            if review is None:
                unreviewed += 1
            elif review.user_id == viewer.id:
                own_reviews_posted_at.append(review.posted_at)
        return order_actions(
            self.row.status,
            seller,
            [r.status for r in returns],
            None if shipment is None else shipment.delivered_at,
            sum(i.quantity for i in items),
            returned,
            unreviewed,
            own_reviews_posted_at,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo
    user_id: strawberry.Private[int]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        async with info.context.sessions() as session:
            statement = select(func.count()).where(OrderRow.user_id == self.user_id)
            return int((await session.execute(statement)).scalar_one())


@strawberry.type
class OrderTabCount:
    tab: str
    count: int


@strawberry.type
class Recommendation:
    id: strawberry.ID
    score: float
    reason: str
    row: strawberry.Private[RecommendationRow]

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await _product(info, self.row.product_id)

    @strawberry.field
    async def based_on(self, info: Info) -> Product | None:
        if self.row.based_on_product_id is None:
            return None
        return await _product(info, self.row.based_on_product_id)


@strawberry.type
class RecommendationEdge:
    cursor: str
    node: Recommendation


@strawberry.type
class RecommendationConnection:
    edges: list[RecommendationEdge]


def _page_info(cursors: list[str], more: bool) -> PageInfo:
    return PageInfo(
        has_next_page=more,
        has_previous_page=False,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type
class User:
    id: strawberry.ID
    handle: str
    display_name: str
    row: strawberry.Private[UserRow]

    @strawberry.field
    async def order_tabs(self, info: Info) -> list[OrderTabCount]:
        async with info.context.sessions() as session:
            statement = (
                select(OrderRow.status, func.count())
                .where(OrderRow.user_id == self.row.id)
                .group_by(OrderRow.status)
            )
            rows = (await session.execute(statement)).all()
        counts = dict.fromkeys(TABS, 0)
        for status, n in rows:
            counts[TAB_OF[status]] += int(n)
        # The lists by a rule of their own (to review, returns): a count each.
        for tab, listed in MEMBERSHIP_TABS.items():
            async with info.context.sessions() as session:
                statement = (
                    select(func.count())
                    .select_from(OrderRow)
                    .where(OrderRow.user_id == self.row.id, text(listed("orders")))
                )
                counts[tab.value] = int((await session.execute(statement)).scalar_one())
        return [OrderTabCount(tab=tab, count=n) for tab, n in counts.items()]

    @strawberry.field
    async def orders(self, info: Info, first: int = 20) -> OrderConnection:
        rows = await _all(
            info,
            select(OrderRow)
            .where(OrderRow.user_id == self.row.id)
            .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())  # type: ignore[attr-defined]
            .limit(first + 1),
        )
        page = rows[:first]
        cursors = [cursor("orders", r.placed_at, r.id) for r in page]
        return OrderConnection(
            edges=[
                OrderEdge(cursor=c, node=Order.from_row(r))
                for c, r in zip(cursors, page, strict=True)
            ],
            page_info=_page_info(cursors, len(rows) > first),
            user_id=self.row.id or 0,
        )

    @strawberry.field
    async def order(self, info: Info, number: str) -> Order | None:
        row = await _one(
            info,
            select(OrderRow).where(OrderRow.number == number, OrderRow.user_id == self.row.id),
        )
        return None if row is None else Order.from_row(row)

    @strawberry.field
    async def recommendations(self, info: Info, first: int = 20) -> RecommendationConnection:
        rows = await _all(
            info,
            select(RecommendationRow)
            .where(
                RecommendationRow.user_id == self.row.id,
                text(recommendation_is_shown("recommendations")),
            )
            .order_by(RecommendationRow.score.desc(), RecommendationRow.id.desc())  # type: ignore[attr-defined]
            .limit(first),
        )
        return RecommendationConnection(
            edges=[
                RecommendationEdge(
                    cursor=cursor("recommendations", r.score, r.id),
                    node=Recommendation(
                        id=strawberry.ID(global_id("Recommendation", r.id)),
                        score=r.score,
                        reason=r.reason,
                        row=r,
                    ),
                )
                for r in rows
            ]
        )


@strawberry.type
class Query:
    @strawberry.field
    async def viewer(self, info: Info) -> User:
        row = await _one(info, select(UserRow).where(UserRow.id == info.context.viewer_id))
        if row is None:
            raise PermissionError("Sign in first.")
        return User(
            id=strawberry.ID(global_id("User", row.id)),
            handle=row.handle,
            display_name=row.display_name,
            row=row,
        )


schema = strawberry.Schema(query=Query)


class Counter:
    statements = 0


def _count_statements(engine: AsyncEngine) -> Counter:
    counter = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip()[:8].upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            counter.statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    return counter


def app_factory() -> Starlette:
    """POST /graphql ({query, variables}) with a bearer token; JSON out."""
    secret = os.environ["ORDERCENTER_JWT_SECRET"]
    engine = create_engine(os.environ["ORDERCENTER_DATABASE_URL"])
    counter = _count_statements(engine)
    sessions = create_session_factory(engine)

    async def graphql(request: Request) -> Response:
        viewer = viewer_of(request.headers.get("authorization"), secret)
        body = orjson.loads(await request.body())
        result = await schema.execute(
            body["query"],
            variable_values=body.get("variables"),
            context_value=Ctx(sessions, viewer),
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message, "path": e.path} for e in result.errors]
        return Response(orjson.dumps(out), media_type="application/json")

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def statements(_: Request) -> Response:
        return Response(orjson.dumps({"statements": counter.statements}))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/__bench/statements", statements, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

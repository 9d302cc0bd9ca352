"""The signed-in user and everything the Order Center lists for them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db.models import User as UserRow
from domain import order_status as rules
from resolvers import activity, buy_again, orders
from schema.activity import BuyAgainItem, ProductView, Recommendation, TaggedItem
from schema.common import Connection, Info, Node, connection_of, pk
from schema.declared import FromRow, column, rule
from schema.enums import OrderStatus, OrderTab
from schema.orders import Order
from schema.paging import After, Before, First, Last, page_of
from schema.payments import Payment, PaymentMethod


@strawberry.input(description="Narrows the order list; all given conditions must hold.")
class OrderFilter:
    tab: OrderTab | None = strawberry.field(default=None, description="Only this tab's orders.")
    status: list[OrderStatus] | None = strawberry.field(
        default=None, description="Only orders in one of these statuses; empty or omitted: any."
    )
    placed_after: datetime | None = strawberry.field(
        default=None, description="Only orders placed after this instant."
    )
    placed_before: datetime | None = strawberry.field(
        default=None, description="Only orders placed before this instant."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Matches the order number, item titles, shop name and tracking number.",
    )

    def to_domain(self) -> orders.OrderFilter:
        return orders.OrderFilter(
            tab=None if self.tab is None else rules.OrderTab(self.tab.name),
            statuses=tuple(rules.OrderStatus(s.name) for s in self.status or ()),
            placed_after=self.placed_after,
            placed_before=self.placed_before,
            search=self.search,
        )


@strawberry.type(description="A badge count for one Order Center tab.")
class OrderTabCount:
    tab: OrderTab = strawberry.field(description="The tab.")
    count: int = strawberry.field(description="How many of the viewer's orders it lists.")


@strawberry.type(description="A shopper: the signed-in viewer.")
class User(FromRow, Node):
    handle: str = column("handle", description="Unique public handle.")
    display_name: str = column("display_name", description="Name shown in the app.")
    row: strawberry.Private[UserRow]

    @strawberry.field(
        description="Orders, newest first, keyset-paginated and filterable.",
        metadata=rule("orders"),
    )
    async def orders(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[
            OrderFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
    ) -> Connection[Order]:
        args = page_of(info, orders.ORDERS, first, after, last, before)
        flt = filter.to_domain() if filter is not None else orders.OrderFilter()
        page = await orders.orders_page(info.context, user_id=pk(self.row), flt=flt, args=args)
        return connection_of(page, Order.from_row)  # type: ignore[arg-type]

    @strawberry.field(
        description="One of the user's orders by its number; null if none.",
        metadata=rule("order_by_number"),
    )
    async def order(
        self,
        info: Info,
        number: Annotated[str, strawberry.argument(description="The order number.")],
    ) -> Order | None:
        row = await orders.order_by_number(info.context, user_id=pk(self.row), number=number)
        return None if row is None else Order.from_row(row)

    @strawberry.field(
        description="Badge counts for every Order Center tab, in tab order.",
        metadata=rule("order_tabs"),
    )
    async def order_tabs(self, info: Info) -> list[OrderTabCount]:
        counts = await orders.tab_counts(info.context, user_id=pk(self.row))
        return [OrderTabCount(tab=OrderTab(tab.value), count=count) for tab, count in counts]

    @strawberry.field(
        description="Saved payment methods, default first.", metadata=rule("payment_methods")
    )
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        rows = await activity.payment_methods(info.context, user_id=pk(self.row))
        return [PaymentMethod.from_row(r) for r in rows]

    @strawberry.field(
        description="Payment attempts and refunds, newest first.", metadata=rule("payments")
    )
    async def payments(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Payment]:
        args = page_of(info, activity.PAYMENTS, first, after)
        page = await activity.payments_page(info.context, user_id=pk(self.row), args=args)
        return connection_of(page, Payment.from_row)  # type: ignore[arg-type]

    @strawberry.field(
        description="Products the user tagged, newest first.", metadata=rule("tagged_items")
    )
    async def tagged_items(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[TaggedItem]:
        args = page_of(info, activity.TAGGED, first, after)
        page = await activity.tagged_items_page(info.context, user_id=pk(self.row), args=args)
        return connection_of(page, TaggedItem.from_row)  # type: ignore[arg-type]

    @strawberry.field(
        description="Products the user viewed, most recent first.", metadata=rule("recently_viewed")
    )
    async def recently_viewed(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ProductView]:
        args = page_of(info, activity.VIEWED, first, after)
        page = await activity.recently_viewed_page(info.context, user_id=pk(self.row), args=args)
        return connection_of(page, ProductView.from_row)  # type: ignore[arg-type]

    @strawberry.field(
        description="Products from the user's paid, not cancelled orders that are still on "
        "sale, most recently ordered first, with when and how often each was ordered.",
        metadata=rule("buy_again"),
    )
    async def buy_again(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[BuyAgainItem]:
        args = page_of(info, buy_again.BUY_AGAIN, first, after)
        page = await buy_again.buy_again_page(info.context, user_id=pk(self.row), args=args)
        return connection_of(page, BuyAgainItem.from_row)

    @strawberry.field(
        description="Products recommended to the user, best first.",
        metadata=rule("recommendations"),
    )
    async def recommendations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Recommendation]:
        args = page_of(info, activity.RECOMMENDATIONS, first, after)
        page = await activity.recommendations_page(info.context, user_id=pk(self.row), args=args)
        return connection_of(page, Recommendation.from_row)  # type: ignore[arg-type]

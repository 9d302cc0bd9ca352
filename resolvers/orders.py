"""Reading a buyer's orders: the filtered, keyset-paginated list, tabs and lookups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement
from sqlmodel import SQLModel, col, select

from db.models import Order, OrderItem, OrderReturn, Shipment, Shop
from domain import returns as order_returns
from domain.order_status import OrderStatus, OrderTab, statuses_of_tab, tab_of
from resolvers.context import Context
from resolvers.errors import InvalidArgument
from resolvers.listings import Listing, listing_page
from resolvers.pagination import Page, PageArgs
from resolvers.reviews import awaits_review_sql

ORDERS = Listing("orders", Order, "placed_at", "datetime")
# Longer numbers are never looked up: no order has one (answered as not found).
MAX_ORDER_NUMBER_LENGTH = 64
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True, slots=True)
class OrderFilter:
    tab: OrderTab | None = None
    statuses: Sequence[OrderStatus] = field(default_factory=tuple)
    placed_after: datetime | None = None
    placed_before: datetime | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class Searched:
    """A text column the order search matches: the order's own (``model`` None), or a
    column of rows of ``model`` whose ``joined`` column equals the order's ``on``."""

    column: str
    model: type[SQLModel] | None = None
    joined: str = ""
    on: str = "id"


# What `search` matches: the order number, item titles, shop name and tracking number.
SEARCHED = (
    Searched("number"),
    Searched("title", OrderItem, "order_id"),
    Searched("name", Shop, "id", "shop_id"),
    Searched("tracking_number", Shipment, "order_id"),
)


def _has_return(order: str) -> str:
    """domain.returns.in_returns_tab, over the order row under the alias ``order``."""
    statuses = ", ".join(f"'{s.value}'" for s in sorted(order_returns.TAB_STATUSES))
    # Made of a table name, the alias and the domain's constants only: no input.
    table = OrderReturn.__tablename__
    condition = f"tab_return.order_id = {order}.id AND tab_return.status IN ({statuses})"
    return f"EXISTS (SELECT 1 FROM {table} tab_return WHERE {condition})"  # noqa: S608


# Tabs an order is listed under by a rule of its own, not by its status (whose tab it
# is also under; domain LIST_TABS): the SQL condition over the order's row (by its alias)
# that lists it. The list, the counts and the SQL plans all use it.
MEMBERSHIP_TABS: dict[OrderTab, Callable[[str], str]] = {
    OrderTab.TO_REVIEW: awaits_review_sql,
    OrderTab.RETURNS: _has_return,
}


@dataclass(frozen=True, slots=True)
class FilterTerms:
    """A filter, checked and reduced to what narrows the list (None: not narrowed)."""

    statuses: list[str] | None
    placed_after: datetime | None
    placed_before: datetime | None
    pattern: str | None  # an ILIKE pattern, backslash-escaped
    # A MEMBERSHIP_TABS tab whose condition lists the orders (its value), or None.
    member_of: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_terms(flt: OrderFilter) -> FilterTerms:
    """The filter's terms; InvalidArgument for what the API refuses."""
    statuses: set[OrderStatus] | None = None
    member_of = None
    if flt.tab in MEMBERSHIP_TABS:
        member_of = flt.tab.value
    elif flt.tab is not None:
        statuses = set(statuses_of_tab(flt.tab))
    if flt.statuses:
        wanted = set(flt.statuses)
        statuses = wanted if statuses is None else statuses & wanted
    for name, value in (("placedAfter", flt.placed_after), ("placedBefore", flt.placed_before)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise InvalidArgument(f"`{name}` needs a UTC offset.", argument=f"filter.{name}")
        try:
            value.astimezone(UTC)  # stored in UTC; near year 1 or 9999 it overflows
        except OverflowError:
            raise InvalidArgument(f"`{name}` is out of range.", argument=f"filter.{name}") from None
    pattern = None
    if flt.search is not None and flt.search.strip():
        text = flt.search.strip()
        if len(text) > MAX_SEARCH_LENGTH:
            raise InvalidArgument(
                f"`search` is longer than {MAX_SEARCH_LENGTH} characters.",
                argument="filter.search",
            )
        pattern = _like_pattern(text)
    return FilterTerms(
        statuses=None if statuses is None else sorted(s.value for s in statuses),
        placed_after=flt.placed_after,
        placed_before=flt.placed_before,
        pattern=pattern,
        member_of=member_of,
    )


def _conditions(user_id: int, flt: OrderFilter) -> list[ColumnElement[bool] | sa.TextClause]:
    terms = filter_terms(flt)
    conditions: list[ColumnElement[bool] | sa.TextClause] = [col(Order.user_id) == user_id]
    if terms.statuses is not None:
        conditions.append(col(Order.status).in_(terms.statuses))
    if terms.member_of is not None:
        listed = MEMBERSHIP_TABS[OrderTab(terms.member_of)]
        conditions.append(sa.text(listed(str(Order.__tablename__))))
    if terms.placed_after is not None:
        conditions.append(col(Order.placed_at) > terms.placed_after)
    if terms.placed_before is not None:
        conditions.append(col(Order.placed_at) < terms.placed_before)
    if terms.pattern is not None:
        matches: list[ColumnElement[bool]] = []
        for searched in SEARCHED:
            if searched.model is None:
                matches.append(
                    col(getattr(Order, searched.column)).ilike(terms.pattern, escape="\\")
                )
                continue
            matches.append(
                sa.exists().where(
                    col(getattr(searched.model, searched.joined))
                    == col(getattr(Order, searched.on)),
                    col(getattr(searched.model, searched.column)).ilike(terms.pattern, escape="\\"),
                )
            )
        conditions.append(sa.or_(*matches))
    return conditions


async def orders_page(
    ctx: Context, *, user_id: int, flt: OrderFilter, args: PageArgs
) -> Page[Order]:
    """A page of the buyer's orders, newest first."""
    statement = select(Order).where(*_conditions(user_id, flt))
    page = await listing_page(ctx, ORDERS, owner_id=user_id, args=args, statement=statement)
    for order in page.rows:
        ctx.loaders.order_by_id.prime(order.id, order)
    return page


async def order_by_number(ctx: Context, *, user_id: int, number: str) -> Order | None:
    """The buyer's own order with this number; None for another buyer's or none."""
    if len(number) > MAX_ORDER_NUMBER_LENGTH:
        return None
    statement = select(Order).where(Order.number == number, Order.user_id == user_id)

    async def fetch() -> Order | None:
        rows = await ctx.loaders.reads.rows(statement)
        return rows[0] if rows else None

    order = await ctx.loaders.deferred.run(fetch)
    if order is not None:
        ctx.loaders.order_by_id.prime(order.id, order)
    return order


async def tab_counts(ctx: Context, *, user_id: int) -> list[tuple[OrderTab, int]]:
    """How many orders sit under each tab, every tab present, in tab order."""
    table = str(Order.__tablename__)
    members = [
        sa.func.count().filter(sa.text(listed(table))) for listed in MEMBERSHIP_TABS.values()
    ]
    statement = (
        select(Order.status, sa.func.count(), *members)
        .where(Order.user_id == user_id)
        .group_by(Order.status)
    )

    async def fetch() -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await ctx.loaders.reads.rows(statement)]

    rows = await ctx.loaders.deferred.run(fetch)
    counts = dict.fromkeys(OrderTab, 0)
    for status, count, *member_counts in rows:
        counts[tab_of(OrderStatus(status))] += int(count)
        for tab, member_count in zip(MEMBERSHIP_TABS, member_counts, strict=True):
            counts[tab] += int(member_count)
    return list(counts.items())

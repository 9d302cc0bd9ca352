"""Per-request DataLoaders: one ``IN (...)`` query per batch, results in key order.

Named ``<Target>By<Key>Loader`` as in Saleor. A fresh ``Loaders`` is built for every
request (and every subscription event), so nothing is cached across viewers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, cast, get_type_hints

import sqlalchemy as sa
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from db.models import (
    Order,
    OrderEvent,
    OrderItem,
    OrderReturn,
    Payment,
    PaymentMethod,
    Product,
    Recommendation,
    ReturnLine,
    Review,
    Shipment,
    ShipmentEvent,
    Shop,
    TaggedItem,
    User,
)
from internals import OneOfKeys, cached
from resolvers.batching import BatchScheduler, DeferredQueryLoader, Reads, ScheduledLoader

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

# Well under every driver's bind-parameter limit (SQLite 32,766; asyncpg 32,767).
_CHUNK = 5_000


def _chunks(keys: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


@cache
def _statement(model: type[SQLModel], column: str, order: tuple[str, ...]) -> Select[Any]:
    """``SELECT model WHERE column IN :keys ORDER BY order``, built once per loader kind.

    Built per batch, the statement and its cache key cost more than compiling it: a
    statement reused with a list parameter skips both.
    """
    statement = select(model).where(OneOfKeys(getattr(model, column)))
    return statement.order_by(*(getattr(model, c) for c in order)) if order else statement


async def _fetch(
    reads: Reads, model: type[SQLModel], column: str, keys: Sequence[int], *order: str
) -> list[Any]:
    """The rows whose ``column`` is one of ``keys``, as plain rows, not ORM instances.

    A Core row answers the same attribute names as the model (``row.shop_id``) and is
    built in C; mapping each one into an instance was a tenth of the page query's time.
    """
    statement = _statement(model, column, order)
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(keys))):
        rows.extend(await reads.rows(statement, {"keys": chunk}))
    return rows


@dataclass(frozen=True)
class Relation:
    """What a loader finds for a key: rows of ``model`` whose ``column`` equals it, in
    ``order``; a list of them (``many``) or the one row (None if none). The SQL plans
    join on the same terms (schema.sql_plans)."""

    model: type[SQLModel]
    column: str
    order: tuple[str, ...]
    many: bool


class RowByIdLoader(ScheduledLoader):
    """Rows of one table by primary key; None for ids that do not exist."""

    model: type[SQLModel]

    @classmethod
    def relation(cls) -> Relation:
        return Relation(cls.model, "id", (), many=False)

    def __init__(self, reads: Reads, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler)
        self._reads = reads
        # Rows a one-to-many loader fetched, cached (as a settled future) only once
        # asked for: most of them never are, and a future each cost more than the row.
        self._primed: dict[Any, Any] = {}

    def prime(self, key: Any, value: Any) -> RowByIdLoader:
        if cached(self, key) is None:
            self._primed.setdefault(key, value)
        return self

    def load(self, key: Any) -> asyncio.Future[Any]:
        if self._primed and key in self._primed:
            super().prime(key, self._primed.pop(key))
        return super().load(key)

    def clear(self, key: Any) -> RowByIdLoader:
        self._primed.pop(key, None)
        return super().clear(key)

    def clear_all(self) -> RowByIdLoader:
        self._primed.clear()
        return super().clear_all()

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        rows = await _fetch(self._reads, self.model, "id", keys)
        by_id = {row.id: row for row in rows}
        return [by_id.get(k) for k in keys]


class UserByIdLoader(RowByIdLoader):
    model = User


class ShopByIdLoader(RowByIdLoader):
    model = Shop


class ProductByIdLoader(RowByIdLoader):
    model = Product


class OrderByIdLoader(RowByIdLoader):
    model = Order


class PaymentByIdLoader(RowByIdLoader):
    model = Payment


class PaymentMethodByIdLoader(RowByIdLoader):
    model = PaymentMethod


class OrderItemByIdLoader(RowByIdLoader):
    model = OrderItem


class OrderEventByIdLoader(RowByIdLoader):
    model = OrderEvent


class ShipmentEventByIdLoader(RowByIdLoader):
    model = ShipmentEvent


class TaggedItemByIdLoader(RowByIdLoader):
    model = TaggedItem


class RecommendationByIdLoader(RowByIdLoader):
    model = Recommendation


class ReviewByIdLoader(RowByIdLoader):
    model = Review


class OrderReturnByIdLoader(RowByIdLoader):
    model = OrderReturn


class RowsByParentLoader(ScheduledLoader):
    """One-to-many: the rows whose ``parent_column`` is each key, in ``order`` order.

    Primes ``prime`` (the by-id loader of the same table) with what it fetched, so a
    later lookup by id costs no query.
    """

    model: type[SQLModel]
    parent: str
    order: tuple[str, ...] = ("id",)

    @classmethod
    def relation(cls) -> Relation:
        return Relation(cls.model, cls.parent, cls.order, many=True)

    def __init__(
        self, reads: Reads, scheduler: BatchScheduler, prime: RowByIdLoader | None
    ) -> None:
        super().__init__(scheduler)
        self._reads = reads
        self._prime = prime

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Any]]:
        rows = await _fetch(self._reads, self.model, self.parent, keys, *self.order)
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, self.parent)].append(row)
            if self._prime is not None:
                self._prime.prime(row.id, row)
        return [grouped.get(k, []) for k in keys]


class ItemsByOrderIdLoader(RowsByParentLoader):
    model = OrderItem
    parent = "order_id"


class PaymentsByOrderIdLoader(RowsByParentLoader):
    model = Payment
    parent = "order_id"
    order = ("created_at", "id")


class EventsByOrderIdLoader(RowsByParentLoader):
    """An order's timeline, oldest first."""

    model = OrderEvent
    parent = "order_id"


class ReturnsByOrderIdLoader(RowsByParentLoader):
    """An order's returns, oldest first."""

    model = OrderReturn
    parent = "order_id"


class ReturnLinesByReturnIdLoader(RowsByParentLoader):
    """A return's lines, in the order they were asked for."""

    model = ReturnLine
    parent = "return_id"


class ShipmentEventsByShipmentIdLoader(RowsByParentLoader):
    """Carrier scans, oldest first."""

    model = ShipmentEvent
    parent = "shipment_id"
    order = ("happened_at", "id")


class ShipmentByOrderIdLoader(ScheduledLoader):
    """An order's shipment, or None before it ships."""

    @classmethod
    def relation(cls) -> Relation:
        return Relation(Shipment, "order_id", (), many=False)

    def __init__(self, reads: Reads, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler)
        self._reads = reads

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        rows = await _fetch(self._reads, Shipment, "order_id", keys)
        by_order = {row.order_id: row for row in rows}
        return [by_order.get(k) for k in keys]


class ReviewByOrderItemIdLoader(ScheduledLoader):
    """A line's review, or None before it is reviewed."""

    @classmethod
    def relation(cls) -> Relation:
        return Relation(Review, "order_item_id", (), many=False)

    def __init__(self, reads: Reads, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler)
        self._reads = reads

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        rows = await _fetch(self._reads, Review, "order_item_id", keys)
        by_item = {row.order_item_id: row for row in rows}
        return [by_item.get(k) for k in keys]


_RATINGS = (
    select(col(Review.product_id), sa.func.sum(col(Review.rating)), sa.func.count())
    .where(OneOfKeys(col(Review.product_id)))
    .group_by(col(Review.product_id))
)


class RatingByProductIdLoader(ScheduledLoader):
    """(sum of ratings, how many) of each product's reviews; (0, 0) for none. A rule of
    its own (domain.reviews.average_rating finishes it), not a relation."""

    def __init__(self, reads: Reads, scheduler: BatchScheduler) -> None:
        super().__init__(scheduler)
        self._reads = reads

    async def batch_load_fn(self, keys: Sequence[int]) -> list[tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        for chunk in _chunks(sorted(set(keys))):
            for product_id, total, count in await self._reads.rows(_RATINGS, {"keys": chunk}):
                found[product_id] = (int(total), int(count))
        return [found.get(k, (0, 0)) for k in keys]


_TAGGED = select(col(TaggedItem.product_id)).where(
    col(TaggedItem.user_id) == bindparam("viewer"),
    OneOfKeys(col(TaggedItem.product_id)),
)


class ViewerTaggedProductLoader(ScheduledLoader):
    """Whether the viewer has tagged each product id; False for anonymous callers."""

    def __init__(self, reads: Reads, scheduler: BatchScheduler, viewer_id: int | None) -> None:
        super().__init__(scheduler)
        self._reads = reads
        self._viewer_id = viewer_id

    async def batch_load_fn(self, keys: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False for _ in keys]
        tagged: set[int] = set()
        for chunk in _chunks(sorted(set(keys))):
            rows = await self._reads.rows(_TAGGED, {"viewer": self._viewer_id, "keys": chunk})
            tagged.update(row[0] for row in rows)
        return [k in tagged for k in keys]


def relation_of(loader: str) -> Relation | None:
    """The relation ``Loaders.<loader>`` loads; None for a loader that is a rule of its
    own (whether the viewer tagged a product)."""
    made = getattr(Loaders, loader, None)
    if not isinstance(made, cached_property):
        raise AttributeError(f"Loaders has no loader {loader!r}")
    loader_class = get_type_hints(made.func)["return"]
    relation = getattr(loader_class, "relation", None)
    return None if relation is None else cast(Relation, relation())


class Loaders:
    """Every loader of one request. Build a new one per request; never share it.

    Each loader is made on first use: a subscription event or a small query pays
    only for the loaders it touches.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        viewer_id: int | None,
        scheduler: BatchScheduler,
        *,
        reads: Reads | None = None,
    ) -> None:
        """``reads``: where the loaders' statements run, if not on the scheduler's own
        connection (a subscribe's checks share theirs: resolvers/subscriptions/checks.py)."""
        self.sessions = sessions
        self.scheduler = scheduler
        self.viewer_id = viewer_id
        self.reads = scheduler.reads if reads is None else reads

    @cached_property
    def deferred(self) -> DeferredQueryLoader:
        return DeferredQueryLoader(self.scheduler)

    @cached_property
    def user_by_id(self) -> UserByIdLoader:
        return UserByIdLoader(self.reads, self.scheduler)

    @cached_property
    def shop_by_id(self) -> ShopByIdLoader:
        return ShopByIdLoader(self.reads, self.scheduler)

    @cached_property
    def product_by_id(self) -> ProductByIdLoader:
        return ProductByIdLoader(self.reads, self.scheduler)

    @cached_property
    def order_by_id(self) -> OrderByIdLoader:
        return OrderByIdLoader(self.reads, self.scheduler)

    @cached_property
    def payment_by_id(self) -> PaymentByIdLoader:
        return PaymentByIdLoader(self.reads, self.scheduler)

    @cached_property
    def payment_method_by_id(self) -> PaymentMethodByIdLoader:
        return PaymentMethodByIdLoader(self.reads, self.scheduler)

    @cached_property
    def order_item_by_id(self) -> OrderItemByIdLoader:
        return OrderItemByIdLoader(self.reads, self.scheduler)

    @cached_property
    def order_event_by_id(self) -> OrderEventByIdLoader:
        return OrderEventByIdLoader(self.reads, self.scheduler)

    @cached_property
    def shipment_event_by_id(self) -> ShipmentEventByIdLoader:
        return ShipmentEventByIdLoader(self.reads, self.scheduler)

    @cached_property
    def tagged_item_by_id(self) -> TaggedItemByIdLoader:
        return TaggedItemByIdLoader(self.reads, self.scheduler)

    @cached_property
    def recommendation_by_id(self) -> RecommendationByIdLoader:
        return RecommendationByIdLoader(self.reads, self.scheduler)

    @cached_property
    def review_by_id(self) -> ReviewByIdLoader:
        return ReviewByIdLoader(self.reads, self.scheduler)

    @cached_property
    def review_by_order_item_id(self) -> ReviewByOrderItemIdLoader:
        return ReviewByOrderItemIdLoader(self.reads, self.scheduler)

    @cached_property
    def rating_by_product_id(self) -> RatingByProductIdLoader:
        return RatingByProductIdLoader(self.reads, self.scheduler)

    @cached_property
    def order_return_by_id(self) -> OrderReturnByIdLoader:
        return OrderReturnByIdLoader(self.reads, self.scheduler)

    @cached_property
    def returns_by_order_id(self) -> ReturnsByOrderIdLoader:
        return ReturnsByOrderIdLoader(self.reads, self.scheduler, self.order_return_by_id)

    @cached_property
    def return_lines_by_return_id(self) -> ReturnLinesByReturnIdLoader:
        return ReturnLinesByReturnIdLoader(self.reads, self.scheduler, None)

    @cached_property
    def items_by_order_id(self) -> ItemsByOrderIdLoader:
        return ItemsByOrderIdLoader(self.reads, self.scheduler, self.order_item_by_id)

    @cached_property
    def payments_by_order_id(self) -> PaymentsByOrderIdLoader:
        return PaymentsByOrderIdLoader(self.reads, self.scheduler, self.payment_by_id)

    @cached_property
    def events_by_order_id(self) -> EventsByOrderIdLoader:
        return EventsByOrderIdLoader(self.reads, self.scheduler, self.order_event_by_id)

    @cached_property
    def shipment_by_order_id(self) -> ShipmentByOrderIdLoader:
        return ShipmentByOrderIdLoader(self.reads, self.scheduler)

    @cached_property
    def shipment_events_by_shipment_id(self) -> ShipmentEventsByShipmentIdLoader:
        return ShipmentEventsByShipmentIdLoader(self.reads, self.scheduler, None)

    @cached_property
    def viewer_tagged_product(self) -> ViewerTaggedProductLoader:
        return ViewerTaggedProductLoader(self.reads, self.scheduler, self.viewer_id)

    def forget_order(self, order_id: int) -> None:
        """Drop what this request cached about an order it has just changed."""
        for name in (
            "order_by_id",
            "items_by_order_id",
            "payments_by_order_id",
            "events_by_order_id",
            "shipment_by_order_id",
            "returns_by_order_id",
        ):
            if name in self.__dict__:  # a loader never made has nothing cached
                self.__dict__[name].clear(order_id)

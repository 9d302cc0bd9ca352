"""Shared API shapes: Node, Money, Address, PageInfo and generic Relay connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType

from domain.money import Money as DomainMoney
from resolvers.context import Context
from resolvers.ids import to_global_id
from resolvers.pagination import Page

Info = strawberry.Info[Context, None]

T = TypeVar("T")


@strawberry.interface(description="An object with a global, opaque id (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global, opaque id.")


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="The amount in major units, exact, serialized as a string ('19.99')."
    )
    currency_code: str = strawberry.field(description="ISO 4217 currency code.")

    @classmethod
    def of(cls, amount_minor: int, currency: str) -> Money:
        money = DomainMoney(amount_minor, currency)
        return cls(amount=money.decimal_amount, currency_code=money.currency)


@strawberry.type(description="A postal address.")
class Address:
    name: str = strawberry.field(description="Recipient's name.")
    line1: str = strawberry.field(description="Street address.")
    line2: str | None = strawberry.field(description="Apartment, suite, unit.")
    city: str = strawberry.field(description="City or town.")
    region: str | None = strawberry.field(description="State, province or region.")
    postal_code: str = strawberry.field(description="Postal or ZIP code.")
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    phone: str | None = strawberry.field(description="Contact phone for the carrier.")


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after`/`before` to page from here.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds, across pages.")
    async def total_count(self) -> int:
        return await self.count()


def connection_of(page: Page[object], wrap: Callable[[object], T]) -> Connection[T]:
    edges = [Edge(cursor=c, node=wrap(r)) for r, c in zip(page.rows, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=page.count,
    )


class _HasId(Protocol):
    id: int | None


def pk(row: _HasId) -> int:
    """A stored row's primary key (never None once it has been read from the database)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has not been stored yet")
    return row.id


def global_id(type_name: str, row: _HasId) -> strawberry.ID:
    return strawberry.ID(to_global_id(type_name, pk(row)))


@dataclass(frozen=True, slots=True)
class Loaded:
    """A field that is one loader's value for a column of its object's row, then a plain
    function.

    Written this way, the field resolves one object at a time on graphql-core's path, a
    whole level at once in a compiled plan (schema.plans), and as a join in an SQL plan
    (schema.sql_plans: the loader says which table, column and order), from one
    definition. ``sql`` names the SQL generator of a field whose ``finish`` is a domain
    rule (a policy, a summary) rather than the rows themselves.
    """

    loader: str  # the attribute of Loaders
    key_column: str  # the column of the object's row that is the loader's key
    finish: Callable[..., Any]  # (object, loaded value[, context]) -> the field's value
    with_context: bool
    sql: str | None = None
    # (column, values): the key is used only when the row's column holds one of the
    # values, else the field is None (``subject``: an event's row by the event's kind).
    when: tuple[str, frozenset[str]] | None = None

    def key(self, source: Any) -> Any:
        row = source.row
        when = self.when
        if when is not None and getattr(row, when[0]) not in when[1]:
            return None
        return getattr(row, self.key_column)


def _resolver(spec: Loaded, name: str, module: str, doc: str | None) -> Callable[..., Any]:
    loader, key_column, finish, with_context = (
        spec.loader,
        spec.key_column,
        spec.finish,
        spec.with_context,
    )

    when = spec.when

    async def resolve(self: Any, info: Info) -> Any:
        context = info.context
        row = self.row
        found = getattr(row, key_column)
        if when is not None and getattr(row, when[0]) not in when[1]:
            found = None
        value = None if found is None else await getattr(context.loaders, loader).load(found)
        if with_context:
            return finish(self, value, context)
        return finish(self, value)

    # What Strawberry reads off a resolver: its name, module (the namespace its
    # annotations resolve in) and the annotations of (self, info) [-> return].
    resolve.__name__ = resolve.__qualname__ = name
    resolve.__module__ = module
    resolve.__doc__ = doc
    resolve.__annotations__ = {"info": Info}
    setattr(resolve, "loaded", spec)  # noqa: B010
    return resolve


def loaded(
    loader: str, key: str, *, with_context: bool = False, sql: str | None = None
) -> Callable[[Callable[..., T]], Callable[..., Awaitable[T]]]:
    """Make ``finish(self, value)`` (or ``finish(self, value, context)``) a resolver that
    loads ``value`` with ``loaders.<loader>.load(self.row.<key>)``; None when the key is
    None. ``sql`` names the SQL generator of what ``finish`` decides."""

    def decorate(finish: Callable[..., T]) -> Callable[..., Awaitable[T]]:
        spec = Loaded(loader, key, finish, with_context, sql)
        resolve = _resolver(spec, finish.__name__, finish.__module__, finish.__doc__)
        resolve.__annotations__["return"] = finish.__annotations__["return"]
        return resolve

    return decorate


def _concrete(type_: Any) -> Any:
    # A lazy reference (strawberry.lazy) names its class; the class is what builds.
    return type_.resolve_type() if isinstance(type_, LazyType) else type_


def related(
    loader: str,
    key: str,
    *,
    description: str,
    when: tuple[str, frozenset[str]] | None = None,
) -> Any:
    """A field that is the object(s) ``loaders.<loader>`` finds for ``self.row.<key>``,
    each shown as the field's type (its ``from_row``); None stays None. With ``when``
    (column, values): None unless the row's column holds one of the values."""
    made: list[StrawberryField] = []

    def finish(_: Any, value: Any) -> Any:
        target = _concrete(made[0].type)
        if isinstance(target, StrawberryOptional):
            target = _concrete(target.of_type)
        if isinstance(target, StrawberryList):
            item = _concrete(target.of_type)
            return [item.from_row(row) for row in value]
        return None if value is None else target.from_row(value)

    spec = Loaded(loader, key, finish, with_context=False, when=when)
    name = f"related_{loader}" if when is None else f"subject_{loader}"
    resolve = _resolver(spec, name, __name__, None)
    field: StrawberryField = strawberry.field(resolver=resolve, description=description)
    made.append(field)
    return field


def subject(
    loader: str,
    *,
    kinds: Iterable[str],
    description: str,
    key: str = "subject_id",
    kind_column: str = "kind",
) -> Any:
    """An event's subject: the row ``loaders.<loader>`` finds for the event row's
    ``subject_id`` when its ``kind`` is one of ``kinds`` (``domain.order_events``), shown
    as the field's (nullable) type; null for every other kind, whose subject is a row of
    another table. Declared once, it resolves alike on every path: graphql-core's, the
    compiled plans' (``Loaded.key``) and the SQL plans' (a join on the same key, under
    the same kinds)."""
    return related(loader, key, description=description, when=(kind_column, frozenset(kinds)))

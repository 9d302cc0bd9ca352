"""The lists the Order Center pages through, declared once.

A listing is a user's rows of one table, newest (or best) first by ``(key, id)``, with
the rows a user no longer sees left out. The resolvers page through it
(``listing_page``) and the SQL plans write the same list as one subquery
(schema.sql_plans), both from this declaration. A list of aggregates (buy again: one
row per product bought) names the statement that makes its rows (``rows``); both paths
read that statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import SQLModel, col, select

from resolvers.context import Context
from resolvers.pagination import KeyKind, Page, PageArgs, paginate


@dataclass(frozen=True)
class Listing:
    name: str  # the list's name in its cursors
    model: type[SQLModel]
    key: str  # the sort column, descending; ties by id, descending
    key_kind: KeyKind
    owner: str = "user_id"
    # Rows are listed only where this SQL condition over the row (by its alias) holds.
    condition: Callable[[str], str] | None = None
    # The statement whose rows are listed instead of ``model``'s (which it aggregates):
    # every owner's, with the columns ``owner``, ``key`` and ``id``.
    rows: Callable[[], Any] | None = None

    def statement(self, owner_id: int) -> Any:
        if self.rows is not None:
            made = self.rows().subquery(self.name)
            return select(made).where(made.c[self.owner] == owner_id)
        conditions: list[Any] = [col(getattr(self.model, self.owner)) == owner_id]
        if self.condition is not None:
            conditions.append(text(self.condition(str(self.model.__tablename__))))
        return select(self.model).where(*conditions)


async def listing_page(
    ctx: Context, listing: Listing, *, owner_id: int, args: PageArgs, statement: Any = None
) -> Page[Any]:
    """A page of ``listing`` (or of ``statement``, its rows narrowed further)."""
    statement = listing.statement(owner_id) if statement is None else statement
    if listing.rows is None:
        key = col(getattr(listing.model, listing.key))
        pk = col(listing.model.id)  # type: ignore[attr-defined]  # every listed table has one
    else:
        key, pk = statement.selected_columns[listing.key], statement.selected_columns.id
    return await paginate(
        ctx.loaders.reads,
        ctx.loaders.deferred.run,
        statement,
        list_name=listing.name,
        key=key,
        pk=pk,
        args=args,
        key_of=lambda row: getattr(row, listing.key),
        pk_of=lambda row: row.id,
    )

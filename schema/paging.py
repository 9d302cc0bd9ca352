"""The Relay paging arguments every connection field takes, and their checked form."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.listings import Listing
from resolvers.pagination import PageArgs, page_args
from schema.common import Info

First = Annotated[
    int | None, strawberry.argument(description="Page size from the start; at most 100.")
]
After = Annotated[str | None, strawberry.argument(description="Cursor to continue after.")]
Last = Annotated[
    int | None, strawberry.argument(description="Page size from the end; at most 100.")
]
Before = Annotated[str | None, strawberry.argument(description="Cursor to continue before.")]


def page_of(
    info: Info,
    listing: Listing,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> PageArgs:
    """The page asked of ``listing``: its cursors read as its own, sizes as configured."""
    return page_args(
        list_name=listing.name,
        key_kind=listing.key_kind,
        first=first,
        after=after,
        last=last,
        before=before,
        default_size=info.context.default_page_size,
        max_size=info.context.max_page_size,
    )

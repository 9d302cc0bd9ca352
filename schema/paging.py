"""The Relay paging arguments every connection field takes, and their checked form."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.listings import Listing
from resolvers.pagination import MAX_PAGE_SIZE, PageArgs, page_args
from schema.common import Info

_LIMIT = f"at most {MAX_PAGE_SIZE} (the server's default)"
First = Annotated[
    int | None, strawberry.argument(description=f"Page size from the start; {_LIMIT}.")
]
After = Annotated[str | None, strawberry.argument(description="Cursor to continue after.")]
Last = Annotated[int | None, strawberry.argument(description=f"Page size from the end; {_LIMIT}.")]
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
